"""What inference observes of each customer, as plain NumPy arrays (no JAX here)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Float, Int

__all__ = ["Observations"]


class Observations(NamedTuple):
    """What inference observes of N customers (D departments); a pytree of arrays.

    Built by :func:`personagen.data.observations_from_table` (or, for simulated
    customers, :func:`personagen.checks.observations_from_chunks`); inference
    moves it to the device once.

    Attributes
    ----------
    n_orders : ndarray of int32, shape (N,)
        Orders per customer (at least one).
    units : ndarray of int32, shape (N,)
        Units bought (at least ``n_orders``).
    department_units : ndarray of int32, shape (N, D)
        Units per department, summing to ``units``.
    revenue : ndarray of float32, shape (N,)
        Total revenue in currency units (positive).
    department_revenue : ndarray of float32, shape (N, D)
        Revenue per department in currency units (how the revenue splits: the price
        levels' observable).
    lifetime_months : ndarray of float32, shape (N,)
        Months from the first order to the as-of date.
    recency_days : ndarray of float32, shape (N,)
        Days from the last order to the as-of date (the lifetime in days for one order).
    return_rate : ndarray of float32, shape (N,)
        Share of value returned, in (0, 1); NaN where unknown (its term is dropped).
    """

    n_orders: Int[np.ndarray, " customers"]
    units: Int[np.ndarray, " customers"]
    department_units: Int[np.ndarray, "customers departments"]
    revenue: Float[np.ndarray, " customers"]
    department_revenue: Float[np.ndarray, "customers departments"]
    lifetime_months: Float[np.ndarray, " customers"]
    recency_days: Float[np.ndarray, " customers"]
    return_rate: Float[np.ndarray, " customers"]

    @property
    def n_customers(self) -> int:
        """N, the number of customers."""
        return int(np.shape(self.n_orders)[0])
