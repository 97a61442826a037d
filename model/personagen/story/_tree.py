"""Exact multinomial counts within groups, by a static binary splitting tree.

``Multinomial(n, w)`` over cells ``[s, e)`` is ``Binomial(n, W_left / W)`` units to the
left half ``[s, m)`` and the rest to the right half, recursively; the counts are exact
multinomial draws, in ``[0, n]`` and summing to ``n`` by construction. For many groups
at once (a department's units over its classes, for every department) the tree starts
with one node per group and halves every node of more than one cell per level, so all
groups split together: 6 levels and 373 binomial draws for the 394 classes of 21
departments, 5 levels and 20 draws for 21 departments. The plan (:func:`split_plan`)
depends only on the group layout and is built once in NumPy; the weights of a node are
sums of its cells' weights, built bottom-up (no differences of cumulative sums, whose
float32 rounding is not monotone). The department draw uses it; the class draw could (it
is exact there too) but costs 3.6x the moment-matched one (docs/benchmarks.md).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from personagen.story._count_samplers import binomial

__all__ = ["SplitLevel", "split_plan", "tree_multinomial"]


class SplitLevel(NamedTuple):
    """Index maps of one level of the splitting tree (all NumPy int arrays).

    Attributes
    ----------
    up_a, up_b : ndarray
        A node's weight is ``child[up_a] + child[up_b]`` (``up_b`` points at a zero pad for
        a node that passes through unsplit).
    split : ndarray
        The nodes of this level that split.
    left, right : ndarray
        Their halves on the next level.
    down : ndarray
        Places ``[n, x, n_split - x]`` (this level's counts, the left draws, the right
        remainders) on the next level.
    """

    up_a: np.ndarray
    up_b: np.ndarray
    split: np.ndarray
    left: np.ndarray
    right: np.ndarray
    down: np.ndarray


def _level(nodes: list[tuple[int, int]]) -> tuple[SplitLevel, list[tuple[int, int]]]:
    child: list[tuple[int, int]] = []
    down: list[int] = []
    split: list[int] = []
    left: list[int] = []
    right: list[int] = []
    up_a: list[int] = []
    up_b: list[int] = []
    n_split = sum(e - s > 1 for s, e in nodes)
    for i, (s, e) in enumerate(nodes):
        if e - s > 1:
            m = (s + e) // 2
            k = len(split)
            split.append(i)
            up_a.append(len(child))
            left.append(len(child))
            child.append((s, m))
            down.append(len(nodes) + k)
            up_b.append(len(child))
            right.append(len(child))
            child.append((m, e))
            down.append(len(nodes) + n_split + k)
        else:
            up_a.append(len(child))
            up_b.append(-1)
            child.append((s, e))
            down.append(i)
    up_b = [len(child) if b < 0 else b for b in up_b]
    arrays = (np.asarray(x, np.int32) for x in (up_a, up_b, split, left, right, down))
    return SplitLevel(*arrays), child


@lru_cache(maxsize=16)
def _plan(group_bytes: bytes, size: int) -> tuple[SplitLevel, ...]:
    group = np.frombuffer(group_bytes, np.int64, count=size)
    ends = np.append(np.flatnonzero(np.diff(group)) + 1, group.size)
    nodes = list(zip(np.insert(ends[:-1], 0, 0).tolist(), ends.tolist(), strict=True))
    levels = []
    while any(e - s > 1 for s, e in nodes):
        level, nodes = _level(nodes)
        levels.append(level)
    return tuple(levels)


def split_plan(group: np.ndarray) -> tuple[SplitLevel, ...]:
    """Return the splitting tree of cells grouped by ``group`` (sorted, contiguous groups)."""
    group = np.ascontiguousarray(group, np.int64)
    return _plan(group.tobytes(), group.size)


def tree_multinomial(
    key: Array,
    totals: Array,
    log_weights: Array,
    group: np.ndarray,
    n_groups: int,
) -> Array:
    """Draw ``Multinomial(totals[g], softmax(log_weights[group == g]))`` for every group.

    One customer: ``totals`` (G,), ``log_weights`` (C,); vmap for batches. Weights are
    scaled by their group's largest, so none overflows (those below ``e**-87`` of it
    become 0: probabilities below 1e-38). A group whose weights are all zero sends its
    units to its first cell (a degenerate law that numpyro's validation rejects anyway).

    Returns
    -------
    Array, shape (C,), int32
    """
    plan = split_plan(group)
    top = jax.ops.segment_max(log_weights, group, n_groups, indices_are_sorted=True)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    w = jnp.exp(log_weights - top[group])
    sums = [w]
    for level in reversed(plan):
        padded = jnp.concatenate([sums[-1], jnp.zeros((1,), w.dtype)])
        sums.append(padded[level.up_a] + padded[level.up_b])
    sums = sums[::-1]
    n = totals.astype(jnp.int32)
    keys = jax.random.split(key, max(len(plan), 1))
    for depth, level in enumerate(plan):
        w_left, w_right = sums[depth + 1][level.left], sums[depth + 1][level.right]
        total = w_left + w_right
        p = jnp.where(total > 0, w_left / jnp.where(total > 0, total, 1.0), 1.0)
        node = n[level.split]
        x = binomial(keys[depth], node, p)
        n = jnp.concatenate([n, x, node - x])[level.down]
    return n
