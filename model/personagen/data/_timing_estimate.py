"""The store's calendar estimated from real line items: ``population.timing`` from data.

:func:`estimate_timing` turns a transactions table into a validated
:class:`~personagen.config.TimingSpec`: the weekday and hour shares of its orders
and each department's monthly intensity, ready for ``population.timing`` of a
personas file (``yaml.safe_dump(spec.model_dump(mode="json"))``) or for
:func:`~personagen.config.with_timing`. An order's time is that of its first line.

Every share is smoothed by a pseudo-count per cell (``smoothing``), so a weekday or
hour without orders keeps a small positive share; a department's monthly intensity
is its lines per day of the month (days inside the data's span), each department given
``12 x smoothing`` pseudo-lines spread over the covered months by the store's monthly
pattern, then scaled to mean 1 (months the data do not cover are flat). Lines, not
value, measure intensity: a few large tickets would otherwise decide a department's
season. Departments without lines stay flat (they are left out of ``seasonality``).
"""

from __future__ import annotations

import zoneinfo
from typing import Literal

import numpy as np
import pandas as pd

from personagen.config import DAY_NAMES, ProductHierarchy, TimingSpec
from personagen.data._transactions import (
    DepartmentMapping,
    TransactionColumns,
    check_columns,
    map_department_index,
    parse_dates,
)
from personagen.errors import DataError, Problem, bad_argument

__all__ = ["estimate_timing", "map_departments", "order_index"]

#: Decimals of the estimated shares (24 hours rounded to 5 decimals stay within the
#: profiles' sum tolerance of 1e-3) and of the monthly intensities.
SHARE_DECIMALS = 5
INTENSITY_DECIMALS = 3


def map_departments(
    table: pd.DataFrame,
    hierarchy: ProductHierarchy,
    *,
    columns: TransactionColumns = TransactionColumns(),
    mapping: DepartmentMapping | None = None,
    unmapped: Literal["error", "other"] = "error",
    source: str = "<transactions>",
) -> pd.DataFrame:
    """Return a copy of ``table`` whose department column holds hierarchy names.

    The same rules as :func:`~personagen.data.transactions_to_customers`: names in the
    mapping file are sent to their targets, hierarchy names stay, the rest are an
    error or go to the mapping's ``other`` department.

    Raises
    ------
    DataError
        A missing department column, or unmapped names (listed with their row counts).
    """
    check_columns(table, columns, source, roles=("department",))
    names = table[columns.department].astype(str)
    index = map_department_index(names, hierarchy, mapping, unmapped, columns.department, source)
    out = table.copy()
    out[columns.department] = np.asarray(hierarchy.departments, dtype=object)[index]
    return out


def order_index(customer: pd.Series, order: pd.Series) -> np.ndarray:
    """Return each line's order as an integer 0..O-1.

    An order is a (customer, order id) pair: order ids need be unique only per customer.
    """
    who = pd.factorize(customer)[0].astype(np.int64)
    what = pd.factorize(order)[0].astype(np.int64)
    return np.unique(who * (what.max() + 1) + what, return_inverse=True)[1].astype(np.int64)


def _shares(counts: np.ndarray, smoothing: float) -> list[float]:
    smoothed = counts + smoothing
    shares = np.round(smoothed / smoothed.sum(), SHARE_DECIMALS)
    return [float(s) for s in shares]


def _month_exposure(days: pd.Series) -> np.ndarray:
    """Days of each calendar month (Jan..Dec) inside the span of ``days``."""
    span = pd.date_range(days.min(), days.max(), freq="D")
    return np.bincount(span.month - 1, minlength=12).astype(np.float64)


def _seasonality(
    month: np.ndarray, dept: np.ndarray, hierarchy: ProductHierarchy, exposure: np.ndarray, a: float
) -> dict[str, list[float]]:
    counts = np.zeros((hierarchy.n_departments, 12))
    np.add.at(counts, (dept, month), 1.0)
    store = counts.sum(axis=0)
    covered = exposure > 0
    pattern = np.where(covered, store / store.sum(), 0.0)
    out = {}
    for d, name in enumerate(hierarchy.departments):
        if counts[d].sum() == 0:
            continue
        rate = np.full(12, np.nan)
        rate[covered] = (counts[d, covered] + a * 12 * pattern[covered]) / exposure[covered]
        rate[~covered] = np.nanmean(rate)
        out[name] = [float(r) for r in np.round(rate / rate.mean(), INTENSITY_DECIMALS)]
    return out


def estimate_timing(
    table: pd.DataFrame,
    hierarchy: ProductHierarchy,
    *,
    columns: TransactionColumns = TransactionColumns(),
    mapping: DepartmentMapping | None = None,
    unmapped: Literal["error", "other"] = "error",
    time_zone: str | None = None,
    smoothing: float = 1.0,
    base: TimingSpec | None = None,
    source: str = "<transactions>",
) -> TimingSpec:
    """Estimate the store's weekday, hour and seasonal profiles from line items.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per line item with the customer, order, date (a timestamp: its
        clock time gives the hours) and department columns of ``columns``.
    hierarchy : ProductHierarchy
        The departments of the configuration the profile is for.
    columns, mapping, unmapped
        As for :func:`~personagen.data.transactions_to_customers`.
    time_zone : str, optional
        IANA name of the timestamps' local time (recorded in the result); by default
        ``base``'s. Timestamps that carry a zone are read as their wall-clock times.
    smoothing : float
        Pseudo-orders per weekday and per hour; ``12 x smoothing`` pseudo-lines per
        department, spread over the months by the store's pattern.
    base : TimingSpec, optional
        The timing the estimate replaces (e.g. ``config.personas.population.timing``):
        the basket keys (``order_mix_sd``, ``basket_size_sd``, ``line_price_sd``), the
        time zone when none is given and the hours when the data have no clock times
        come from it; the defaults otherwise.
    source : str
        File name for error messages.

    Returns
    -------
    TimingSpec
        Validated, with a ``note`` that says what it was estimated from. Without clock
        times (every line at midnight) ``hour_of_day`` is ``base``'s (the note says so).

    Raises
    ------
    DataError
        Empty table, missing columns, unparseable dates, unmapped department names.
    ParameterError
        A negative ``smoothing``, an unknown ``time_zone``.
    """
    if not smoothing >= 0:
        raise bad_argument("smoothing", f"expected a number >= 0, got {smoothing}")
    base = base or TimingSpec()
    zone = time_zone if time_zone is not None else base.time_zone
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        expected = "expected an IANA name such as 'Europe/London'"
        raise bad_argument("time_zone", f"unknown time zone {zone!r}: {expected}") from None
    if table.empty:
        raise DataError([Problem(source, "", "the table has no rows")])
    check_columns(table, columns, source, roles=("customer", "order", "date", "department"))
    dates = parse_dates(table, columns.date, source)
    dept = map_department_index(
        table[columns.department].astype(str),
        hierarchy,
        mapping,
        unmapped,
        columns.department,
        source,
    )
    order = order_index(table[columns.customer], table[columns.order])
    order_time = dates.groupby(order).min()
    weekday = np.bincount(order_time.dt.day_of_week, minlength=7).astype(np.float64)
    hours = np.bincount(order_time.dt.hour, minlength=24).astype(np.float64)
    has_clock = bool((dates != dates.dt.normalize()).any())
    day = dates.dt.normalize()
    n_lines, n_orders = len(table), len(order_time)
    note = (
        f"estimated by personagen.data.estimate_timing from {n_lines:,} lines in "
        f"{n_orders:,} orders, {day.min():%Y-%m-%d} to {day.max():%Y-%m-%d}"
        + ("" if has_clock else "; no clock times in the data: hour_of_day kept")
    )
    spec = {
        **base.model_dump(),
        "time_zone": zone,
        "day_of_week": dict(zip(DAY_NAMES, _shares(weekday, smoothing), strict=True)),
        "hour_of_day": _shares(hours, smoothing) if has_clock else list(base.hour_of_day),
        "seasonality": _seasonality(
            dates.dt.month.to_numpy() - 1, dept, hierarchy, _month_exposure(day), smoothing
        ),
        "note": note,
    }
    return TimingSpec.model_validate(spec)
