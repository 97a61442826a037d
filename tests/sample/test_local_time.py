"""Local times a zone skips are moved forward by the skip; every other time is kept."""

from __future__ import annotations

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
        ("Australia/Lord_Howe", "2026-10-04 02:00", "2026-10-04 02:30"),  # half an hour
    ],
)
def test_the_skipped_span_of_a_year(zone, start, end):
    spans = skipped_spans(zone, _day("2026-01-01"), _day("2026-12-31"))
    assert spans.tolist() == [[_seconds(start), _seconds(end)]]


def test_zones_without_daylight_saving_skip_nothing():
    for zone in ("UTC", "Asia/Tokyo"):
        assert skipped_spans(zone, _day("2020-01-01"), _day("2029-12-31")).shape == (0, 2)


def test_a_skipped_time_moves_forward_by_the_skip_and_keeps_its_date():
    times = np.array(
        [_seconds(t) for t in ("2026-03-29 00:59:59", "2026-03-29 01:00", "2026-03-29 01:30")]
        + [_seconds(t) for t in ("2026-03-29 02:00", "2026-10-25 01:30", "2026-07-01 01:30")]
    )
    moved = existing_local_times(times, "Europe/London")
    expected = times.copy()
    expected[1:3] += 3_600  # 01:00 -> 02:00, 01:30 -> 02:30; the repeated October hour stays
    assert moved.tolist() == expected.tolist()


@settings(max_examples=50, deadline=None)
@given(
    zone=st.sampled_from(["Europe/London", "America/New_York", "America/Havana", "Pacific/Apia"]),
    offsets=st.lists(st.integers(0, 12 * 366 * DAY), min_size=1, max_size=200),
)
def test_every_moved_time_exists_on_its_day_and_the_rest_are_kept(zone, offsets):
    times = _seconds("2015-01-01") + np.array(offsets, dtype=np.int64)
    moved = existing_local_times(times, zone)
    assert (moved // DAY == times // DAY).all()
    naive = pd.DatetimeIndex(moved.astype("datetime64[s]"))
    # pandas, independently: no moved time is missing in the zone ...
    naive.tz_localize(zone, ambiguous="NaT", nonexistent="raise")
    # ... and exactly the times pandas finds missing were moved
    missing = pd.DatetimeIndex(times.astype("datetime64[s]")).tz_localize(
        zone, ambiguous=np.zeros(times.size, bool), nonexistent="NaT"
    )
    assert ((moved != times) == np.asarray(missing.isna())).all()
