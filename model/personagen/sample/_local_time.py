"""Local store times that exist: none in the hour skipped when the clocks go forward.

Order times are drawn as a date, an hour from the persona's profile and a second, in
the store's local time without an offset. On the night a zone's clocks go forward
(``Europe/London``: 01:00 -> 02:00 on the last Sunday of March) an hour of local
times does not exist, and a user who attaches the zone (``tz_localize``) gets an error
for it. :func:`existing_local_times` moves such a time forward by the size of the
skip, as a till's clock reads it (01:30 becomes 02:30), keeping its date. Local times
of the hour that repeats when the clocks go back exist (twice) and are left alone:
``tz_localize(zone, ambiguous=...)`` decides which one a user means.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import numpy as np

__all__ = ["existing_local_times", "skipped_spans"]

SECONDS_PER_DAY = 86_400


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
    # offsets at every local noon, as UTC instants (noon is never skipped); a change
    # between two noons is a transition inside that day, found by bisection
    days = np.arange(first_day - 1, last_day + 2, dtype=np.int64)
    noon = days * SECONDS_PER_DAY + SECONDS_PER_DAY // 2
    guess = [_offset(zone, int(t)) for t in noon]  # noon read as UTC: hours off at most
    offsets = np.array([_offset(zone, int(t) - o) for t, o in zip(noon, guess, strict=True)])
    spans = []
    for i in np.flatnonzero(np.diff(offsets) > 0):  # clocks go forward
        before, after = int(offsets[i]), int(offsets[i + 1])
        low, high = int(noon[i]) - before, int(noon[i + 1]) - after  # UTC instants
        while high - low > 1:  # the first UTC second with the new offset
            mid = (low + high) // 2
            low, high = (mid, high) if _offset(zone, mid) == before else (low, mid)
        spans.append((high + before, high + after))  # local [old wall time, new wall time)
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def existing_local_times(timestamp: np.ndarray, zone_name: str) -> np.ndarray:
    """Move the local times a zone skips forward by the skip, keeping their date.

    Parameters
    ----------
    timestamp : ndarray of int64
        Local times in seconds since 1970-01-01 00:00 (no offset).
    zone_name : str
        IANA name of the zone.

    Returns
    -------
    ndarray of int64
        The same times, those inside a skipped span moved forward by its length (or,
        where that would change the date, back by it).
    """
    if timestamp.size == 0:
        return timestamp
    day = timestamp // SECONDS_PER_DAY
    spans = skipped_spans(zone_name, int(day.min()), int(day.max()))
    if spans.size == 0:
        return timestamp
    out = timestamp.copy()
    for start, end in spans:
        inside = np.flatnonzero((timestamp >= start) & (timestamp < end))
        moved = timestamp[inside] + (end - start)
        same_day = moved // SECONDS_PER_DAY == day[inside]
        out[inside] = np.where(same_day, moved, timestamp[inside] - (end - start))
    return out
