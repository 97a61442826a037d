"""Local times a zone skips are moved forward by the skip; every other time is kept."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personagen.sample._local_time import existing_local_times, skipped_spans

DAY = 86_400


def _seconds(text: str) -> int:
    return int(pd.Timestamp(text).value // 10**9)


def _day(text: str) -> int:
    return _seconds(text) // DAY


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Europe/London", "2026-03-29 01:00", "2026-03-29 02:00"),
        ("America/New_York", "2026-03-08 02:00", "2026-03-08 03:00"),
        ("America/Havana", "2026-03-08 00:00", "2026-03-08 01:00"),  # skips midnight
        ("America/Nuuk", "2026-03-28 23:00", "2026-03-29 00:00"),  # skips the day's end
        ("Australia/Lord_Howe", "2026-10-04 02:00", "2026-10-04 02:30"),  # half an hour
    ],
)
def test_the_skipped_span_of_a_year(zone, start, end):
    spans = skipped_spans(zone, _day("2026-01-01"), _day("2026-12-31"))
    assert spans.tolist() == [[_seconds(start), _seconds(end)]]


def test_spans_at_noon_and_of_a_whole_day():
    # Khartoum went forward at noon on 2000-01-15; Samoa skipped 2011-12-30 entirely
    khartoum = skipped_spans("Africa/Khartoum", _day("2000-01-01"), _day("2000-01-31"))
    assert khartoum.tolist() == [[_seconds("2000-01-15 12:00"), _seconds("2000-01-15 13:00")]]
    apia = skipped_spans("Pacific/Apia", _day("2011-12-01"), _day("2011-12-31"))
    assert apia.tolist() == [[_seconds("2011-12-30"), _seconds("2011-12-31")]]


def test_zones_without_daylight_saving_skip_nothing():
    for zone in ("UTC", "Asia/Tokyo"):
        assert skipped_spans(zone, _day("2020-01-01"), _day("2029-12-31")).shape == (0, 2)


def test_a_skipped_time_moves_by_the_skip_and_keeps_its_date():
    london = ["2026-03-29 00:59:59", "2026-03-29 01:00", "2026-03-29 01:30", "2026-03-29 02:00"]
    london += ["2026-10-25 01:30", "2026-07-01 01:30"]  # the repeated hour, a summer night
    times = np.array([_seconds(t) for t in london])
    expected = times.copy()
    expected[1:3] += 3_600  # 01:00 -> 02:00, 01:30 -> 02:30
    assert existing_local_times(times, "Europe/London").tolist() == expected.tolist()
    # Nuuk skips 23:00-00:00: forward would change the date, so back by the hour
    nuuk = np.array([_seconds("2026-03-28 23:30"), _seconds("2026-03-28 22:30")])
    assert existing_local_times(nuuk, "America/Nuuk").tolist() == [nuuk[1], nuuk[1]]
    # a date the zone skipped entirely has no local time to move to: kept as drawn
    apia = np.array([_seconds("2011-12-30 10:00"), _seconds("2011-12-31 10:00")])
    assert existing_local_times(apia, "Pacific/Apia").tolist() == apia.tolist()


ZONES = ["Europe/London", "America/New_York", "America/Havana", "America/Nuuk", "Pacific/Apia"]


@settings(max_examples=50, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    uniform=st.lists(st.integers(0, 12 * 366 * DAY), min_size=1, max_size=100),
    near=st.lists(st.tuples(st.integers(0, 11), st.integers(-3 * 3_600, 3 * 3_600)), max_size=100),
)
def test_exactly_the_missing_times_move_and_keep_their_date(zone, uniform, near):
    # times anywhere in 2015-2026, and times within 3 hours of the spring transitions
    # (pandas finds the transitions, independently of skipped_spans)
    origin = _seconds("2015-01-01")
    springs = _spring_transitions(zone)
    times = np.array(
        [origin + u for u in uniform] + [springs[i] + d for i, d in near if springs[i]],
        dtype=np.int64,
    )
    moved = existing_local_times(times, zone)
    assert (moved // DAY == times // DAY).all()
    naive = pd.DatetimeIndex(times.astype("datetime64[s]"))
    missing = np.asarray(
        naive.tz_localize(zone, ambiguous=np.zeros(times.size, bool), nonexistent="NaT").isna()
    )
    assert ((moved != times) == missing).all()
    # no moved time is missing (pandas raises for one that is)
    pd.DatetimeIndex(moved.astype("datetime64[s]")).tz_localize(
        zone, ambiguous="NaT", nonexistent="raise"
    )


@functools.cache
def _spring_transitions(zone: str) -> tuple[int, ...]:
    """The local wall time at which the zone's clocks go forward, in each year from March
    2015 on (12 years; 0 for a year without one), found by pandas."""
    found = []
    for month_start in pd.date_range("2015-03-01", periods=12, freq="12MS"):
        hours = pd.date_range(month_start, periods=366 * 24, freq="h")
        aware = hours.tz_localize(zone, ambiguous=np.zeros(hours.size, bool), nonexistent="NaT")
        gap = np.flatnonzero(np.asarray(aware.isna()))
        found.append(int(hours[gap[0]].value // 10**9) if gap.size else 0)
    return tuple(found)
