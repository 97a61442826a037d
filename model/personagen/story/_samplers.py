"""Fast, loop-free samplers written from uniforms and normals.

``jax.random.gamma`` (hence ``dirichlet``) runs a data-dependent rejection
loop per draw and is by far the slowest sampler on CPU (about 2 M draws/s
here, see ``docs/sampling.md``). The model draws a customer-level Dirichlet
over 21 departments and, for the enriched table, over 394 classes, so gamma
variates are the hot path. The samplers here do a fixed amount of work per
draw.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = [
    "binomial",
    "cumsum",
    "hash_normal",
    "hash_uniform",
    "log_gamma",
    "matmul",
    "multinomial",
    "poisson",
    "segment_sum",
    "systematic_counts",
]

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
    Uniformity and independence are tested in ``tests/story/test_samplers.py``.

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
    sampling noise of 400,000 draws, see ``tests/story/test_samplers.py``). The
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


def matmul(a: Array, b: Array) -> Array:
    """Matrix product in full float32 precision on every backend.

    On a GPU, XLA's default float32 product uses TF32 tensor cores (a 10-bit
    mantissa): the class shares came out 4e-4 off and integer cumulative units,
    hence the exact money split, were wrong (measured on an H100,
    docs/sampling.md). ``Precision.HIGHEST`` keeps float32; on the CPU it is
    what the default already does.
    """
    return jnp.matmul(a, b, precision=jax.lax.Precision.HIGHEST)


def segment_sum(x: Array, index: Array | np.ndarray, n: int) -> Array:
    """Sum the last axis of ``x`` into ``n`` groups given by ``index`` (a one-hot product).

    Its rounding can depend on the batch size on a GPU; the class draw, which must
    not, sums its groups from cumulative sums instead (``GroupedDirichletMultinomial``).
    """
    onehot = (jnp.asarray(index)[:, None] == jnp.arange(n)[None, :]).astype(x.dtype)
    return matmul(x, onehot)


def cumsum(x: Array, block: int = 8) -> Array:
    """Cumulative sum along the last axis, in linear time.

    ``jnp.cumsum`` lowers to a ``reduce_window`` that costs the square of the
    axis length on CPU (394 classes: 155,000 additions per customer). Here the
    axis is cut into blocks summed by a small triangular matrix product, plus
    the running total of the blocks. Integer input is summed in float32 and is
    exact while totals stay below ``2**24``.
    """
    n = x.shape[-1]
    if n <= 2 * block:
        return jnp.cumsum(x, axis=-1)
    n_blocks = -(-n // block)
    pad = [(0, 0)] * (x.ndim - 1) + [(0, n_blocks * block - n)]
    xf = jnp.pad(x.astype(jnp.float32), pad).reshape(*x.shape[:-1], n_blocks, block)
    within = matmul(xf, jnp.triu(jnp.ones((block, block), jnp.float32)))
    totals = within[..., -1]
    before = jnp.cumsum(totals, axis=-1) - totals
    out = (within + before[..., None]).reshape(*x.shape[:-1], n_blocks * block)[..., :n]
    return out.astype(x.dtype)


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
    cum = cumsum(fractions)
    cum = jnp.clip(cum.at[..., -1].set(1.0), 0.0, 1.0)
    edges = jnp.floor(total[..., None].astype(jnp.float32) * cum + offset[..., None])
    edges = jnp.minimum(edges.astype(jnp.int32), total[..., None].astype(jnp.int32))
    first = jnp.zeros_like(edges[..., :1])
    return jnp.diff(jnp.concatenate([first, edges], axis=-1), axis=-1)


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
