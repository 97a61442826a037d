"""Price levels: how a customer's spend splits over the departments and classes it bought.

A customer's total revenue comes from its order values (:func:`~personagen.story.customer_core`);
given its units, the spend shares follow units times typical unit prices. The law:
department ``d``'s spend is ``G_d ~ Gamma(a u_d p_d / pbar, 1)`` (``a`` the price
concentration, ``u_d`` the units, ``p_d`` the unit price level, ``pbar`` the geometric mean
of the store's department levels), and the shares are ``G_d / sum G``: a Dirichlet over
the departments bought, with mean ``u_d p_d / sum_j u_j p_j``. It is what unit prices
``Gamma(a p / pbar, a / pbar)`` (mean ``p``) give when they are summed per department and
scaled to the customer's revenue: more units mean shares closer to units times prices,
and ``a`` sets how much a unit's price varies around its level. The classes of a
department split its spend the same way, with their own levels.

:class:`SpendShares` and :class:`GroupedSpendShares` draw those shares (loop-free, from
the fixed-budget gamma sampler) and score them exactly; :func:`split_cents_by_shares`
and :func:`split_grouped_cents` turn them into integer cents that add up exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import gammaln
from jax.typing import ArrayLike
from jaxtyping import Float, Int
from numpyro.distributions import constraints

from personagen.story._samplers import cumsum, log_gamma

__all__ = [
    "GroupedSpendShares",
    "SpendShares",
    "spend_concentration",
    "split_cents_by_shares",
    "split_grouped_cents",
]


def spend_concentration(
    units: Int[ArrayLike, "*batch parts"],
    log_price: Float[ArrayLike, "*batch parts"],
    store_log_price: Float[ArrayLike, "*batch departments"],
    price_concentration: Float[ArrayLike, "*batch"],
) -> Float[Array, "*batch parts"]:
    """Dirichlet parameters ``a u p / pbar`` of the spend shares (0 where nothing was bought).

    ``pbar`` is the geometric mean of the store's department price levels, so only
    ratios of prices matter (shifting every log price changes nothing).
    """
    centre = jnp.mean(jnp.asarray(store_log_price), axis=-1, keepdims=True)
    relative = jnp.exp(jnp.asarray(log_price) - centre)
    a = jnp.asarray(price_concentration)[..., None]
    return a * jnp.asarray(units, jnp.float32) * relative


def _masked_dirichlet_log_prob(value: Array, alpha: Array, bought: Array) -> Array:
    """Dirichlet log density over the bought parts of the last axis (the rest are 0)."""
    a = jnp.where(bought, alpha, 1.0)
    log_x = jnp.log(jnp.where(bought, value, 1.0))
    total = jnp.sum(jnp.where(bought, alpha, 0.0), axis=-1)
    parts = jnp.where(bought, (a - 1.0) * log_x - gammaln(a), 0.0).sum(-1)
    n_bought = jnp.sum(bought, axis=-1)
    # one part bought: its share is 1 with certainty (a point mass, density 1)
    return jnp.where(n_bought > 1, gammaln(total) + parts, 0.0)


class SpendShares(dist.Distribution):
    """Shares of a customer's spend: a Dirichlet over the parts with positive parameter.

    Parts with ``concentration == 0`` (nothing bought there) get share 0; the others
    are ``Dirichlet(concentration[bought])``. ``log_prob`` is that Dirichlet's density
    over the bought parts (0 when only one part was bought: its share is 1).
    """

    arg_constraints = {"concentration": constraints.nonnegative}  # noqa: RUF012 (numpyro API)
    support = constraints.simplex
    pytree_data_fields = ("concentration",)

    def __init__(self, concentration: Array, *, validate_args=None):
        self.concentration = jnp.asarray(concentration, jnp.float32)
        shape = jnp.shape(self.concentration)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        alpha = jnp.broadcast_to(
            self.concentration, sample_shape + self.batch_shape + self.event_shape
        )
        bought = alpha > 0
        log_g = jnp.where(bought, log_gamma(key, jnp.where(bought, alpha, 1.0)), -jnp.inf)
        return jax.nn.softmax(log_g, axis=-1, where=bought)

    def log_prob(self, value: Array) -> Array:
        return _masked_dirichlet_log_prob(value, self.concentration, self.concentration > 0)


class GroupedSpendShares(dist.Distribution):
    """Shares within each group of one flat vector: a :class:`SpendShares` per group.

    Class spend within each department: ``x[group == d] ~ SpendShares(concentration[group
    == d])``, each group's shares summing to 1 (a group with nothing bought: all 0).

    Parameters
    ----------
    concentration : Array, shape (..., C)
        Non-negative (0 where nothing was bought).
    group : ndarray of int, shape (C,)
        Group of each element, sorted, each of ``0..G-1`` present.
    """

    arg_constraints = {"concentration": constraints.nonnegative}  # noqa: RUF012 (numpyro API)
    support = constraints.independent(constraints.unit_interval, 1)
    pytree_data_fields = ("concentration",)
    pytree_aux_fields = ("group",)

    def __init__(self, concentration: Array, group: np.ndarray, *, validate_args=None):
        self.group = np.asarray(group)
        self.n_groups = int(self.group.max()) + 1
        self.concentration = jnp.asarray(concentration, jnp.float32)
        shape = jnp.shape(self.concentration)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def _group_max(self, x: Array) -> Array:
        top = jax.ops.segment_max(
            jnp.moveaxis(x, -1, 0), self.group, self.n_groups, indices_are_sorted=True
        )
        return jnp.moveaxis(top, 0, -1)[..., self.group]

    def sample(self, key: Array, sample_shape: tuple[int, ...] = ()) -> Array:
        shape = sample_shape + self.batch_shape + self.event_shape
        alpha = jnp.broadcast_to(self.concentration, shape)
        bought = alpha > 0
        log_g = jnp.where(bought, log_gamma(key, jnp.where(bought, alpha, 1.0)), -jnp.inf)
        top = self._group_max(log_g)
        w = jnp.where(bought, jnp.exp(log_g - jnp.where(jnp.isfinite(top), top, 0.0)), 0.0)
        totals = jax.ops.segment_sum(
            jnp.moveaxis(w, -1, 0), self.group, self.n_groups, indices_are_sorted=True
        )
        totals = jnp.moveaxis(totals, 0, -1)[..., self.group]
        return jnp.where(bought, w / jnp.where(totals > 0, totals, 1.0), 0.0)

    def log_prob(self, value: Array) -> Array:
        bought = self.concentration > 0
        out = jnp.zeros(jnp.shape(value)[:-1])
        for d in range(self.n_groups):  # static: the hierarchy's departments
            cols = np.flatnonzero(self.group == d)
            out = out + _masked_dirichlet_log_prob(
                value[..., cols], self.concentration[..., cols], bought[..., cols]
            )
        return out


#: Shares are rounded to integer weights out of this many per group before the split:
#: integer cumulative sums are exact (below 2**24 in float32 for up to 32 groups), so a
#: part with share 0 gets exactly 0 cents; shares below 1 / SHARE_QUANTUM get 0 cents.
SHARE_QUANTUM = 2**19


def split_cents_by_shares(
    cents: Int[Array, "*batch"], shares: Float[Array, "*batch parts"]
) -> Int[Array, "*batch parts"]:
    """Split integer ``cents`` over parts by ``shares`` (summing to 1), exactly.

    The parts are non-negative integers summing to ``cents``; parts with share 0 get 0
    (see :func:`split_grouped_cents`).
    """
    return split_grouped_cents(cents[..., None], shares, np.zeros(shares.shape[-1], np.int32))


def split_grouped_cents(
    group_cents: Int[Array, "*batch groups"],
    shares: Float[Array, "*batch parts"],
    group: np.ndarray,
) -> Int[Array, "*batch parts"]:
    """Split each group's cents over its parts by within-group ``shares``, exactly.

    ``group`` (sorted) gives each part's group; within every group the parts sum to
    ``group_cents[g]``. The shares become integer weights ``round(share *
    SHARE_QUANTUM)``; the cumulative cents up to a part are ``floor(cents * cumulative
    weight / group weight)`` and the last part of a group takes the rest, so parts are
    non-negative, a part of weight 0 gets 0 and nothing is lost to rounding. A group
    whose weights are all 0 puts its cents on its first part (it has none when nothing
    was bought there).
    """
    group = np.asarray(group)
    new_group = group[1:] != group[:-1]
    ends = np.append(np.flatnonzero(new_group), group.size - 1)
    is_first = np.insert(new_group, 0, True)
    weight = jnp.round(shares.astype(jnp.float32) * SHARE_QUANTUM).astype(jnp.int32)
    cum = cumsum(weight)  # exact: integers below 2**24
    at_end = cum[..., ends]
    before = jnp.concatenate([jnp.zeros_like(at_end[..., :1]), at_end[..., :-1]], axis=-1)
    span = (at_end - before)[..., group]
    within = cum - before[..., group]  # integer weight up to each part, within its group
    # floor(cents * within / span) exactly in int32: the quotient part q * within is an
    # integer at most cents; only the remainder's share r * within / span (< span) goes
    # through float32, where rounding is monotone, so equal weights give equal cents
    cents = group_cents[..., group]
    safe_span = jnp.maximum(span, 1)
    q, r = cents // safe_span, cents % safe_span
    rest = jnp.floor(r.astype(jnp.float32) * within.astype(jnp.float32) / safe_span)
    # past a group's last weight the share is whole: exactly r (float32 can land just
    # below it, and the parts after the last one bought would get the missing cent)
    rest = jnp.where(within >= safe_span, r.astype(jnp.float32), rest)
    cum_cents = jnp.where(span > 0, q * within + rest.astype(jnp.int32), cents)
    cum_cents = jnp.minimum(cum_cents, cents)
    cum_cents = cum_cents.at[..., ends].set(group_cents)
    prev = jnp.concatenate([jnp.zeros_like(cum_cents[..., :1]), cum_cents[..., :-1]], axis=-1)
    return cum_cents - jnp.where(is_first, 0, prev)
