"""Fast, loop-free samplers written from uniforms and normals.

``jax.random.gamma`` (hence ``dirichlet``) runs a data-dependent rejection
loop per draw and is by far the slowest sampler on CPU (about 2 M draws/s
here, see ``docs/sampling.md``). The model draws a customer-level Dirichlet
over 21 departments and, for the enriched table, over 394 classes, so gamma
variates are the hot path. The samplers here do a fixed amount of work per
draw: the hash streams, the gamma, sums and the systematic rounding of counts;
:mod:`personagen.story._count_samplers` has the Poisson, binomial and multinomial.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = [
    "cummax",
    "cumsum",
    "hash_normal",
    "hash_uniform",
    "log_gamma",
    "matmul",
    "segment_sum",
]

_TINY = 1e-30


def _lowbias32(x: Array) -> Array:
    """Chris Wellons' ``lowbias32`` integer hash: a bijection on uint32 with low bias."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def hash_uniform(key: Array, shape: tuple[int, ...], block: int | Array = 0) -> Array:
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
    block : int or Array, optional
        Which block of ``prod(shape)`` draws of the key's stream (draws
        ``block * size`` to ``block * size + size - 1``): one key gives several
        independent arrays without a split (the binomial sampler's candidates).

    Returns
    -------
    Array
        float32 draws in (0, 1), never exactly 0 or 1.
    """
    words = jax.random.key_data(key).astype(jnp.uint32)
    k0, k1 = words[..., 0], words[..., 1]
    n = int(np.prod(shape)) if shape else 1
    start = jnp.asarray(block, jnp.uint32) * jnp.uint32(n)
    counter = jnp.arange(n, dtype=jnp.uint32).reshape(shape) + start
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


def cummax(x: Array, block: int = 8) -> Array:
    """Return the running maximum along the last axis, in linear time (as :func:`cumsum`)."""
    n = x.shape[-1]
    if n <= 2 * block:
        return jax.lax.cummax(x, axis=x.ndim - 1)
    n_blocks = -(-n // block)
    pad = [(0, 0)] * (x.ndim - 1) + [(0, n_blocks * block - n)]
    xb = jnp.pad(x, pad, constant_values=-jnp.inf).reshape(*x.shape[:-1], n_blocks, block)
    parts = [xb[..., :1]]
    for j in range(1, block):
        parts.append(jnp.maximum(parts[-1], xb[..., j : j + 1]))
    within = jnp.concatenate(parts, axis=-1)
    top = within[..., -1]
    before = jax.lax.cummax(top, axis=top.ndim - 1)
    before = jnp.concatenate([jnp.full_like(before[..., :1], -jnp.inf), before[..., :-1]], -1)
    out = jnp.maximum(within, before[..., None]).reshape(*x.shape[:-1], n_blocks * block)
    return out[..., :n]
