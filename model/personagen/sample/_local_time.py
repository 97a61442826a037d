"""Local store times that exist: none in an hour the zone's clocks skip.

Order times are drawn as a date, an hour from the persona's profile and a second, in
the store's local time without an offset. On the night a zone's clocks go forward
(``Europe/London``: 01:00 -> 02:00 on the last Sunday of March) an hour of local
times does not exist, and a user who attaches the zone (``tz_localize``) gets an error
for it. :func:`existing_local_times` moves such a time forward by the size of the
skip, as a till's clock reads it (01:30 becomes 02:30), keeping its date; where the
skip ends a day (``America/Nuuk``: 23:00 -> 00:00 since 2024) it moves back by it
instead (23:30 becomes 22:30), and a date a zone skipped entirely (Samoa's
2011-12-30) has no local time to move to: its times are left as drawn. Local times of
the hour that repeats when the clocks go back exist (twice) and are left alone:
``tz_localize(zone, ambiguous=...)`` decides which one a user means.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import numpy as np

__all__ = ["existing_local_times", "skipped_spans"]

SECONDS_PER_DAY = 86_400
#: Spacing of the UTC instants at which :func:`skipped_spans` reads a zone's offset.
SAMPLE_SECONDS = 6 * 3_600


def _offset(zone: zoneinfo.ZoneInfo, utc_seconds: int) -> int:
    """Return the zone's UTC offset, in seconds, at a UTC instant."""
    when = datetime.fromtimestamp(utc_seconds, zone)
    return int(when.utcoffset().total_seconds())  # type: ignore[union-attr]


def skipped_spans(zone_name: str, first_day: int, last_day: int) -> np.ndarray:
    """Return the local times the zone skips between two dates, as ``[start, end)`` rows.

    Parameters
    ----------
    zone_name : str
        IANA name of the zone.
    first_day, last_day : int
        Days from 1970-01-01 (local), inclusive.

    Returns
    -------
    ndarray of int64, shape (G, 2)
        Start and end of each skipped span, in local seconds since 1970-01-01 00:00.
    """
    zone = zoneinfo.ZoneInfo(zone_name)
    # the offset at UTC instants SAMPLE_SECONDS apart, from a day before the window to
    # a day after it; a change between two samples is a transition, found by bisection
    # (zones change their offset months apart, never twice within SAMPLE_SECONDS)
    start = (first_day - 2) * SECONDS_PER_DAY
    stop = (last_day + 3) * SECONDS_PER_DAY
    instants = np.arange(start, stop + SAMPLE_SECONDS, SAMPLE_SECONDS, dtype=np.int64)
    offsets = np.array([_offset(zone, int(t)) for t in instants])
    spans = []
    for i in np.flatnonzero(np.diff(offsets) > 0):  # clocks go forward
        before, after = int(offsets[i]), int(offsets[i + 1])
        low, high = int(instants[i]), int(instants[i + 1])  # offsets: before, after
        while high - low > 1:  # the first UTC second with the new offset
            mid = (low + high) // 2
            low, high = (mid, high) if _offset(zone, mid) == before else (low, mid)
        spans.append((high + before, high + after))  # local [old wall time, new wall time)
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def existing_local_times(timestamp: np.ndarray, zone_name: str) -> np.ndarray:
    """Move the local times a zone skips by the skip, keeping their date (module docstring).

    Parameters
    ----------
    timestamp : ndarray of int64
        Local times in seconds since 1970-01-01 00:00 (no offset).
    zone_name : str
        IANA name of the zone.

    Returns
    -------
    ndarray of int64
        The same times; those inside a skipped span moved forward by its length, or back
        by it where forward would change the date, or kept where both would.
    """
    if timestamp.size == 0:
        return timestamp
    day = timestamp // SECONDS_PER_DAY
    spans = skipped_spans(zone_name, int(day.min()), int(day.max()))
    out = timestamp.copy()
    for start, end in spans:
        inside = np.flatnonzero((timestamp >= start) & (timestamp < end))
        forward, back = timestamp[inside] + (end - start), timestamp[inside] - (end - start)
        date = day[inside]
        out[inside] = np.where(
            forward // SECONDS_PER_DAY == date,
            forward,
            np.where(back // SECONDS_PER_DAY == date, back, timestamp[inside]),
        )
    return out
