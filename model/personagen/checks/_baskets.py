"""What a transactions table looks like over time and inside its baskets.

:func:`transaction_profile` summarises line items, real or synthetic, the same way:
the weekday and hour shares of orders, value by calendar month, lines and
departments per order, the days between a customer's consecutive orders, and the
lift of department pairs inside baskets. ``notebooks/transactions_vs_real.ipynb``
compares a fit's look-alike lines with The Complete Journey's through it, and the
transactions tests check the shipped priors' baskets with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from personagen.data import TransactionColumns
from personagen.data._timing_estimate import order_index
from personagen.data._transactions import check_columns, numeric_column, parse_dates
from personagen.errors import DataError, Problem
from personagen.sample._order_times import SECONDS_PER_DAY

__all__ = ["TransactionProfile", "pair_lift", "transaction_profile"]

#: Department pairs bought together in at least this share of baskets get a lift.
MIN_PAIR_SUPPORT = 0.01


@dataclass(frozen=True)
class TransactionProfile:
    """Summaries of one transactions table (an order's time is its first line's).

    Attributes
    ----------
    n_customers, n_orders, n_lines : int
    weekday : ndarray, shape (7,)
        Share of orders by weekday, Mon..Sun.
    hour : ndarray, shape (24,)
        Share of orders by local hour.
    monthly_value : pandas.Series
        Value of the lines by calendar month (a monthly ``Period`` index).
    monthly_exposure : pandas.Series
        Customer-days of each month of ``monthly_value`` between a customer's first and
        last order (both days counted): spend per active customer-day separates the
        season from customers joining and leaving.
    lines_per_order, departments_per_order : ndarray of int64, shape (n_orders,)
    inter_purchase_days : ndarray, shape (n_orders - n_customers,)
        Days from each order to the customer's next one.
    pair_lift : pandas.DataFrame
        :func:`pair_lift` of the baskets.
    """

    n_customers: int
    n_orders: int
    n_lines: int
    weekday: np.ndarray
    hour: np.ndarray
    monthly_value: pd.Series
    monthly_exposure: pd.Series
    lines_per_order: np.ndarray
    departments_per_order: np.ndarray
    inter_purchase_days: np.ndarray
    pair_lift: pd.DataFrame


def co_occurrence(
    basket: np.ndarray, department: np.ndarray, n_departments: int | None = None
) -> tuple[np.ndarray, int]:
    """Baskets holding each pair of departments (diagonal: each department), and baskets.

    ``basket`` (0..B-1) and ``department`` (0..D-1) are integer codes of each line; a
    department bought on several lines of a basket counts once.
    """
    n_baskets = int(basket.max()) + 1 if basket.size else 0
    if n_departments is None:
        n_departments = int(department.max()) + 1 if department.size else 0
    # a sparse 0/1 basket x department matrix: exact integer counts at any size
    matrix = sparse.coo_matrix(
        (np.ones(basket.size, np.int64), (basket, department)), shape=(n_baskets, n_departments)
    ).tocsr()
    matrix.data[:] = 1
    return (matrix.T @ matrix).toarray().astype(np.float64), n_baskets


def pair_lift(
    order: np.ndarray, department: np.ndarray, min_support: float = MIN_PAIR_SUPPORT
) -> pd.DataFrame:
    """Lift of the department pairs bought together in at least ``min_support`` of baskets.

    Parameters
    ----------
    order, department : array-like, shape (n_lines,)
        Each line's order and department (any labels).
    min_support : float
        Least share of baskets holding both departments of a pair.

    Returns
    -------
    pandas.DataFrame
        ``department_a, department_b`` (a < b in first-seen order), ``support`` (share
        of baskets with both) and ``lift`` (support over the product of the two
        departments' basket shares: 1 for departments bought independently).
    """
    rows, _ = pd.factorize(np.asarray(order))
    cols, names = pd.factorize(np.asarray(department))
    counts, n_baskets = co_occurrence(rows, cols, len(names))
    share = np.diag(counts) / max(n_baskets, 1)
    together = counts / max(n_baskets, 1)
    a, b = np.triu_indices(len(names), 1)
    keep = together[a, b] >= min_support
    a, b = a[keep], b[keep]
    return pd.DataFrame(
        {
            "department_a": np.asarray(names)[a],
            "department_b": np.asarray(names)[b],
            "support": together[a, b],
            "lift": together[a, b] / (share[a] * share[b]),
        }
    )


def transaction_profile(
    lines: pd.DataFrame,
    *,
    columns: TransactionColumns = TransactionColumns(),
    min_pair_support: float = MIN_PAIR_SUPPORT,
    source: str = "<transactions>",
) -> TransactionProfile:
    """Summarise a transactions table (see :class:`TransactionProfile`).

    ``columns`` names the customer, order, date (a timestamp), department and value
    columns: ``TransactionColumns(date="timestamp")`` for personagen's own lines.

    Raises
    ------
    DataError
        An empty table, missing columns, unparseable dates, bad values.
    """
    roles = ("customer", "order", "date", "department", "value")
    if lines.empty:
        raise DataError([Problem(source, "", "the table has no rows")])
    check_columns(lines, columns, source, roles=roles)
    time = parse_dates(lines, columns.date, source).to_numpy().astype("datetime64[s]")
    customer = pd.factorize(lines[columns.customer])[0].astype(np.int64)
    order = order_index(lines[columns.customer], lines[columns.order])
    department = pd.factorize(lines[columns.department])[0].astype(np.int64)
    n_orders = int(order.max()) + 1
    seconds = time.astype(np.int64)
    start = pd.Series(seconds).groupby(order).min().to_numpy()
    owner = np.zeros(n_orders, np.int64)
    owner[order] = customer
    n_departments = int(department.max()) + 1
    distinct = np.unique(order * n_departments + department) // n_departments
    by_time = np.lexsort((start, owner))
    same = owner[by_time][1:] == owner[by_time][:-1]
    gaps = np.diff(start[by_time])[same] / SECONDS_PER_DAY
    order_time = pd.to_datetime(start, unit="s")
    value = numeric_column(lines, columns.value, source)
    month = time.astype("datetime64[M]")
    monthly = pd.Series(value).groupby(month).sum()
    monthly.index = pd.PeriodIndex(monthly.index, freq="M")
    order_day = start // SECONDS_PER_DAY
    first = pd.Series(order_day).groupby(owner).min().to_numpy()
    last = pd.Series(order_day).groupby(owner).max().to_numpy()
    months = monthly.index.to_timestamp().to_numpy().astype("datetime64[D]")
    month_start = months.astype(np.int64)
    month_end = (months.astype("datetime64[M]") + 1).astype("datetime64[D]").astype(np.int64) - 1
    overlap = np.minimum(last[None, :], month_end[:, None]) - np.maximum(
        first[None, :], month_start[:, None]
    )
    exposure = np.clip(overlap + 1, 0, None).sum(axis=1)
    return TransactionProfile(
        n_customers=int(customer.max()) + 1,
        n_orders=n_orders,
        n_lines=len(lines),
        weekday=np.bincount(order_time.day_of_week, minlength=7) / n_orders,
        hour=np.bincount(order_time.hour, minlength=24) / n_orders,
        monthly_value=monthly,
        monthly_exposure=pd.Series(exposure, index=monthly.index),
        lines_per_order=np.bincount(order, minlength=n_orders),
        departments_per_order=np.bincount(distinct, minlength=n_orders),
        inter_purchase_days=gaps,
        pair_lift=pair_lift(order, lines[columns.department].to_numpy(), min_pair_support),
    )
