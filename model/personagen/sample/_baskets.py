"""A chunk of customers -> its line items: units to orders, lines, prices and returns.

Everything is drawn given the customer's story (its class units and cents, size
counts, returned cents and order times), so the customer tables are exactly the
roll-up of the lines, by construction:

1. **Orders.** :func:`~personagen.sample._order_times.draw_order_times`.
2. **Baskets.** Each order has a size and its own department mix around the
   customer's: weight ``exp(b * f_o + sd_z * e_od) * season_d(month of o)`` with
   ``f_o`` and ``e_od`` standard normal. Every unit of department ``d`` goes to order
   ``o`` with probability proportional to that weight: big orders draw units of every
   department (department pairs meet in baskets more often than by chance, a lift
   above 1), an order's mix leans on a few departments, and seasonal departments
   sell in their months. A **mission** order (a persona's share of its orders in the
   mission's months, for customers who bought in its departments) weighs the mission's
   departments ``focus`` times more and the others ``focus`` times less: a
   back-to-school or Christmas-gift trip. An order left empty takes one unit
   (at random) from an order that has two or more: every order has at least one.
3. **Sizes.** The customer's baby, child and adult size counts are dealt at random
   over its units in sized departments.
4. **Lines.** One line per order, class and size; its units are the units dealt there.
5. **Prices.** The customer's cents of a class are split over that class's lines in
   proportion to ``units * exp(line_price_sd * e)`` (a unit price around the class's
   average), exactly, by largest remainders.
6. **Returns.** The customer's returned cents are taken from its lines in a random
   order: whole lines while they fit, then part of one (a partial refund), so the
   returned values add up to the customer's to the cent.

Draws come from :mod:`personagen.sample._counter_rng`, keyed by the customer index
and a counter inside the customer: a customer's lines do not depend on its chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personagen.config import SIZE_KIND_ADULT, SIZE_KIND_KIDS, Structure, TimingArrays
from personagen.sample._counter_rng import counter_normals, counter_uniforms
from personagen.sample._order_times import OrderTimes, draw_order_times, month_of
from personagen.sample._segments import (
    group_offsets,
    rank_in_groups,
    shuffle_within_groups,
    starts_of_groups,
)
from personagen.sample._simulate import CustomerChunk

__all__ = ["SIZE_CODES", "LineItems", "draw_line_items"]

#: Size codes of a line: none, the kids' sizes, then the adult sizes XS..XL.
SIZE_CODES = ("", "Baby", "Child", "XS", "S", "M", "L", "XL")
_N_SIZE_CODES = 8
MIX_STREAM, ASSIGN_STREAM, SPARE_STREAM, SIZE_STREAM, BASKET_STREAM = 11, 12, 13, 14, 17
PRICE_STREAM, RETURN_STREAM, MISSION_STREAM = 15, 16, 18
#: Shares of a split are scaled down by this much so that no floor overshoots its
#: exact value (float64 rounding); largest remainders hand the cents back.
_FLOOR_GUARD = 1.0 - 1e-12


@dataclass(frozen=True)
class LineItems:
    """The line items of a chunk of customers, one entry per line.

    Lines are sorted by customer, then order (in time order), then class and size.
    ``owner`` is the customer's row in the chunk; ``order_row`` the order's row in
    :attr:`orders`; money is integer cents.
    """

    owner: np.ndarray
    order_row: np.ndarray
    line: np.ndarray
    klass: np.ndarray
    size: np.ndarray
    units: np.ndarray
    cents: np.ndarray
    returned_units: np.ndarray
    returned_cents: np.ndarray
    orders: OrderTimes

    def __len__(self) -> int:
        return int(self.units.shape[0])


@dataclass(frozen=True)
class _Baskets:
    """Weights of the departments each customer bought, over that customer's orders.

    Cells ``(customer, department bought, order)``, grouped by pair ``(customer,
    department)`` with the customer's orders in time order; ``pair_of[i, d]`` is the
    pair of customer ``i`` and department ``d`` (-1 if it bought none there).
    """

    cum: np.ndarray
    offsets: np.ndarray
    order_row: np.ndarray
    pair_of: np.ndarray


def _basket_weights(
    orders: OrderTimes,
    ids: np.ndarray,
    persona: np.ndarray,
    department_units: np.ndarray,
    timing: TimingArrays,
    word: int,
) -> _Baskets:
    """Each order's weight of each department its customer bought (see the module doc)."""
    n, n_departments = department_units.shape
    pair_customer, pair_dept = np.nonzero(department_units > 0)
    pair_of = np.full((n, n_departments), -1, np.int64)
    pair_of[pair_customer, pair_dept] = np.arange(pair_customer.size)
    per_pair = np.diff(orders.offsets)[pair_customer]
    offsets = group_offsets(per_pair)
    cell_pair = np.repeat(np.arange(pair_customer.size), per_pair)
    order_row = orders.offsets[pair_customer[cell_pair]] + (
        np.arange(cell_pair.size) - offsets[cell_pair]
    )
    dept = pair_dept[cell_pair]
    # drawn per (order, department) whichever departments are bought: the draws of a
    # cell do not depend on the customer's other departments
    counter = (orders.number[order_row] - 1) * n_departments + dept
    e = counter_normals(word, MIX_STREAM, ids[orders.owner[order_row]], counter)
    size = counter_normals(word, BASKET_STREAM, ids[orders.owner], orders.number - 1)
    sd = timing.order_mix_sd[persona[orders.owner[order_row]]]
    order_month = month_of(orders.day)
    log_weight = timing.basket_size_sd * size[order_row] + sd * e
    weight = np.exp(log_weight) * timing.seasonality[dept, order_month[order_row]]
    if timing.mission_focus.size:
        mission = _order_missions(orders, order_month, ids, persona, department_units, timing, word)
        chosen = mission[order_row]
        on = chosen >= 0
        focus = timing.mission_focus[chosen[on]]
        inside = timing.mission_departments[chosen[on], dept[on]]
        weight[on] *= np.where(inside, focus, 1.0 / focus)
    return _Baskets(np.cumsum(weight), offsets, order_row, pair_of)


def _order_missions(
    orders: OrderTimes,
    month: np.ndarray,
    ids: np.ndarray,
    persona: np.ndarray,
    department_units: np.ndarray,
    timing: TimingArrays,
    word: int,
) -> np.ndarray:
    """Return the mission of each order, -1 for none.

    Mission ``k`` with probability the persona's share of it, in the mission's months
    (``month``: each order's, 0 = January), for customers who bought in its departments.
    """
    owner = orders.owner
    mission_departments = timing.mission_departments.T.astype(np.int64)
    bought = (department_units > 0).astype(np.int64) @ mission_departments
    share = (
        timing.mission_share[persona[owner]]
        * timing.mission_months[:, month].T
        * (bought[owner] > 0)
    )
    u = counter_uniforms(word, MISSION_STREAM, ids[owner], orders.number - 1)
    cum = np.cumsum(share, axis=1)
    pick = (u[:, None] >= cum).sum(axis=1)  # the first mission whose cumulative share passes u
    return np.where(pick < share.shape[1], pick, -1)


def _deal_units(
    baskets: _Baskets, unit_owner: np.ndarray, unit_dept: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Order row of each unit: a draw from its department's weights over its customer's orders."""
    pair = baskets.pair_of[unit_owner, unit_dept]
    lo, hi = baskets.offsets[pair], baskets.offsets[pair + 1]
    cum = baskets.cum
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    target = base + u * (cum[hi - 1] - base)
    cell = np.clip(np.searchsorted(cum, target, side="right"), lo, hi - 1)
    return baskets.order_row[cell]


def _fill_empty_orders(
    unit_order: np.ndarray, unit_owner: np.ndarray, spare_key: np.ndarray, orders: OrderTimes
) -> None:
    """Move one spare unit (never an order's last) into every empty order, in place."""
    n_orders = orders.owner.size
    empty = np.flatnonzero(np.bincount(unit_order, minlength=n_orders) == 0)
    if empty.size == 0:
        return
    # only customers with an empty order take part
    n_customers = orders.offsets.size - 1
    n_empty = np.bincount(orders.owner[empty], minlength=n_customers)
    units = np.flatnonzero(n_empty[unit_owner] > 0)
    by_order = units[np.argsort(unit_order[units], kind="stable")]
    spare = by_order[rank_in_groups(unit_order[by_order]) >= 1]
    spare = spare[shuffle_within_groups(unit_owner[spare], spare_key[spare])]
    spare_owner = unit_owner[spare]
    spare_rank = rank_in_groups(spare_owner)
    first_empty = np.searchsorted(orders.owner[empty], np.arange(n_customers))
    take = spare_rank < n_empty[spare_owner]
    movers = spare[take]
    unit_order[movers] = empty[first_empty[unit_owner[movers]] + spare_rank[take]]


def _deal_sizes(
    unit_owner: np.ndarray,
    kind: np.ndarray,
    key: np.ndarray,
    baby: np.ndarray,
    adult_sizes: np.ndarray,
) -> np.ndarray:
    """Size code of each unit: the customer's size counts dealt at random over its units."""
    size = np.zeros(unit_owner.shape, np.int64)
    kids = np.flatnonzero(kind == SIZE_KIND_KIDS)
    kids = kids[shuffle_within_groups(unit_owner[kids], key[kids])]
    rank = rank_in_groups(unit_owner[kids])
    size[kids] = np.where(rank < baby[unit_owner[kids]], 1, 2)
    adult = np.flatnonzero(kind == SIZE_KIND_ADULT)
    adult = adult[shuffle_within_groups(unit_owner[adult], key[adult])]
    rank = rank_in_groups(unit_owner[adult])
    bounds = np.cumsum(adult_sizes, axis=1)[unit_owner[adult], :-1]
    size[adult] = 3 + (rank[:, None] >= bounds).sum(axis=1)
    return size


def _split_exactly(total: np.ndarray, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Split each group's integer ``total`` over its members by ``weights``, exactly.

    ``group`` is sorted; ``total`` has one entry per group (in order of appearance).
    Floors of the proportional parts, then one more cent for the largest remainders.
    """
    starts = starts_of_groups(group)
    member = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, group.size]))
    weight_sum = np.add.reduceat(weights, starts)
    raw = total[member] * (weights / weight_sum[member]) * _FLOOR_GUARD
    part = np.floor(raw).astype(np.int64)
    missing = total - np.add.reduceat(part, starts)
    by_remainder = shuffle_within_groups(member, 1.0 - (raw - part))  # largest first
    bump = rank_in_groups(member[by_remainder]) < missing[member[by_remainder]]
    part[by_remainder[bump]] += 1
    return part


def _take_returns(
    cents: np.ndarray, units: np.ndarray, owner: np.ndarray, key: np.ndarray, returned: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return each line's returned cents and units: the customer's, taken in random order."""
    order = shuffle_within_groups(owner, key)
    value = cents[order]
    before = np.cumsum(value) - value
    first = starts_of_groups(owner[order])
    before -= np.repeat(before[first], np.diff(np.r_[first, order.size]))
    back = np.clip(returned[owner[order]] - before, 0, value)
    line_units = units[order]
    partial = np.ceil(line_units * back / np.maximum(value, 1)).astype(np.int64)
    back_units = np.where(back == value, np.where(value > 0, line_units, 0), partial)
    out_cents, out_units = np.empty_like(back), np.empty_like(back_units)
    out_cents[order], out_units[order] = back, back_units
    return out_cents, out_units


def draw_line_items(
    chunk: CustomerChunk,
    structure: Structure,
    timing: TimingArrays,
    department_profile: np.ndarray,
    *,
    as_of_day: int,
    word: int,
) -> LineItems:
    """Expand an enriched chunk of customers into its line items (see the module doc).

    Parameters
    ----------
    chunk : CustomerChunk
        Customers drawn with their enriched details (class units and cents, sizes).
    structure : Structure
        Classes' departments and departments' size kinds.
    timing : TimingArrays
        :func:`personagen.config.build_timing` of the run's configuration.
    department_profile : ndarray, shape (P, D)
        The population's persona department profiles (order-time seasonality).
    as_of_day : int
        The as-of date in days from 1970-01-01.
    word : int
        The run's key word for line-level draws (:attr:`~personagen.sample.RunPlan.line_word`).
    """
    core, details = chunk.core, chunk.details
    ids = core["customer_index"]
    persona = core["persona"].astype(np.int64)
    orders = draw_order_times(
        customer_index=ids,
        persona=persona,
        n_orders=core["n_orders"],
        lifetime_days=core["lifetime_days"],
        recency_days=core["recency_days"],
        as_of_day=as_of_day,
        department_profile=department_profile,
        timing=timing,
        word=word,
    )
    class_units = np.asarray(details["class_units"], np.int64)
    n, n_classes = class_units.shape
    cell = np.repeat(np.arange(n * n_classes, dtype=np.int64), class_units.ravel())
    unit_owner, unit_class = np.divmod(cell, n_classes)
    unit_dept = structure.class_index[unit_class]
    counter = np.arange(cell.size, dtype=np.int64) - group_offsets(class_units.sum(1))[unit_owner]
    unit_ids = ids[unit_owner]
    department_units = np.asarray(core["department_units"])
    baskets = _basket_weights(orders, ids, persona, department_units, timing, word)
    u = counter_uniforms(word, ASSIGN_STREAM, unit_ids, counter)
    unit_order = _deal_units(baskets, unit_owner, unit_dept, u)
    spare_key = counter_uniforms(word, SPARE_STREAM, unit_ids, counter)
    _fill_empty_orders(unit_order, unit_owner, spare_key, orders)
    size = _deal_sizes(
        unit_owner,
        structure.size_kind[unit_dept],
        counter_uniforms(word, SIZE_STREAM, unit_ids, counter),
        np.asarray(details["baby_units"], np.int64),
        np.asarray(details["adult_size_units"], np.int64),
    )
    key = (unit_order * n_classes + unit_class) * _N_SIZE_CODES + size
    line_key, line_units = np.unique(key, return_counts=True)
    line_order = line_key // (_N_SIZE_CODES * n_classes)
    line_class = (line_key // _N_SIZE_CODES) % n_classes
    owner = orders.owner[line_order]
    line_counter = np.arange(owner.size, dtype=np.int64) - np.searchsorted(owner, owner)
    line_ids = ids[owner]
    price_noise = counter_normals(word, PRICE_STREAM, line_ids, line_counter)
    by_cell = np.argsort(owner * n_classes + line_class, kind="stable")
    cell_of_line = (owner * n_classes + line_class)[by_cell]
    cell_cents = np.asarray(details["class_cents"], np.int64).ravel()
    cents = np.empty(owner.size, np.int64)
    cents[by_cell] = _split_exactly(
        cell_cents[cell_of_line[starts_of_groups(cell_of_line)]],
        (line_units * np.exp(timing.line_price_sd * price_noise))[by_cell],
        cell_of_line,
    )
    returned_cents, returned_units = _take_returns(
        cents,
        line_units,
        owner,
        counter_uniforms(word, RETURN_STREAM, line_ids, line_counter),
        np.asarray(core["returned_cents"], np.int64),
    )
    return LineItems(
        owner=owner,
        order_row=line_order,
        line=rank_in_groups(line_order) + 1,
        klass=line_class,
        size=line_key % _N_SIZE_CODES,
        units=line_units,
        cents=cents,
        returned_units=returned_units,
        returned_cents=returned_cents,
        orders=orders,
    )
