"""NumPyro distributions with fast samplers and exact log densities.

Each class here keeps the log density of its parent (so inference is exact)
and replaces only ``sample`` with a loop-free sampler from
:mod:`personagen.story._samplers`. Where the sampler approximates the law, the
docstring says how, and ``tests/story/test_samplers.py`` measures it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import gammaln
from numpyro.distributions import constraints

from personagen.story._count_samplers import binomial, multinomial, poisson
from personagen.story._samplers import (
    cumsum,
    hash_uniform,
    log_gamma,
    segment_sum,
    systematic_counts,
)

__all__ = [
    "FastBinomial",
    "FastDirichletMultinomial",
    "FastGamma",
    "FastMultinomial",
    "FastPoisson",
    "GroupedDirichletMultinomial",
]

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
    """Dirichlet-multinomial with a moment-matched, loop-free sampler.

    ``log_prob`` is numpyro's exact Dirichlet-multinomial density. ``sample``
    draws ``w ~ Dirichlet(c' p)`` (``c = sum(concentration)``, ``p`` its
    normalisation, ``c'`` from :func:`effective_concentration`) and splits
    ``total_count`` by systematic rounding of ``total * w``: the counts are
    integers summing exactly to ``total_count`` with the mean and, up to the
    rounding term (at most 1/4 per cell), the covariance of the
    Dirichlet-multinomial. It costs ``K`` gamma draws and no per-unit work.
    """

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        conc = jnp.broadcast_to(self.concentration, shape + self.event_shape)
        total = jnp.broadcast_to(self.total_count, shape).astype(jnp.int32)
        c = conc.sum(-1)
        p = conc / c[..., None]
        k_gamma, k_offset = jax.random.split(key)
        alpha = effective_concentration(c, total)[..., None] * p
        weights = jax.nn.softmax(log_gamma(k_gamma, alpha), axis=-1)
        offset = hash_uniform(k_offset, shape)
        return systematic_counts(weights, total, offset)


def _group_bounds(cum: Array, ends: np.ndarray) -> tuple[Array, Array]:
    """Cumulative sum before each group and at its end (groups sorted, ending at ``ends``)."""
    at_end = cum[..., ends]
    before = jnp.concatenate([jnp.zeros_like(at_end[..., :1]), at_end[..., :-1]], axis=-1)
    return before, at_end


class GroupedDirichletMultinomial(dist.Distribution):
    """Independent Dirichlet-multinomials over groups of one flat vector.

    Class units within each department: ``x[group == d] ~ DM(totals[d],
    concentration[group == d])``. Sampling is moment-matched as in
    :class:`FastDirichletMultinomial`, one Dirichlet per group, ``log_prob``
    exact.

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
        cum = cumsum(jnp.exp(log_w - jnp.moveaxis(group_max, 0, -1)[..., self.group]))
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
