"""Fixed-work samplers of counts: Poisson, binomial, multinomial.

Each draws a fixed number of candidates per variate (no data-dependent loop, so a
batch never waits for its slowest member): inversion of the CDF for small means,
transformed rejection with a few candidates above. The laws are tested against the
exact ones in ``tests/story/test_samplers.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from personagen.story._samplers import _TINY, hash_normal, hash_uniform

__all__ = ["BINOMIAL_INVERSION_MAX", "POISSON_INVERSION_MAX", "binomial", "multinomial", "poisson"]


def _invert_cdf(u: Array, pmf0: Array, step: Callable[[int], Array]) -> Array:
    """Count how many of the first ``_INVERSION_STEPS`` CDF values lie below ``u``.

    Inversion with a fixed number of unrolled steps: ``pmf(k + 1) = pmf(k) *
    step(k)``, starting from ``pmf(0) = pmf0``; ``step`` multiplies by constant
    reciprocals, so no step divides.
    """
    pmf, cdf = pmf0, pmf0
    count = jnp.zeros(u.shape, jnp.int32)
    for k in range(_INVERSION_STEPS):
        count = count + (u > cdf).astype(jnp.int32)
        pmf = pmf * step(k)
        cdf = cdf + pmf
    return count


#: Below this mean, Poisson draws use inversion with a fixed number of steps.
POISSON_INVERSION_MAX = 10.0
#: Unrolled steps of the CDF inversion (Poisson and binomial).
_INVERSION_STEPS = 40
_PTRS_CANDIDATES = 4


def poisson(key: Array, lam: Array) -> Array:
    """Draw Poisson counts with a fixed amount of work per draw.

    For ``lam < 10``: inversion of the CDF unrolled over 40 terms (the tail
    beyond 40 has probability below 1e-13). For ``lam >= 10``: Hörmann's
    transformed rejection (PTRS) with four candidates; a draw whose four
    candidates are all rejected (probability below 1e-4) is a rounded normal
    with the Poisson's mean and variance. Measured
    against the exact law in ``tests/story/test_samplers.py``.

    Parameters
    ----------
    key : Array
        PRNG key.
    lam : Array
        Non-negative means, any shape.

    Returns
    -------
    Array
        int32 counts, same shape as ``lam``.
    """
    lam = jnp.asarray(lam, jnp.float32)
    k_inv, k_u, k_v, k_z = jax.random.split(key, 4)
    # inversion for small means
    small = jnp.minimum(lam, POISSON_INVERSION_MAX)
    x_small = _invert_cdf(
        hash_uniform(k_inv, lam.shape), jnp.exp(-small), lambda k: small * (1.0 / (k + 1))
    )
    # PTRS for large means
    big = jnp.maximum(lam, POISSON_INVERSION_MAX)
    slam = jnp.sqrt(big)
    loglam = jnp.log(big)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    u = hash_uniform(k_u, (_PTRS_CANDIDATES, *lam.shape)) - 0.5
    v = hash_uniform(k_v, (_PTRS_CANDIDATES, *lam.shape))
    us = 0.5 - jnp.abs(u)
    k = jnp.floor((2.0 * a / us + b) * u + big + 0.43)
    quick = (us >= 0.07) & (v <= vr)
    log_ratio = jnp.log(v * inv_alpha / (a / (us * us) + b))
    exact = (
        (k >= 0)
        & ~((us < 0.013) & (v > us))
        & (log_ratio <= -big + k * loglam - _log_factorial(jnp.maximum(k, 0.0)))
    )
    accepted = quick | exact
    first = jnp.argmax(accepted, axis=0)
    x_big = jnp.take_along_axis(k, first[None], axis=0)[0]
    # all candidates rejected: a rounded normal draw with the same mean and variance
    fallback = jnp.floor(big + slam * hash_normal(k_z, lam.shape) + 0.5)
    x_big = jnp.where(accepted.any(axis=0), x_big, jnp.maximum(fallback, 0.0)).astype(jnp.int32)
    return jnp.where(lam < POISSON_INVERSION_MAX, x_small, x_big)


#: Below this mean, binomial draws use inversion with ``_INVERSION_STEPS`` steps.
BINOMIAL_INVERSION_MAX = 10.0
_BTRS_CANDIDATES = 4
#: ``log k! - (Stirling's approximation)`` for k = 0..9; larger k use the series.
_STIRLING_TAIL = np.array(
    [
        0.0810614667953272,
        0.0413406959554092,
        0.0276779256849983,
        0.02079067210376509,
        0.0166446911898211,
        0.0138761288230707,
        0.0118967099458917,
        0.0104112652619720,
        0.00925546218271273,
        0.00833056343336287,
    ],
    np.float32,
)


_HALF_LOG_2PI = 0.5 * float(np.log(2.0 * np.pi))


def _stirling_tail(k: Array) -> Array:
    k1 = k + 1.0
    series = (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / (k1 * k1)) / (k1 * k1)) / k1
    table = jnp.asarray(_STIRLING_TAIL)[jnp.clip(k, 0, 9).astype(jnp.int32)]
    return jnp.where(k <= 9, table, series)


def _log_factorial(k: Array) -> Array:
    """``log k!`` by Stirling's series with the tail correction (cheaper than ``lgamma``)."""
    return (k + 0.5) * jnp.log(k + 1.0) - (k + 1.0) + _HALF_LOG_2PI + _stirling_tail(k)


def binomial(key: Array, n: Array, p: Array) -> Array:
    """Draw binomial counts with a fixed amount of work per draw.

    ``jax.random.binomial`` loops until every lane has accepted, and under
    ``vmap`` every customer waits for the slowest (the size counts of the
    enriched table took a sixth of its sampling time). Here, with
    ``q = min(p, 1 - p)``: for ``n q < 10``, inversion of the CDF unrolled over
    40 terms (the tail beyond has probability below 1e-13); otherwise Hörmann's
    BTRS with four candidates, and a rounded normal with the binomial's mean and
    variance if all four are rejected (probability below 1e-4). ``p > 1/2`` is
    drawn as ``n - Binomial(n, 1 - p)``. Measured against the exact law in
    ``tests/story/test_samplers.py``.

    Parameters
    ----------
    key : Array
        PRNG key.
    n : Array
        Non-negative integer trials (any numeric dtype), broadcast with ``p``.
    p : Array
        Success probabilities in [0, 1].

    Returns
    -------
    Array
        int32 counts in ``[0, n]``.
    """
    n = jnp.asarray(n, jnp.float32)
    p = jnp.asarray(p, jnp.float32)
    shape = jnp.broadcast_shapes(n.shape, p.shape)
    n, p = jnp.broadcast_to(n, shape), jnp.broadcast_to(p, shape)
    flip = p > 0.5
    q = jnp.clip(jnp.where(flip, 1.0 - p, p), 0.0, 0.5)
    use_inversion = n * q < BINOMIAL_INVERSION_MAX
    k_inv, k_u, k_v, k_z = jax.random.split(key, 4)
    ratio = q / (1.0 - q)
    x_small = _invert_cdf(
        hash_uniform(k_inv, shape),
        jnp.exp(n * jnp.log1p(-q)),
        lambda k: jnp.maximum(n - k, 0.0) * (1.0 / (k + 1)) * ratio,
    )
    x_small = jnp.minimum(x_small, n.astype(jnp.int32))
    # BTRS (Hörmann 1993); lanes that use inversion get harmless parameters
    nb = jnp.where(use_inversion, 1e4, n)
    qb = jnp.where(use_inversion, 0.5, q)
    spq = jnp.sqrt(nb * qb * (1.0 - qb))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * qb
    c = nb * qb + 0.5
    vr = 0.92 - 4.2 / b
    rb = qb / (1.0 - qb)
    alpha = (2.83 + 5.1 / b) * spq
    m = jnp.floor((nb + 1.0) * qb)
    u = hash_uniform(k_u, (_BTRS_CANDIDATES, *shape)) - 0.5
    v = hash_uniform(k_v, (_BTRS_CANDIDATES, *shape))
    us = 0.5 - jnp.abs(u)
    k = jnp.floor((2.0 * a / us + b) * u + c)
    inside = (k >= 0) & (k <= nb)
    kk = jnp.clip(k, 0.0, nb)
    bound = (
        (m + 0.5) * jnp.log((m + 1.0) / (rb * (nb - m + 1.0)))
        + (nb + 1.0) * jnp.log((nb - m + 1.0) / (nb - kk + 1.0))
        + (kk + 0.5) * jnp.log(rb * (nb - kk + 1.0) / (kk + 1.0))
        + _stirling_tail(m)
        + _stirling_tail(nb - m)
        - _stirling_tail(kk)
        - _stirling_tail(nb - kk)
    )
    quick = (us >= 0.07) & (v <= vr)
    accepted = inside & (quick | (jnp.log(v * alpha / (a / (us * us) + b)) <= bound))
    first = jnp.argmax(accepted, axis=0)
    x_big = jnp.take_along_axis(kk, first[None], axis=0)[0]
    fallback = jnp.clip(jnp.floor(nb * qb + spq * hash_normal(k_z, shape) + 0.5), 0.0, nb)
    x_big = jnp.where(accepted.any(axis=0), x_big, fallback).astype(jnp.int32)
    x = jnp.where(use_inversion, x_small, x_big)
    return jnp.where(flip, n.astype(jnp.int32) - x, x)


def multinomial(key: Array, n: Array, probs: Array) -> Array:
    """Draw multinomial counts as a chain of :func:`binomial` draws.

    Category ``j`` gets ``Binomial(remaining, p_j / (p_j + ... + p_K))``; the last
    takes what remains, so the counts sum to ``n`` exactly. Exact up to the
    binomial sampler; the work is fixed (``K - 1`` binomial draws).

    Parameters
    ----------
    key : Array
        PRNG key.
    n : Array, shape (...)
        Non-negative integer trials.
    probs : Array, shape (..., K)
        Probabilities summing to 1 along the last axis.

    Returns
    -------
    Array, shape (..., K), int32
    """
    probs = jnp.asarray(probs, jnp.float32)
    n_cat = probs.shape[-1]
    shape = jnp.broadcast_shapes(jnp.shape(n), probs.shape[:-1])
    probs = jnp.broadcast_to(probs, (*shape, n_cat))
    remaining = jnp.broadcast_to(jnp.asarray(n), shape).astype(jnp.int32)
    tail = jnp.flip(jnp.cumsum(jnp.flip(probs, -1), -1), -1)
    keys = jax.random.split(key, max(n_cat - 1, 1))
    counts = []
    for j in range(n_cat - 1):
        share = jnp.where(tail[..., j] > 0, probs[..., j] / jnp.maximum(tail[..., j], _TINY), 0.0)
        draw = binomial(keys[j], remaining, jnp.clip(share, 0.0, 1.0))
        counts.append(draw)
        remaining = remaining - draw
    counts.append(remaining)
    return jnp.stack(counts, axis=-1)
