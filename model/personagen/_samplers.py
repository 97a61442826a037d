"""Fast, loop-free samplers written from uniforms and normals.

``jax.random.gamma`` (hence ``dirichlet``) runs a data-dependent rejection
loop per draw and is by far the slowest sampler on CPU (about 2 M draws/s
here, see ``docs/sampling.md``). The model draws a customer-level Dirichlet
over 21 departments and, for the enriched table, over 394 classes, so gamma
variates are the hot path. The samplers here do a fixed amount of work per
draw.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = ["hash_normal", "hash_uniform", "log_gamma", "poisson", "systematic_counts"]

_TINY = 1e-30


def _lowbias32(x: Array) -> Array:
    """Chris Wellons' ``lowbias32`` integer hash: a bijection on uint32 with low bias."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def hash_uniform(key: Array, shape: tuple[int, ...]) -> Array:
    """Uniform draws in (0, 1) from a counter-based hash of a JAX key.

    ``jax.random``'s threefry costs about 20 rounds per 32 random bits and is
    the bottleneck of the sampler (about 50 M uniforms/s on one core here);
    this stream costs two ``lowbias32`` hashes per draw (about 8x faster,
    ``docs/sampling.md``). Draw ``j`` of key ``k = (k0, k1)`` is
    ``lowbias32(lowbias32(j * 0x9E3779B9 + k0) ^ k1)``, keeping 23 bits (so
    ``(h + 0.5) / 2**23`` is exactly representable in float32 and never 1). The key
    itself still comes from ``jax.random`` (``fold_in`` per customer), so
    streams of different customers are independent in the usual sense.
    Uniformity and independence are tested in ``tests/test_samplers.py``.

    Parameters
    ----------
    key : Array
        A JAX PRNG key (scalar key; vmap over keys for batches).
    shape : tuple of int
        Output shape.

    Returns
    -------
    Array
        float32 draws in (0, 1), never exactly 0 or 1.
    """
    words = jax.random.key_data(key).astype(jnp.uint32)
    k0, k1 = words[..., 0], words[..., 1]
    n = int(np.prod(shape)) if shape else 1
    counter = jnp.arange(n, dtype=jnp.uint32).reshape(shape)
    h = _lowbias32(_lowbias32(counter * jnp.uint32(0x9E3779B9) + k0) ^ k1)
    return ((h >> 9).astype(jnp.float32) + 0.5) * (1.0 / (1 << 23))


def hash_normal(key: Array, shape: tuple[int, ...]) -> Array:
    """Draw standard normals by inverting the CDF at :func:`hash_uniform` draws."""
    u = hash_uniform(key, shape)
    return jnp.sqrt(2.0).astype(jnp.float32) * jax.lax.erf_inv(2.0 * u - 1.0)


def log_gamma(key: Array, alpha: Array) -> Array:
    """Draw ``log X`` with ``X ~ Gamma(alpha, 1)``, for any ``alpha > 0``.

    Marsaglia and Tsang's method on ``alpha + 1`` with a fixed budget of two
    candidates: the first is accepted by the usual squeeze-free test, otherwise
    the second is taken unconditionally (it is rejected with probability below
    5%, so at most about 0.25% of draws come from the proposal rather than the
    exact law; the Kolmogorov distance to the exact gamma is below the
    sampling noise of 400,000 draws, see ``tests/test_samplers.py``). The
    boost ``X = Y * U**(1/alpha)`` handles ``alpha < 1`` and is done in log
    space, so tiny ``alpha`` underflows to very negative logs, never to ``0/0``.

    Parameters
    ----------
    key : Array
        PRNG key.
    alpha : Array
        Shape parameters, any shape, positive.

    Returns
    -------
    Array
        ``log X``, same shape as ``alpha``, float32.
    """
    alpha = jnp.asarray(alpha, jnp.float32)
    a = alpha + 1.0
    d = a - 1.0 / 3.0
    c = jax.lax.rsqrt(9.0 * d)
    k_norm, k_unif = jax.random.split(key)
    z = hash_normal(k_norm, (2, *alpha.shape))
    u = hash_uniform(k_unif, (2, *alpha.shape))
    v = (1.0 + c * z) ** 3
    v_pos = jnp.maximum(v, _TINY)
    log_v = jnp.log(v_pos)
    accept_first = (v[0] > 0) & (jnp.log(u[0]) < 0.5 * z[0] ** 2 + d - d * v_pos[0] + d * log_v[0])
    log_y = jnp.log(d) + jnp.where(accept_first, log_v[0], log_v[1])
    # u[0] tests the first candidate; the second is taken untested, so u[1] is
    # free for the boost.
    boost = jnp.log(u[1]) / alpha
    return log_y + boost


def systematic_counts(fractions: Array, total: Array, offset: Array) -> Array:
    """Split an integer ``total`` into counts proportional to ``fractions``, exactly.

    Systematic rounding: ``counts = diff(floor(total * cumsum(fractions) + offset))``
    with ``offset ~ U(0, 1)``. Each count has expectation ``total * fraction``
    and the counts sum to ``total`` exactly (the last cumulative fraction is
    set to exactly 1).

    Parameters
    ----------
    fractions : Array, shape (..., K)
        Non-negative, summing to 1 along the last axis.
    total : Array, shape (...)
        Non-negative integers.
    offset : Array, shape (...)
        Uniform draws in [0, 1).

    Returns
    -------
    Array, shape (..., K), int32
    """
    cum = jnp.cumsum(fractions, axis=-1)
    cum = jnp.clip(cum.at[..., -1].set(1.0), 0.0, 1.0)
    edges = jnp.floor(total[..., None].astype(jnp.float32) * cum + offset[..., None])
    edges = jnp.minimum(edges.astype(jnp.int32), total[..., None].astype(jnp.int32))
    first = jnp.zeros_like(edges[..., :1])
    return jnp.diff(jnp.concatenate([first, edges], axis=-1), axis=-1)


#: Below this mean, Poisson draws use inversion with a fixed number of steps.
POISSON_INVERSION_MAX = 10.0
_POISSON_STEPS = 40
_PTRS_CANDIDATES = 4


def poisson(key: Array, lam: Array) -> Array:
    """Draw Poisson counts with a fixed amount of work per draw.

    For ``lam < 10``: inversion of the CDF unrolled over 40 terms (the tail
    beyond 40 has probability below 1e-13). For ``lam >= 10``: Hörmann's
    transformed rejection (PTRS) with four candidates; a draw whose four
    candidates are all rejected (probability below 1e-4) is a rounded normal
    with the Poisson's mean and variance. Measured
    against the exact law in ``tests/test_samplers.py``.

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
    u0 = hash_uniform(k_inv, lam.shape)
    p = jnp.exp(-small)
    cdf = p
    x_small = jnp.zeros(lam.shape, jnp.int32)
    for k in range(1, _POISSON_STEPS + 1):
        x_small = x_small + (u0 > cdf).astype(jnp.int32)
        p = p * small / k
        cdf = cdf + p
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
    log_ratio = jnp.log(v) + jnp.log(inv_alpha) - jnp.log(a / us**2 + b)
    exact = (
        (k >= 0)
        & ~((us < 0.013) & (v > us))
        & (log_ratio <= -big + k * loglam - jax.lax.lgamma(k + 1.0))
    )
    accepted = quick | exact
    first = jnp.argmax(accepted, axis=0)
    x_big = jnp.take_along_axis(k, first[None], axis=0)[0]
    # all candidates rejected: a rounded normal draw with the same mean and variance
    fallback = jnp.floor(big + slam * hash_normal(k_z, lam.shape) + 0.5)
    x_big = jnp.where(accepted.any(axis=0), x_big, jnp.maximum(fallback, 0.0)).astype(jnp.int32)
    return jnp.where(lam < POISSON_INVERSION_MAX, x_small, x_big)
