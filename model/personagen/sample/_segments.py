"""Small NumPy helpers for ragged data held flat: groups of consecutive equal ids."""

from __future__ import annotations

import numpy as np

__all__ = [
    "group_offsets",
    "rank_in_groups",
    "shuffle_within_groups",
    "sort_within_groups",
    "starts_of_groups",
]


def group_offsets(counts: np.ndarray) -> np.ndarray:
    """Offsets ``(n + 1,)`` of ``n`` consecutive groups of the given sizes."""
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def starts_of_groups(sorted_ids: np.ndarray) -> np.ndarray:
    """Index of the first element of each run of equal values in ``sorted_ids``."""
    if sorted_ids.size == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])


def rank_in_groups(sorted_ids: np.ndarray) -> np.ndarray:
    """Position of each element inside its run of equal values (0 for the first)."""
    n = sorted_ids.size
    starts = starts_of_groups(sorted_ids)
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)


def sort_within_groups(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Return indices that sort by ``group``, then by ``key`` (both integers >= 0).

    One stable sort of ``group * 2**b + key`` (``b`` the bits ``key`` needs), several
    times faster than ``np.lexsort((key, group))``, which it falls back to when the two
    do not fit in 63 bits together.
    """
    group = group.astype(np.int64)
    key = key.astype(np.int64)
    bits = int(key.max()).bit_length() if key.size else 0
    if group.size and int(group.max()).bit_length() + bits > 63:
        return np.lexsort((key, group))
    return np.argsort((group << bits) | key, kind="stable")


def shuffle_within_groups(group: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Return indices that sort by ``group``, then by ``u`` in [0, 1): a shuffle per group.

    ``u`` is kept to 31 bits (ties, at 2**-31, keep their order: the result is still a
    deterministic function of the draws).
    """
    return sort_within_groups(group, np.minimum(u * 2.0**31, 2.0**31 - 1).astype(np.int64))
