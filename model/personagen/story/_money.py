"""Exact money: integer cents split over parts in proportion to their units.

A customer's revenue ``R`` (cents) is split over departments (or classes) by
cumulative units: the cumulative value up to part ``k`` is
``floor(R * cum_units_k / U)``, so part values are integers, never negative, and
sum to ``R`` exactly. The arithmetic is int32 throughout and exact as long as
``(R mod U) * cum_units < 2**31``, i.e. fewer than :data:`MAX_UNITS` units.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jaxtyping import Int

from personagen.story._samplers import cumsum

__all__ = ["MAX_UNITS", "split_cents"]

#: Exact int32 cents need ``(R % U) * cum_units < 2**31``, i.e. fewer units than this.
MAX_UNITS = 46_341


def _cum_cents(revenue_cents: Array, cum_units: Array, units: Array) -> Array:
    """Exact ``floor(revenue * cum_units / units)`` in int32 without overflow."""
    q = revenue_cents // units
    r = revenue_cents % units
    return q[..., None] * cum_units + (r[..., None] * cum_units) // units[..., None]


def _diff0(cum: Array) -> Array:
    return jnp.diff(jnp.concatenate([jnp.zeros_like(cum[..., :1]), cum], axis=-1), axis=-1)


def split_cents(
    revenue_cents: Int[Array, "*batch"],
    part_units: Int[Array, "*batch parts"],
    units: Int[Array, "*batch"],
) -> Int[Array, "*batch parts"]:
    """Split ``revenue_cents`` over parts in proportion to ``part_units``, exactly.

    Parameters
    ----------
    revenue_cents : Array of int32, shape (...)
        Total value in cents.
    part_units : Array of int32, shape (..., K)
        Units of each part; they sum to ``units``.
    units : Array of int32, shape (...)
        Total units (positive, below :data:`MAX_UNITS`).

    Returns
    -------
    Array of int32, shape (..., K)
        Cents per part, summing exactly to ``revenue_cents``.
    """
    return _diff0(_cum_cents(revenue_cents, cumsum(part_units), units))
