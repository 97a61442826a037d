"""Customers whose department mixes vary more or less tightly: a spread of the concentration.

A persona's customers draw their department mix from ``Dirichlet(c_i * theta_p)``. With
one concentration per persona (``c_i = c_p``) every customer of a persona is pulled
equally hard towards its profile; real households of one type differ in that too (some
buy in one or two departments, some everywhere; docs/validation.md measured the gain).
Here a customer's concentration is lognormal around its persona's,

    log c_i = log c_p + sigma_p * eps_i,   eps_i ~ Normal(0, 1),

and the department units are a Dirichlet-multinomial given ``c_i``. The compound law has
no closed form; its log density integrates ``eps`` by Gauss-Hermite quadrature with
:data:`SPREAD_NODES` nodes (exact for ``sigma_p = 0``, where every node is ``c_p``;
``tests/story/test_spread.py`` bounds the quadrature error and compares the sampler with
an independent draw of ``c_i``). The sampler draws ``eps_i`` from the site's key folded
with 1 and the counts from the site's own key, so a configuration without a spread draws
bit for bit what it drew before the spread existed, and no sample site is added to the
story (which would move numpyro's key stream for every later site).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import gammaln, logsumexp
from jax.typing import ArrayLike
from numpyro.distributions import constraints

from personagen.story._distributions import FastDirichletMultinomial

__all__ = [
    "SPREAD_NODES",
    "SpreadDirichletMultinomial",
    "dm_log_pmf",
    "node_multipliers",
    "quadrature",
]

#: Gauss-Hermite nodes of the concentration spread. 16 integrate polynomials of degree 31
#: exactly; on The Complete Journey's department counts (12 departments, a median 278
#: units a household, up to 4,253) the mean absolute error of the log density against 64
#: nodes is 6.5e-6 nats at sigma 0.56 (largest 0.002) and 2.2e-3 at sigma 1 (largest 0.08;
#: 9 nodes: 5e-4 and 0.021), docs/decisions.md;
#: ``tests/story/test_spread.py`` bounds it on synthetic draws against 200 nodes.
SPREAD_NODES = 16


def quadrature(n_nodes: int = SPREAD_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Return standard-normal nodes and the logs of their weights, each shape (J,), float32.

    ``E f(eps) ~ sum_j exp(log_w_j) f(x_j)``; ``n_nodes = 1`` is the node 0 with weight 1.
    """
    if n_nodes == 1:
        return np.zeros(1, np.float32), np.zeros(1, np.float32)
    nodes, weights = np.polynomial.hermite.hermgauss(n_nodes)
    return (np.sqrt(2.0) * nodes).astype(np.float32), np.log(weights / np.sqrt(np.pi)).astype(
        np.float32
    )


def node_multipliers(spread: ArrayLike, nodes: ArrayLike) -> Array:
    """Return ``c_i / c_p = exp(sigma x_j)`` at each node, shape (..., J) for spread (...)."""
    return jnp.exp(jnp.asarray(spread, jnp.float32)[..., None] * jnp.asarray(nodes))


def dm_log_pmf(value: ArrayLike, concentration: ArrayLike, total: ArrayLike) -> Array:
    """Exact Dirichlet-multinomial log pmf over the last axis (broadcasts), shape (...)."""
    value = jnp.asarray(value, jnp.float32)
    concentration = jnp.asarray(concentration)
    total = jnp.asarray(total, jnp.float32)
    c = concentration.sum(-1)
    # a cell not bought contributes lgamma(0 + a) - lgamma(a) = 0; computed, an a that
    # underflowed to 0 (a rare department at the spread's lowest node) would give inf - inf
    bought = value > 0
    a = jnp.where(bought, concentration, 1.0)
    cells = jnp.where(bought, gammaln(value + a) - gammaln(a), 0.0)
    return (
        gammaln(total + 1.0)
        - gammaln(value + 1.0).sum(-1)
        + gammaln(c)
        - gammaln(total + c)
        + cells.sum(-1)
    )


class SpreadDirichletMultinomial(dist.Distribution):
    """Dirichlet-multinomial with a lognormal spread of its concentration (module docstring).

    Parameters
    ----------
    concentration : Array, shape (..., D)
        The persona's ``c_p * theta_p``.
    spread : Array, shape (...)
        ``sigma_p``, the log-scale sd of the customer's concentration (0: none).
    total_count : Array, shape (...)
        Units.
    """

    arg_constraints = {  # noqa: RUF012 (numpyro API)
        "concentration": constraints.independent(constraints.positive, 1),
        "spread": constraints.nonnegative,
    }
    support = constraints.independent(constraints.nonnegative_integer, 1)
    pytree_data_fields = ("concentration", "spread", "total_count")

    def __init__(
        self,
        concentration: ArrayLike,
        spread: ArrayLike,
        total_count: ArrayLike,
        *,
        validate_args: bool | None = None,
    ):
        batch_shape = jnp.broadcast_shapes(
            jnp.shape(concentration)[:-1], jnp.shape(spread), jnp.shape(total_count)
        )
        self.concentration = jnp.broadcast_to(
            concentration, (*batch_shape, jnp.shape(concentration)[-1])
        )
        self.spread = jnp.broadcast_to(jnp.asarray(spread, jnp.float32), batch_shape)
        self.total_count = jnp.broadcast_to(total_count, batch_shape)
        super().__init__(batch_shape, self.concentration.shape[-1:], validate_args=validate_args)

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape
        eps = jax.random.normal(jax.random.fold_in(key, 1), shape)
        # exp(0 * eps) is exactly 1: without a spread the counts are the plain draw's
        multiplier = jnp.exp(self.spread * eps)[..., None]
        return FastDirichletMultinomial(self.concentration * multiplier, self.total_count).sample(
            key
        )

    def node_log_prob(self, value: ArrayLike) -> Array:
        """Return ``log w_j + log DM(value | c e^(sigma x_j) theta)`` per node, (..., J).

        One node at a time (``lax.map``): memory stays that of one Dirichlet-multinomial.
        """
        nodes, log_w = quadrature()
        value = jnp.asarray(value)
        multipliers = jnp.moveaxis(node_multipliers(self.spread, nodes), -1, 0)  # (J, ...)

        def at(multiplier: Array) -> Array:
            conc = self.concentration * multiplier[..., None]
            return dm_log_pmf(value, conc, self.total_count)

        per_node = jax.lax.map(at, multipliers)  # (J, ...)
        return jnp.moveaxis(per_node, 0, -1) + log_w

    def log_prob(self, value: ArrayLike) -> Array:
        # Without any spread every node is the same density: compute it once (assignment
        # requests and weights-mode fits score the shipped, spread-free personas). Under
        # vmap ``cond`` computes both branches, which is no worse than the quadrature alone.
        return jax.lax.cond(
            jnp.all(self.spread == 0),
            lambda: dm_log_pmf(value, self.concentration, self.total_count),
            lambda: logsumexp(self.node_log_prob(value), axis=-1),
        )
