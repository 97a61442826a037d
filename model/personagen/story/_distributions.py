"""NumPyro distributions with fast samplers and exact log densities.

Each class here keeps the log density of its parent (so inference is exact)
and replaces only ``sample`` with a loop-free, fixed-work sampler of the same law
(:mod:`personagen.story._samplers`, :mod:`._count_samplers`, :mod:`._tree`);
``tests/story/test_samplers.py`` measures each against the exact law.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import gammaln
from numpyro.distributions import constraints

from personagen.story._count_samplers import binomial, multinomial, poisson
from personagen.story._samplers import cummax, cumsum, hash_uniform, log_gamma, segment_sum
from personagen.story._tree import tree_multinomial

__all__ = [
    "FastBeta",
    "FastBinomial",
    "FastDirichletMultinomial",
    "FastGamma",
    "FastMultinomial",
    "FastPoisson",
    "GroupedDirichletMultinomial",
]


@functools.lru_cache(maxsize=16)
def _exact_sampler(group_bytes: bytes, size: int) -> Callable[[Array, Array, Array], Array]:
    """Return the jitted exact sampler of one group layout, over any batch shape.

    Jitted once per layout (and shape): numpyro runs models eagerly while it traces
    them (``Predictive``, ``handlers.trace``), and eager, every small operation of the
    splitting tree would compile on its own (a minute per trace); inside the chunk
    sampler it inlines.
    """
    group = np.frombuffer(group_bytes, np.int64, count=size)
    n_groups = int(group[-1]) + 1

    def one(key: Array, concentration: Array, totals: Array) -> Array:
        k_gamma, k_tree = jax.random.split(key)
        log_w = log_gamma(k_gamma, concentration)
        return tree_multinomial(k_tree, totals, log_w, group, n_groups)

    @jax.jit
    def batch(key: Array, concentration: Array, totals: Array) -> Array:
        shape = concentration.shape[:-1]
        if not shape:
            return one(key, concentration, totals)
        n = int(np.prod(shape))
        keys = jax.random.split(key, n)
        flat_c = concentration.reshape(n, size)
        flat_t = totals.reshape(n, totals.shape[-1])
        return jax.vmap(one)(keys, flat_c, flat_t).reshape(*shape, size)

    return batch


def _exact_dm(key: Array, concentration: Array, totals: Array, group: np.ndarray) -> Array:
    """Exact grouped Dirichlet-multinomial draws: gamma weights, then the splitting tree.

    ``concentration`` (..., C), ``totals`` (..., G); one key per batch element.
    """
    group = np.ascontiguousarray(group, np.int64)
    return _exact_sampler(group.tobytes(), group.size)(key, concentration, totals)


#: Smallest effective concentration used by the count samplers (see
#: ``FastDirichletMultinomial``): at one unit the law is a single categorical
#: draw, which a Dirichlet with this concentration reproduces to within 1e-3.
MIN_EFFECTIVE_CONCENTRATION = 1e-3


def effective_concentration(concentration: Array, total: Array) -> Array:
    """Concentration ``c'`` of the Dirichlet whose scaled draw matches DM(total, c) moments.

    ``total * Dirichlet(c' * p)`` has the mean and covariance of a
    Dirichlet-multinomial with ``total`` trials and concentration ``c``, ``c * p``,
    when ``c' = c (total - 1) / (total + c)``.
    """
    total = jnp.asarray(total, jnp.float32)
    c_eff = concentration * (total - 1.0) / (total + concentration)
    return jnp.maximum(c_eff, MIN_EFFECTIVE_CONCENTRATION)


class FastGamma(dist.Gamma):
    """Gamma with the fixed-budget Marsaglia-Tsang sampler of :func:`log_gamma`."""

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        alpha = jnp.broadcast_to(self.concentration, shape)
        return jnp.exp(log_gamma(key, alpha)) / self.rate


class FastBeta(dist.Beta):
    """Beta drawn as ``G_a / (G_a + G_b)`` from two fixed-budget gamma draws."""

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        k_a, k_b = jax.random.split(key)
        log_a = log_gamma(k_a, jnp.broadcast_to(self.concentration1, shape))
        log_b = log_gamma(k_b, jnp.broadcast_to(self.concentration0, shape))
        # in log space: shapes below 1 put gamma draws far below the smallest float32
        return jax.nn.sigmoid(log_a - log_b)


#: Largest count :class:`FastGeometric` returns (a dropout probability of zero would
#: otherwise give infinity).
MAX_GEOMETRIC = 2**30


class FastGeometric(dist.GeometricProbs):
    """Geometric (failures before the first success) by inversion, clipped at ``MAX_GEOMETRIC``."""

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        u = jax.random.uniform(key, shape, minval=jnp.finfo(jnp.float32).tiny)
        g = jnp.floor(jnp.log(u) / jnp.log1p(-jnp.broadcast_to(self.probs, shape)))
        return jnp.minimum(g, MAX_GEOMETRIC).astype(jnp.int32)


class FastPoisson(dist.Poisson):
    """Poisson with the fixed-work sampler of :func:`personagen.story._count_samplers.poisson`."""

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        return poisson(key, jnp.broadcast_to(self.rate, shape))


class FastMultinomial(dist.MultinomialProbs):
    """Multinomial with the fixed-work sampler of ``story._count_samplers.multinomial``.

    numpyro's own sampler draws one categorical per trial padded to a static
    maximum; ``jax.random.multinomial`` chains ``jax.random.binomial`` draws,
    whose rejection loops make every customer of a batch wait for the slowest.
    """

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        n = jnp.broadcast_to(self.total_count, shape)
        p = jnp.broadcast_to(self.probs, shape + self.event_shape)
        return multinomial(key, n, p)


class FastBinomial(dist.BinomialProbs):
    """Binomial with the fixed-work sampler of :func:`personagen.story._count_samplers.binomial`."""

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        return binomial(
            key, jnp.broadcast_to(self.total_count, shape), jnp.broadcast_to(self.probs, shape)
        )


class FastDirichletMultinomial(dist.DirichletMultinomial):
    """Dirichlet-multinomial with an exact, loop-free sampler.

    ``log_prob`` is numpyro's exact density, and ``sample`` draws exactly that law:
    ``w ~ Dirichlet(concentration)`` by :func:`log_gamma`, then
    ``Multinomial(total_count, w)`` by the splitting tree of
    :func:`personagen.story._tree.tree_multinomial` (K - 1 fixed-work binomial draws
    in ``ceil(log2 K)`` levels). ``tests/story/test_samplers.py`` compares the whole
    law with numpyro's own sampler.
    """

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        conc = jnp.broadcast_to(self.concentration, shape + self.event_shape)
        total = jnp.broadcast_to(self.total_count, shape).astype(jnp.int32)[..., None]
        return _exact_dm(key, conc, total, np.zeros(conc.shape[-1], np.int64))


def _group_bounds(cum: Array, ends: np.ndarray) -> tuple[Array, Array]:
    """Cumulative sum before each group and at its end (groups sorted, ending at ``ends``)."""
    at_end = cum[..., ends]
    before = jnp.concatenate([jnp.zeros_like(at_end[..., :1]), at_end[..., :-1]], axis=-1)
    return before, at_end


class GroupedDirichletMultinomial(dist.Distribution):
    """Independent Dirichlet-multinomials over groups of one flat vector.

    Class units within each department: ``x[group == d] ~ DM(totals[d],
    concentration[group == d])``. Sampling is moment-matched, one Dirichlet per group
    (see :func:`effective_concentration` and docs/sampling.md: the exact splitting tree
    of :class:`FastDirichletMultinomial` costs 3.6x here), ``log_prob`` exact.

    Parameters
    ----------
    concentration : Array, shape (..., C)
        Positive.
    totals : Array, shape (..., G)
        Units per group.
    group : ndarray of int, shape (C,)
        Group of each flat element, sorted, each of ``0..G-1`` present.
    """

    arg_constraints = {"concentration": constraints.positive}  # noqa: RUF012 (numpyro API)
    support = constraints.independent(constraints.nonnegative_integer, 1)
    pytree_data_fields = ("concentration", "totals")
    pytree_aux_fields = ("group",)

    def __init__(
        self, concentration: Array, totals: Array, group: np.ndarray, *, validate_args=None
    ):
        self.group = np.asarray(group)
        self.n_groups = int(self.group.max()) + 1
        batch_shape = jnp.broadcast_shapes(jnp.shape(concentration)[:-1], jnp.shape(totals)[:-1])
        self.concentration = jnp.broadcast_to(concentration, (*batch_shape, self.group.shape[0]))
        self.totals = jnp.broadcast_to(totals, (*batch_shape, self.n_groups))
        super().__init__(batch_shape, (self.group.shape[0],), validate_args=validate_args)

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        conc = jnp.broadcast_to(self.concentration, shape + self.event_shape)
        totals = jnp.broadcast_to(self.totals, (*shape, self.n_groups)).astype(jnp.int32)
        # Group sums come from differences of cumulative sums at the group ends, not
        # from a product with a one-hot matrix: on a GPU the rounding of that product
        # depends on the batch size, so a customer's classes depended on the chunk
        # size (docs/sampling.md); cumulative sums are elementwise per customer.
        new_group = self.group[1:] != self.group[:-1]
        ends = np.append(np.flatnonzero(new_group), self.group.size - 1)
        before, at_end = _group_bounds(cumsum(conc), ends)
        group_conc = at_end - before
        c_eff = effective_concentration(group_conc, totals)
        alpha = (c_eff / group_conc)[..., self.group] * conc
        k_gamma, k_offset = jax.random.split(key)
        log_w = log_gamma(k_gamma, alpha)
        # weights within each group, scaled by the group max (stable), then cumulated
        group_max = jax.ops.segment_max(
            jnp.moveaxis(log_w, -1, 0), self.group, self.n_groups, indices_are_sorted=True
        )
        # the blockwise cumsum computes each prefix as its own dot product, so it is
        # monotone only up to rounding; a dip made a count -1 (2 in 200,000 draws of 394
        # classes at 200 units): its running maximum is monotone, and equal to it elsewhere
        cum = cummax(cumsum(jnp.exp(log_w - jnp.moveaxis(group_max, 0, -1)[..., self.group])))
        before, at_end = _group_bounds(cum, ends)
        within = (cum - before[..., self.group]) / (at_end - before)[..., self.group]
        within = jnp.clip(within.at[..., ends].set(1.0), 0.0, 1.0)
        offset = hash_uniform(k_offset, (*shape, self.n_groups))
        tot = totals.astype(jnp.float32)[..., self.group]
        edges = jnp.floor(tot * within + offset[..., self.group]).astype(jnp.int32)
        edges = jnp.minimum(edges, totals[..., self.group])
        is_first = np.insert(new_group, 0, True)

        prev = jnp.concatenate([jnp.zeros_like(edges[..., :1]), edges[..., :-1]], axis=-1)
        return edges - jnp.where(is_first, 0, prev)

    def log_prob(self, value: Array) -> Array:
        conc = self.concentration
        n = self.totals
        a = segment_sum(conc, jnp.asarray(self.group), self.n_groups)
        per_class = gammaln(value + conc) - gammaln(conc) - gammaln(value + 1.0)
        per_group = gammaln(a) - gammaln(n + a) + gammaln(n + 1.0)
        return per_class.sum(-1) + per_group.sum(-1)
