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
#: ``log k! - (Stirling's approximation)`` as ``r (c0 + c1 r^2 + c2 r^4 + c3 r^6)`` with
#: ``r = 1 / (k + 1)``, fitted for k >= 0 (error below 8e-9): no table lookup, which XLA
#: cannot fuse into the splitting tree of the multinomial sampler.
_STIRLING_COEFFICIENTS = (
    0.0833331961253686,
    -0.002771032258497204,
    0.0007075847666366392,
    -0.0002082896739061006,
)
_HALF_LOG_2PI = 0.5 * float(np.log(2.0 * np.pi))


def _stirling_tail(k: Array) -> Array:
    r = 1.0 / (k + 1.0)
    r2 = r * r
    c0, c1, c2, c3 = _STIRLING_COEFFICIENTS
    return r * (c0 + r2 * (c1 + r2 * (c2 + r2 * c3)))


def _log_factorial(k: Array) -> Array:
    """``log k!`` by Stirling's series with the tail correction (cheaper than ``lgamma``)."""
    return (k + 0.5) * jnp.log(k + 1.0) - (k + 1.0) + _HALF_LOG_2PI + _stirling_tail(k)


def binomial(key: Array, n: Array, p: Array) -> Array:
    """Draw binomial counts with a fixed amount of work per draw.

    ``jax.random.binomial`` loops until every lane has accepted, and under
    ``vmap`` every customer waits for the slowest. Here, with ``q = min(p, 1 - p)``:
    for ``n q < 10``, inversion of the CDF over 40 terms (the tail beyond has
    probability below 1e-13); otherwise Hörmann's BTRS with four candidates, and a
    rounded normal with the binomial's mean and variance if all four are rejected.
    Each candidate is accepted with probability 0.71-0.87, so the fallback serves
    6.4e-3 of the draws at n = 20, p = 0.5, 4.0e-3 at n = 100, p = 0.1, 1.2e-3 at
    n = 200, p = 0.5 and 4e-4 at n = 2,000 (measured). ``p > 1/2`` is drawn as
    ``n - Binomial(n, 1 - p)``. The inversion steps and the candidates run in
    ``fori_loop``s with fixed trip counts: unrolled, XLA folded them into the
    gathers of the multinomial splitting tree and ran them per element (4-8x
    slower there). All uniforms come from one key's :func:`hash_uniform` stream
    (block 0 the inversion, 1 the fallback, 2 + 2i and 3 + 2i candidate i). Measured
    against the exact law in ``tests/story/test_samplers.py``.

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
    ratio = q / (1.0 - q)
    u0 = hash_uniform(key, shape, 0)
    pmf0 = jnp.exp(n * jnp.log1p(-q))

    def inversion_step(k: Array, carry: tuple[Array, Array, Array]) -> tuple[Array, ...]:
        pmf, cdf, count = carry
        count = count + (u0 > cdf).astype(jnp.float32)
        kf = k.astype(jnp.float32)
        pmf = pmf * (jnp.maximum(n - kf, 0.0) * (1.0 / (kf + 1.0))) * ratio
        return pmf, cdf + pmf, count

    start = (pmf0, pmf0, jnp.zeros(shape, jnp.float32))
    _, _, x_small = jax.lax.fori_loop(0, _INVERSION_STEPS, inversion_step, start, unroll=8)
    x_small = jnp.minimum(x_small, n)
    # BTRS (Hörmann 1993); lanes that use inversion get harmless parameters
    nb = jnp.where(use_inversion, 1e4, n)
    qb = jnp.where(use_inversion, 0.5, q)
    spq = jnp.sqrt(nb * qb * (1.0 - qb))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * qb
    c = nb * qb + 0.5
    vr = 0.92 - 4.2 / b
    rb = qb / (1.0 - qb)
    log_alpha = jnp.log((2.83 + 5.1 / b) * spq)
    m = jnp.floor((nb + 1.0) * qb)
    # the mode's part of the acceptance bound; logs of ratios, not differences of large
    # logs, which lose (n + 1) * 6e-8 to float32 cancellation at large n
    mode = (
        (m + 0.5) * jnp.log((m + 1.0) / (rb * (nb - m + 1.0)))
        + _stirling_tail(m)
        + _stirling_tail(nb - m)
    )
    z = jnp.sqrt(2.0).astype(jnp.float32) * jax.lax.erf_inv(2.0 * hash_uniform(key, shape, 1) - 1)
    fallback = jnp.clip(jnp.floor(nb * qb + spq * z + 0.5), 0.0, nb)

    def candidate(i: Array, carry: tuple[Array, Array]) -> tuple[Array, Array]:
        x, done = carry
        u = hash_uniform(key, shape, 2 + 2 * i) - 0.5
        v = hash_uniform(key, shape, 3 + 2 * i)
        us = 0.5 - jnp.abs(u)
        k = jnp.floor((2.0 * a / us + b) * u + c)
        kk = jnp.clip(k, 0.0, nb)
        nk = nb - kk + 1.0
        bound = (
            mode
            + (nb + 1.0) * jnp.log((nb - m + 1.0) / nk)
            + (kk + 0.5) * jnp.log(rb * nk / (kk + 1.0))
            - _stirling_tail(kk)
            - _stirling_tail(nb - kk)
        )
        quick = (us >= 0.07) & (v <= vr)
        accepted = ((k >= 0) & (k <= nb)) & (
            quick | (jnp.log(v / (a / (us * us) + b)) + log_alpha <= bound)
        )
        return jnp.where(accepted & ~done, kk, x), done | accepted

    start_big = (fallback, jnp.zeros(shape, bool))
    x_big, _ = jax.lax.fori_loop(0, _BTRS_CANDIDATES, candidate, start_big)
    x = jnp.where(use_inversion, x_small, x_big)
    return jnp.where(flip, n - x, x).astype(jnp.int32)


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
