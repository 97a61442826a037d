"""Small NumPy helpers for ragged data held flat: groups of consecutive equal ids."""

from __future__ import annotations

import numpy as np

__all__ = ["group_offsets", "rank_in_groups", "starts_of_groups"]


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
