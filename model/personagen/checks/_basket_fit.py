"""The basket keys of ``population.timing`` estimated from real line items.

:func:`estimate_baskets` chooses ``basket_size_sd`` and ``order_mix_sd`` so that the
sampler's own basket step (:mod:`personagen.sample._baskets`), run on the real
customers' department units and real order dates, reproduces two figures of the real
baskets (:func:`basket_statistics`):

* the **median lift** of the department pairs bought together in at least
  :data:`~personagen.checks._baskets.MIN_PAIR_SUPPORT` of the real baskets
  (``basket_size_sd`` drives it: big orders draw units of every department, so
  departments meet); the simulation's lift is taken over the same pairs, so that it
  moves continuously with the keys (which pairs pass the support would jump);
* the mean number of **departments per basket** (``order_mix_sd`` drives it: a mix
  that leans on a few departments spreads a customer's units over fewer of them).

With a ``class_column`` it also estimates ``line_price_sd`` directly: the basket step
prices a customer's lines of one class at ``units x exp(line_price_sd x e)`` around the
customer's class average, so the pooled within-(customer, class) variance of the lines'
log unit prices is ``line_price_sd ** 2`` (:func:`line_price_spread`).

This is simulated (indirect) inference: the two figures have no closed form under the
basket step, which also weighs departments by their season and fills empty orders.
The simulation keeps its random numbers fixed (counter draws keyed by ``seed``), so
both figures are deterministic functions of the two keys; each key is found by
bisection (the lift rises with ``basket_size_sd``, departments per basket fall with
``order_mix_sd``), alternating :data:`ROUNDS` times because each figure moves a little
with the other key. Shopping missions are left out of the simulation (a configuration
with missions gets baskets a little more correlated than estimated).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from personagen.checks._baskets import MIN_PAIR_SUPPORT, co_occurrence
from personagen.config import PersonagenConfig, TimingSpec, build_timing
from personagen.data import DepartmentMapping, TransactionColumns
from personagen.data._timing_estimate import order_index
from personagen.data._transactions import (
    check_columns,
    map_department_index,
    numeric_column,
    parse_dates,
)
from personagen.errors import DataError, Problem, bad_argument, close_match_hint
from personagen.sample._baskets import (
    ASSIGN_STREAM,
    SPARE_STREAM,
    _basket_weights,
    _deal_units,
    _fill_empty_orders,
)
from personagen.sample._counter_rng import counter_uniforms
from personagen.sample._order_times import OrderTimes

__all__ = [
    "BasketEstimate",
    "BasketStatistics",
    "basket_statistics",
    "estimate_baskets",
    "line_price_spread",
]

#: Alternations of the two bisections (each figure moves a little with the other key).
ROUNDS = 3
#: Halvings per bisection: a bracket of 4 (or 3) narrowed to about 0.002.
HALVINGS = 11
#: Brackets searched for ``basket_size_sd`` and ``order_mix_sd``.
BASKET_SIZE_SD_RANGE = (0.0, 4.0)
ORDER_MIX_SD_RANGE = (0.0, 3.0)
#: Decimals of the estimated keys.
KEY_DECIMALS = 3


@dataclass(frozen=True)
class BasketStatistics:
    """What :func:`estimate_baskets` matches: the median pair lift and departments per basket."""

    median_pair_lift: float
    departments_per_basket: float


@dataclass(frozen=True)
class BasketEstimate:
    """The result of :func:`estimate_baskets`.

    Attributes
    ----------
    timing : TimingSpec
        The configuration's timing with ``basket_size_sd`` and ``order_mix_sd`` replaced
        (validated; its ``note`` says what they were estimated from).
    observed : BasketStatistics
        The real baskets' figures (of the customers simulated).
    simulated : BasketStatistics
        The basket step's figures at the estimate, on the same customers.
    n_customers : int
        Customers simulated.
    at_bounds : tuple of str
        Keys whose estimate sits at an end of its search range (``BASKET_SIZE_SD_RANGE``,
        ``ORDER_MIX_SD_RANGE``): the real figure is out of the basket step's reach there
        (e.g. a lift below what seasons alone give); the note says so too.
    """

    timing: TimingSpec
    observed: BasketStatistics
    simulated: BasketStatistics
    n_customers: int
    at_bounds: tuple[str, ...] = ()


def basket_statistics(order: np.ndarray, department: np.ndarray) -> BasketStatistics:
    """Median lift of frequent department pairs and mean departments per basket.

    ``order`` and ``department`` label each line (or unit); a department bought several
    times in one basket counts once. The lift is :func:`pair_lift`'s, over the pairs in
    at least ``MIN_PAIR_SUPPORT`` of baskets (NaN when there are none).
    """
    order = pd.factorize(np.asarray(order))[0]
    department = pd.factorize(np.asarray(department))[0]
    counts, n_baskets = co_occurrence(order, department)
    a, b = np.triu_indices(counts.shape[0], 1)
    keep = counts[a, b] >= MIN_PAIR_SUPPORT * n_baskets
    return _figures(counts, n_baskets, (a[keep], b[keep]))


def _figures(
    counts: np.ndarray, n_baskets: int, pairs: tuple[np.ndarray, np.ndarray]
) -> BasketStatistics:
    a, b = pairs
    share = np.diag(counts) / max(n_baskets, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = counts[a, b] / max(n_baskets, 1) / (share[a] * share[b])
    return BasketStatistics(
        median_pair_lift=float(np.median(lift)) if a.size else float("nan"),
        departments_per_basket=float(share.sum()),
    )


@dataclass(frozen=True)
class _RealCustomers:
    """The real customers' orders and department units, as the basket step takes them."""

    orders: OrderTimes
    department_units: np.ndarray
    unit_owner: np.ndarray
    unit_dept: np.ndarray
    observed: BasketStatistics
    pairs: tuple[np.ndarray, np.ndarray]


def _real_customers(
    table: pd.DataFrame,
    dept: np.ndarray,
    units: np.ndarray,
    columns: TransactionColumns,
    n_departments: int,
    source: str,
) -> _RealCustomers:
    # customers numbered in sorted order: the counter draws do not follow the row order
    labels = table[columns.customer]
    customer = pd.Index(sorted(pd.unique(labels), key=str)).get_indexer(labels).astype(np.int64)
    order = order_index(table[columns.customer], table[columns.order])
    seconds = parse_dates(table, columns.date, source).to_numpy().astype("datetime64[s]")
    start = pd.Series(seconds.astype(np.int64)).groupby(order).min().to_numpy()
    owner = np.zeros(start.size, np.int64)
    owner[order] = customer
    # orders by customer, then time: the basket step's order numbers run in time order
    by_time = np.lexsort((start, owner))
    n_customers = int(customer.max()) + 1
    per_customer = np.bincount(owner, minlength=n_customers)
    offsets = np.concatenate([[0], np.cumsum(per_customer)])
    owner_sorted = owner[by_time]
    orders = OrderTimes(
        owner=owner_sorted,
        number=np.arange(by_time.size) - offsets[owner_sorted] + 1,
        timestamp=start[by_time],
        offsets=offsets,
    )
    department_units = np.zeros((n_customers, n_departments), np.int64)
    np.add.at(department_units, (customer, dept), units)
    counts, n_orders = co_occurrence(order, dept, n_departments)
    a, b = np.triu_indices(n_departments, 1)
    keep = counts[a, b] >= MIN_PAIR_SUPPORT * n_orders
    pairs = (a[keep], b[keep])
    cell = np.repeat(np.arange(department_units.size), department_units.ravel())
    unit_owner, unit_dept = np.divmod(cell, n_departments)
    return _RealCustomers(
        orders=orders,
        department_units=department_units,
        unit_owner=unit_owner,
        unit_dept=unit_dept,
        observed=_figures(counts, n_orders, pairs),
        pairs=pairs,
    )


def line_price_spread(
    customer: np.ndarray, klass: np.ndarray, units: np.ndarray, value: np.ndarray
) -> tuple[float, int]:
    """Pooled within-(customer, class) sd of the lines' log unit prices, and its degrees of freedom.

    Lines of zero units or value are left out; each (customer, class) group with ``n``
    lines contributes ``n - 1`` degrees of freedom (NaN when there are none).
    """
    keep = (np.asarray(units) > 0) & (np.asarray(value) > 0)
    log_price = np.log(np.asarray(value, np.float64)[keep] / np.asarray(units)[keep])
    group = pd.factorize(
        pd.MultiIndex.from_arrays([np.asarray(customer)[keep], np.asarray(klass)[keep]])
    )[0]
    n = np.bincount(group)
    mean = np.bincount(group, weights=log_price) / n
    dof = int(log_price.size - n.size)
    squares = float(np.sum((log_price - mean[group]) ** 2))
    return (float(np.sqrt(squares / dof)) if dof > 0 else float("nan")), dof


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """Return a root of increasing ``f`` in ``[lo, hi]``, or the end it is pushed against."""
    if f(lo) >= 0:
        return lo
    if f(hi) <= 0:
        return hi
    for _ in range(HALVINGS):
        mid = 0.5 * (lo + hi)
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def estimate_baskets(
    table: pd.DataFrame,
    config: PersonagenConfig,
    *,
    columns: TransactionColumns = TransactionColumns(),
    mapping: DepartmentMapping | None = None,
    unmapped: Literal["error", "other"] = "error",
    n_customers: int | None = 2_000,
    class_column: str | None = None,
    seed: int = 0,
    source: str = "<transactions>",
) -> BasketEstimate:
    """Estimate ``basket_size_sd`` and ``order_mix_sd`` from real baskets (see the module doc).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per line item with the customer, order, date, department and units
        columns of ``columns``.
    config : PersonagenConfig
        The configuration the keys are for: its hierarchy maps the departments and its
        seasonality weighs them in the simulation (put an
        :func:`~personagen.data.estimate_timing` result in first with
        :func:`~personagen.config.with_timing`).
    columns, mapping, unmapped
        As for :func:`~personagen.data.transactions_to_customers`.
    n_customers : int or None
        Customers simulated, drawn at random (``seed``) from those in ``table``; None
        takes them all (best when affordable: the median lift of a subset moves with
        which pairs pass the support). The cost is proportional to their units, about
        13 s per million on one core.
    class_column : str, optional
        A column of product classes (any labels, e.g. the data's product category; a
        class is a label within a department): ``line_price_sd`` is then estimated from
        the lines' unit prices (value over units, the ``value`` column of ``columns``)
        within each customer and class, on the same customers; without it
        ``line_price_sd`` is the configuration's.
    seed : int
        Seeds the choice of customers and the simulation's random numbers.
    source : str
        File name for error messages.

    Returns
    -------
    BasketEstimate
        The store-level keys: a persona's own ``order_mix_sd`` in the personas file
        still overrides the estimate (and is not used in the simulation).

    Raises
    ------
    DataError
        An empty table, missing columns (``class_column`` included), lines without a
        customer or order id, unparseable dates, negative units (and values, with
        ``class_column``), unmapped departments, no customer with two lines of
        a class (with ``class_column``), or baskets without any department pair in
        ``MIN_PAIR_SUPPORT`` of them (no lift to match).
    ParameterError
        ``n_customers`` below 2.
    """
    if n_customers is not None and n_customers < 2:
        raise bad_argument(
            "n_customers", f"expected at least 2 customers or None, got {n_customers}"
        )
    if table.empty:
        raise DataError([Problem(source, "", "the table has no rows")])
    check_columns(
        table, columns, source, roles=("customer", "order", "date", "department", "units")
    )
    for role in ("customer", "order"):
        missing = table[getattr(columns, role)].isna()
        if missing.any():
            rows = ", ".join(map(str, table.index[missing][:5]))
            message = f"{int(missing.sum()):,} lines with no {role} id (rows {rows}, ...)"
            raise DataError([Problem(source, getattr(columns, role), message)])
    # sorted, so that the subset does not depend on the table's row order
    ids = np.asarray(sorted(pd.unique(table[columns.customer]), key=str), dtype=object)
    if n_customers is not None and n_customers < ids.size:
        keep = np.random.default_rng(seed).choice(ids.size, n_customers, replace=False)
        table = table[table[columns.customer].isin(ids[np.sort(keep)])]
    hierarchy = config.hierarchy
    dept = map_department_index(
        table[columns.department].astype(str),
        hierarchy,
        mapping,
        unmapped,
        columns.department,
        source,
    )
    raw_units = numeric_column(table, columns.units, source)
    units = np.maximum(np.rint(raw_units), 1).astype(np.int64)
    real = _real_customers(table, dept, units, columns, hierarchy.n_departments, source)
    spec = config.personas.population.timing
    line_price_sd = float(spec.line_price_sd)
    price_note = ""
    if class_column is not None:
        if class_column not in table.columns:
            hint = close_match_hint(class_column, [str(c) for c in table.columns])
            raise DataError([Problem(source, class_column, f"missing class column{hint}")])
        check_columns(table, columns, source, roles=("value",))
        line_price_sd, dof = line_price_spread(
            table[columns.customer].to_numpy(),
            # classes within departments: class names may repeat across departments
            pd.factorize(pd.MultiIndex.from_arrays([dept, table[class_column].to_numpy()]))[0],
            raw_units,
            numeric_column(table, columns.value, source),
        )
        if not np.isfinite(line_price_sd):
            message = "no customer bought two lines of one class: no unit price spread to estimate"
            raise DataError([Problem(source, class_column, message)])
        line_price_sd = round(line_price_sd, KEY_DECIMALS)
        price_note = (
            f"; line_price_sd {line_price_sd} from the lines' log unit prices within "
            f"customer and {class_column!r} ({dof:,} degrees of freedom)"
        )
    target = real.observed
    if not np.isfinite(target.median_pair_lift):
        message = (
            f"no department pair is bought together in {MIN_PAIR_SUPPORT:.0%} of the "
            f"{real.orders.owner.size:,} baskets: there is no lift to match"
        )
        raise DataError([Problem(source, columns.department, message)])
    arrays = build_timing(config)
    arrays = dataclasses.replace(
        arrays,
        mission_departments=arrays.mission_departments[:0],
        mission_months=arrays.mission_months[:0],
        mission_focus=arrays.mission_focus[:0],
        mission_share=arrays.mission_share[:1, :0],
    )
    word = int(np.random.default_rng(seed).integers(2**63))
    n = real.department_units.shape[0]
    customer_ids = np.arange(n, dtype=np.int64)
    persona = np.zeros(n, np.int64)
    counter = np.arange(real.unit_owner.size) - np.searchsorted(real.unit_owner, real.unit_owner)
    u = counter_uniforms(word, ASSIGN_STREAM, real.unit_owner, counter)
    spare = counter_uniforms(word, SPARE_STREAM, real.unit_owner, counter)
    memo: dict[tuple[float, float], BasketStatistics] = {}

    def simulate(size_sd: float, mix_sd: float) -> BasketStatistics:
        if (size_sd, mix_sd) not in memo:
            timing = dataclasses.replace(
                arrays, basket_size_sd=size_sd, order_mix_sd=np.array([mix_sd])
            )
            baskets = _basket_weights(
                real.orders, customer_ids, persona, real.department_units, timing, word
            )
            unit_order = _deal_units(baskets, real.unit_owner, real.unit_dept, u)
            _fill_empty_orders(unit_order, real.unit_owner, spare, real.orders)
            counts, n_orders = co_occurrence(
                unit_order, real.unit_dept, real.department_units.shape[1]
            )
            memo[size_sd, mix_sd] = _figures(counts, n_orders, real.pairs)
        return memo[size_sd, mix_sd]

    size_sd, mix_sd = float(spec.basket_size_sd), float(spec.order_mix_sd)

    def lift_gap(mix: float, size: float) -> float:  # the key searched last, for partial
        return simulate(size, mix).median_pair_lift - target.median_pair_lift

    def breadth_gap(size: float, mix: float) -> float:
        return target.departments_per_basket - simulate(size, mix).departments_per_basket

    for _ in range(ROUNDS):
        size_sd = _bisect(functools.partial(lift_gap, mix_sd), *BASKET_SIZE_SD_RANGE)
        mix_sd = _bisect(functools.partial(breadth_gap, size_sd), *ORDER_MIX_SD_RANGE)
    size_sd, mix_sd = round(size_sd, KEY_DECIMALS), round(mix_sd, KEY_DECIMALS)
    fitted = simulate(size_sd, mix_sd)
    at_bounds = tuple(
        name
        for name, value, bounds in (
            ("basket_size_sd", size_sd, BASKET_SIZE_SD_RANGE),
            ("order_mix_sd", mix_sd, ORDER_MIX_SD_RANGE),
        )
        if value in bounds
    )
    note = (
        f"basket_size_sd and order_mix_sd estimated by personagen.checks.estimate_baskets "
        f"from {n:,} customers' {real.orders.owner.size:,} baskets: median pair lift "
        f"{target.median_pair_lift:.3f} (simulated {fitted.median_pair_lift:.3f}), "
        f"{target.departments_per_basket:.3f} departments per basket (simulated "
        f"{fitted.departments_per_basket:.3f})"
        + "".join(f"; {name} at the end of its search range" for name in at_bounds)
        + price_note
    )
    timing_spec = TimingSpec.model_validate(
        {
            **spec.model_dump(),
            "basket_size_sd": size_sd,
            "order_mix_sd": mix_sd,
            "line_price_sd": line_price_sd,
            "note": f"{spec.note}; {note}" if spec.note else note,
        }
    )
    return BasketEstimate(timing_spec, target, fitted, n, at_bounds)
