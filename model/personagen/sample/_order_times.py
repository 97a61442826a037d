"""When a customer's orders happen: dates from the purchase process, the season and the week.

The customer tables fix three things about the orders of each customer: how many
there are, the first (its signup date: the first order opens the observation) and
the last (``recency_days`` before the as-of date). The orders in between fall on
days between the two with a daily intensity ``season(month) x week(weekday)``,
where ``season`` is the customer's persona's department profile weighted over the
departments' monthly intensities and ``week`` the persona's day-of-week profile:
for a Poisson process, given the count and the end points, the inner points are
independent draws from the normalised intensity (docs/transactions.md). The clock
time is an hour from the persona's hour-of-day profile and a uniform second; a time
in the hour skipped when the clocks go forward is read as a till's clock reads it
(:mod:`._local_time`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personagen.config import TimingArrays
from personagen.sample._counter_rng import counter_uniforms
from personagen.sample._local_time import SECONDS_PER_DAY, existing_local_times
from personagen.sample._segments import group_offsets, sort_within_groups

__all__ = ["OrderTimes", "draw_order_times", "month_of", "weekday_of"]

#: Streams of :func:`~personagen.sample._counter_rng.counter_uniforms` for order times.
DAY_STREAM, HOUR_STREAM, SECOND_STREAM = 1, 2, 3


def month_of(day: np.ndarray) -> np.ndarray:
    """Calendar month (0 = January) of days counted from 1970-01-01."""
    months = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months % 12


def weekday_of(day: np.ndarray) -> np.ndarray:
    """Weekday (0 = Monday) of days counted from 1970-01-01 (a Thursday)."""
    return (day + 3) % 7


@dataclass(frozen=True)
class OrderTimes:
    """Every order of a chunk, customer by customer, in time order.

    Attributes
    ----------
    owner : ndarray of int64, shape (O,)
        Row of the order's customer in the chunk (non-decreasing).
    number : ndarray of int64, shape (O,)
        The order's number among its customer's, 1 for the first.
    timestamp : ndarray of int64, shape (O,)
        Local time in seconds since 1970-01-01 00:00.
    offsets : ndarray of int64, shape (n + 1,)
        The customer ``i``'s orders are ``offsets[i]:offsets[i + 1]``.
    """

    owner: np.ndarray
    number: np.ndarray
    timestamp: np.ndarray
    offsets: np.ndarray

    @property
    def day(self) -> np.ndarray:
        """Day of each order, counted from 1970-01-01."""
        return self.timestamp // SECONDS_PER_DAY


def _inner_days(
    persona: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    u: np.ndarray,
    intensity: np.ndarray,
    window_start: int,
) -> np.ndarray:
    """Days in ``[first, last]`` drawn from the persona's daily ``intensity`` by inversion."""
    cum = np.zeros((intensity.shape[0], intensity.shape[1] + 1))
    np.cumsum(intensity, axis=1, out=cum[:, 1:])
    out = np.empty(persona.shape, np.int64)
    for z in np.unique(persona):
        sel = np.flatnonzero(persona == z)
        lo_i = first[sel] - window_start
        hi_i = last[sel] - window_start + 1
        lo, hi = cum[z, lo_i], cum[z, hi_i]
        j = np.searchsorted(cum[z], lo + u[sel] * (hi - lo), side="right") - 1
        out[sel] = np.clip(j, lo_i, hi_i - 1) + window_start
    return out


def draw_order_times(
    *,
    customer_index: np.ndarray,
    persona: np.ndarray,
    n_orders: np.ndarray,
    lifetime_days: np.ndarray,
    recency_days: np.ndarray,
    as_of_day: int,
    department_profile: np.ndarray,
    timing: TimingArrays,
    word: int,
) -> OrderTimes:
    """Draw the timestamps of every order of a chunk of customers.

    Parameters
    ----------
    customer_index, persona, n_orders, lifetime_days, recency_days : ndarray, shape (n,)
        The customers' story (a :class:`~personagen.sample.CustomerChunk`'s core).
    as_of_day : int
        The as-of date, in days from 1970-01-01.
    department_profile : ndarray, shape (P, D)
        The population's persona department profiles (weights of the seasonality).
    timing : TimingArrays
        Seasonality and the week and hour profiles.
    word : int
        The run's key word for line-level draws.
    """
    n_orders = n_orders.astype(np.int64)
    offsets = group_offsets(n_orders)
    owner = np.repeat(np.arange(n_orders.size), n_orders)
    k = np.arange(owner.size, dtype=np.int64) - offsets[owner]
    signup = as_of_day - lifetime_days.astype(np.int64)
    last = as_of_day - recency_days.astype(np.int64)
    day = signup[owner].copy()
    is_last = (k == n_orders[owner] - 1) & (k > 0)
    day[is_last] = last[owner[is_last]]
    inner = np.flatnonzero((k > 0) & ~is_last)
    ids = customer_index[owner]
    if inner.size:
        window_start = int(signup.min())
        calendar = np.arange(window_start, as_of_day + 1)
        season = department_profile @ timing.seasonality  # (P, 12)
        intensity = season[:, month_of(calendar)] * timing.day_of_week[:, weekday_of(calendar)]
        u = counter_uniforms(word, DAY_STREAM, ids[inner], k[inner])
        c = owner[inner]
        day[inner] = _inner_days(persona[c], signup[c], last[c], u, intensity, window_start)
    z = persona[owner]
    hour_cum = np.cumsum(timing.hour_of_day, axis=1)[:, :-1]
    u_hour = counter_uniforms(word, HOUR_STREAM, ids, k)
    hour = np.empty(owner.size, np.int64)
    for p in np.unique(z):
        sel = np.flatnonzero(z == p)
        hour[sel] = np.searchsorted(hour_cum[p], u_hour[sel], side="right")
    second = np.floor(counter_uniforms(word, SECOND_STREAM, ids, k) * 3600).astype(np.int64)
    timestamp = day * SECONDS_PER_DAY + hour * 3600 + second
    timestamp = existing_local_times(timestamp, timing.time_zone)  # none in a skipped hour
    order = sort_within_groups(owner, timestamp - (timestamp.min() if timestamp.size else 0))
    return OrderTimes(owner=owner, number=k + 1, timestamp=timestamp[order], offsets=offsets)
