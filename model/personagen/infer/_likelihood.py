"""Per-customer log-likelihood under each persona: the customer story, marginalised.

:func:`customer_log_likelihood` scores the observable part of a customer's
story (:func:`personagen.story.customer_core`) under every persona, with the
segment summed out and the latent rates integrated analytically:

* orders: the purchase process (:mod:`personagen.story._process`): the number of repeat
  orders and the time of the last one given the lifetime, with the gamma purchase rate
  and the beta dropout probability integrated out in closed form;
* units: ``U - n ~ Poisson(n e)``, ``e ~ Gamma`` -> a gamma-Poisson;
* revenue: ``log R ~ Normal(loc + shift(n), sqrt(sd_between^2 + scale(n)^2))`` (the
  customer-level mean order value integrated out of the Fenton-Wilkinson law);
* department units: the Dirichlet-multinomial's exact density, integrated over the
  customer's concentration where the persona has a spread (Gauss-Hermite quadrature,
  :mod:`personagen.story._spread`);
* department values given the units: the spend shares' Dirichlet over the departments
  bought (:mod:`personagen.story._prices`: units times price levels);
* lifetime, return rate: their segment laws (recency is the purchase process's).

The laws and their parameters come from the same helpers as the forward model
(:func:`~personagen.story.gamma_from_lognormal`, :func:`~personagen.story.fenton_wilkinson`),
so sampling and inference share one definition of the story;
``tests/infer/test_weights.py`` fits data the sampler made.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import betainc, gammaln, logsumexp
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from personagen._compilation_cache import use_compilation_cache
from personagen.config import DAYS_PER_MONTH, PriorArrays
from personagen.data import Observations
from personagen.story import (
    Population,
    SpendShares,
    SpreadDirichletMultinomial,
    as_arrays,
    combine_process_terms,
    dropout_beta,
    fenton_wilkinson,
    gamma_from_lognormal,
    node_multipliers,
    process_count_terms,
    process_log_prob,
    quadrature,
    rate_gamma,
    spend_concentration,
)

__all__ = [
    "MIN_SPEND",
    "FitData",
    "customer_log_likelihood",
    "fit_log_likelihood",
    "last_order_months",
    "observed_spend_shares",
    "order_count_log_prob",
    "prepare_fit_data",
    "process_parameters",
    "purchase_log_prob",
]


#: A department bought for less than this (currency units; 0 after rounding, or free
#: items) is scored at it: its spend share must be positive under the Dirichlet.
MIN_SPEND = 0.005


def observed_spend_shares(obs: Observations) -> Float[Array, "customers departments"]:
    """Each customer's share of its revenue per department bought (0 where none), (N, D).

    From the department values, floored at :data:`MIN_SPEND` where units were bought and
    renormalised over those departments (values of departments without units are left out).
    """
    bought = jnp.asarray(obs.department_units) > 0
    value = jnp.asarray(obs.department_revenue, jnp.float32)
    value = jnp.where(bought, jnp.maximum(value, MIN_SPEND), 0.0)
    total = value.sum(-1, keepdims=True)
    return value / jnp.where(total > 0, total, 1.0)


def last_order_months(obs: Observations) -> Float[Array, " customers"]:
    """Months from the first to the last order, ``t_x`` of the purchase process.

    From the whole days of a customer table: the last order fell ``lifetime_days -
    recency_days`` whole days after the first, so it is scored at the middle of that
    day, ``(days + 0.5) / 30.4375`` months, and never after the lifetime. 0 for
    customers with one order (the process does not use it).
    """
    lifetime = jnp.asarray(obs.lifetime_months, jnp.float32)
    days = jnp.round(lifetime * DAYS_PER_MONTH) - jnp.asarray(obs.recency_days, jnp.float32)
    months = jnp.minimum((jnp.maximum(days, 0.0) + 0.5) / DAYS_PER_MONTH, lifetime)
    return jnp.where(jnp.asarray(obs.n_orders) > 1, months, 0.0)


def _segment_terms(priors: PriorArrays, obs: Observations) -> Array:
    """Log density of the segment-only observables (lifetime, return rate), shape (N, S)."""
    lifetime = dist.LogNormal(priors.log_lifetime_loc, priors.log_lifetime_sd).log_prob(
        obs.lifetime_months[:, None]
    )
    known = ~jnp.isnan(obs.return_rate)[:, None]
    rr = jnp.clip(jnp.where(known, obs.return_rate[:, None], 0.5), 1e-4, 1 - 1e-4)
    logit = jnp.log(rr) - jnp.log1p(-rr)
    normal = dist.Normal(priors.logit_return_loc, priors.logit_return_sd)
    returns = normal.log_prob(logit) - jnp.log(rr * (1 - rr))
    returns = jnp.where(known, returns, 0.0)  # unknown return rates carry no information
    return lifetime + returns


def process_parameters(pop: Population, priors: PriorArrays) -> tuple[Array, ...]:
    """Return ``(r, alpha)`` (P, S) of the rate gamma and ``(a, b)`` (P, 1) of the dropout beta."""
    r, alpha = rate_gamma(
        pop.purchase_rate_loc[:, None],
        pop.purchase_rate_sd[:, None],
        priors.log_rate_sd[:, None],
        priors.log_multiplier_loc[None, :],
        priors.log_multiplier_sd[None, :],
    )
    a, b = dropout_beta(pop.dropout_loc, priors.dropout_concentration)
    return r, alpha, a[:, None], b[:, None]


def purchase_log_prob(
    pop: Population, priors: PriorArrays, obs: Observations
) -> Float[Array, "customers personas segments"]:
    """Return ``log p(x, t_x | T, persona p, segment s)`` of the purchase process, (N, P, S).

    ``x`` repeat orders, ``t_x`` the time of the last order
    (:func:`last_order_months`), ``T`` the lifetime; see
    :func:`personagen.story.process_log_prob`.
    """
    r, alpha, a, b = process_parameters(pop, priors)
    x = (obs.n_orders - 1).astype(jnp.float32)[:, None, None]
    t_x = last_order_months(obs)[:, None, None]
    big_t = obs.lifetime_months.astype(jnp.float32)[:, None, None]
    return process_log_prob(x, t_x, big_t, r, alpha, a, b)


def order_count_log_prob(
    pop: Population,
    priors: PriorArrays,
    n_orders: Int[ArrayLike, " customers"],
    lifetime_months: Float[ArrayLike, " customers"],
) -> Float[Array, "customers personas segments"]:
    """Return ``log P(n_orders | lifetime, persona p, segment s)``, shape (N, P, S).

    The purchase process's count alone (the time of the last order summed out):
    given the rate and the dropout probability, ``x = n - 1`` repeat orders happen
    either with the customer still active, ``(1-q)^(x+1) Poisson(x; lambda T)``, or
    with the customer dropping out after the ``x``-th, ``q (1-q)^x P(N_T >= x)``;
    over the gamma rate these are a negative binomial pmf and tail (a regularised
    incomplete beta), over the beta dropout two beta-function ratios.
    """
    r, alpha, a, b = process_parameters(pop, priors)
    x = jnp.asarray(n_orders).astype(jnp.float32)[:, None, None] - 1.0
    big_t = jnp.asarray(lifetime_months, jnp.float32)[:, None, None]
    log_p = jnp.log(alpha) - jnp.log(alpha + big_t)  # NB success probability
    log_1mp = jnp.log(big_t) - jnp.log(alpha + big_t)
    pmf = gammaln(r + x) - gammaln(r) - gammaln(x + 1.0) + r * log_p + x * log_1mp
    tail = jnp.log(jnp.where(x > 0, betainc(jnp.maximum(x, 1.0), r, jnp.exp(log_1mp)), 1.0))
    beta_part = gammaln(b + x) - gammaln(a + b + x + 1.0) + gammaln(a + b) - gammaln(b)
    return beta_part + jnp.logaddexp(jnp.log(b + x) + pmf, jnp.log(a) + tail)


def customer_log_likelihood(
    pop: Population, priors: PriorArrays, obs: Observations
) -> Float[Array, "customers personas"]:
    """Return ``log p(customer i's observations | persona p)``, shape (N, P).

    Parameters
    ----------
    pop : Population
        Population parameters (profiles, locations); ``persona_weights`` is not used.
    priors : PriorArrays
        Numeric priors.
    obs : Observations
        Observed customers.

    Returns
    -------
    Array, shape (N, P)
    """
    n = obs.n_orders.astype(jnp.float32)[:, None, None]  # (N, 1, 1) against (P, S)
    orders = purchase_log_prob(pop, priors, obs)  # (N, P, S)
    segment = jnp.log(priors.segment_probs)[None] + orders + _segment_terms(priors, obs)[:, None, :]
    per_persona = logsumexp(segment, axis=-1)  # (N, P)
    n2 = n[..., 0]  # (N, 1)
    k_e, beta_e = gamma_from_lognormal(priors.log_extra_units_loc, priors.log_extra_units_sd)
    units = dist.GammaPoisson(k_e, beta_e / n2).log_prob(obs.units[:, None] - n2[:, :1])
    shift, scale = fenton_wilkinson(n2, priors.log_order_value_sd_order)
    revenue = dist.LogNormal(
        pop.order_value_loc + shift,
        jnp.sqrt(pop.order_value_sd**2 + scale**2),
    ).log_prob(obs.revenue[:, None])
    concentration = pop.customer_concentration[:, None] * pop.department_profile  # (P, D)
    departments = SpreadDirichletMultinomial(
        concentration, pop.concentration_spread, obs.units[:, None]
    ).log_prob(obs.department_units[:, None, :])
    log_price = pop.department_log_price + priors.persona_log_price  # (P, D)
    alpha = spend_concentration(
        obs.department_units[:, None, :],
        log_price,
        pop.department_log_price,
        pop.price_concentration,
    )
    shares = observed_spend_shares(obs)[:, None, :]
    spend = SpendShares(alpha).log_prob(shares)
    return per_persona + units + revenue + departments + spend


class FitData(NamedTuple):
    """Observations reduced to what a fit of the profiles needs (:func:`prepare_fit_data`).

    Every term of :func:`customer_log_likelihood` that does not depend on the
    fitted sites (persona weights, department profiles, order value location and spread,
    purchase process parameters, customer concentration) is computed once; the
    department counts are kept as their non-zero entries only, because
    ``lgamma(0 + a) - lgamma(a) = 0``.

    Attributes
    ----------
    constant : Array, shape (N, P)
        Units term, the constant parts of the revenue and department terms (the
        multinomial coefficient).
    order_constant : Array, shape (N, P, S)
        log segment probability and the segment-only terms (lifetime, return rate).
    repeat_orders, last_order_months, lifetime_months : Array, shape (N, 1, 1)
        ``x``, ``t_x`` and ``T`` of the purchase process.
    distinct_repeats : Array, shape (X, 1, 1)
    repeat_index : Array, shape (N,), int32
        The distinct values of ``x`` and each customer's: the lgamma terms of the
        process depend on ``x`` only, so they are computed X times per persona and
        segment, not N times (:func:`~personagen.story.process_count_terms`).
    rate_prior_sd : Array, shape (P, 1)
        The YAML spread of each persona's log rate (it fixes the gamma's mean).
    multiplier_loc, multiplier_sd : Array, shape (1, S)
        The segments' log frequency multipliers.
    dropout_concentration : Array, shape (P,)
        ``a + b`` of each persona's dropout beta.
    log_revenue_centred : Array, shape (N, P)
        ``log R - shift(n)``: the revenue term is Normal(loc_p, sqrt(sd_p^2 + scale^2)) of it.
    revenue_scale2 : Array, shape (N, P)
        The order-level part of the revenue term's variance, ``scale(n)^2``; the
        customer-level part is each persona's fitted ``order_value_sd`` squared.
    total_units : Array, shape (N, 1)
        Units per customer (the department term's ``lgamma(n + c)`` needs them).
    nz_customer : Array, shape (nnz,), int32
        Customer of each non-zero department count.
    nz_pair : Array, shape (nnz,), int32
        Index of its (department, count) pair in ``pair_department``/``pair_units``.
    pair_department : Array, shape (U,), int32
    pair_units : Array, shape (U,), float
        The distinct (department, count) pairs: the department term depends on a
        customer's counts only through them, so its lgamma calls are made U times
        per persona instead of nnz times (U is a few hundred to a few thousand).
    nz_department, nz_units, nz_log_share : Array, shape (nnz,)
        Department, units and log observed spend share (:func:`observed_spend_shares`)
        of each non-zero department count: the spend term's data.
    several_departments : Array, shape (N, 1), bool
        Whether the customer bought in more than one department (else its spend share
        is 1 and the term is 0).
    persona_log_price : Array, shape (P, D) or (1, D)
        The personas' price multipliers (logs); (1, D) when every persona has the same,
        so the spend term is computed once, not once per persona.
    spread_nodes, spread_log_weights : Array, shape (J,)
        Quadrature of the concentration spread (:func:`personagen.story.quadrature`): the
        :data:`~personagen.story.SPREAD_NODES` nodes, or the single node 0 when no persona
        of the priors has a spread (then the department term costs what it did without).
    """

    constant: Array
    order_constant: Array
    repeat_orders: Array
    last_order_months: Array
    lifetime_months: Array
    distinct_repeats: Array
    repeat_index: Array
    rate_prior_sd: Array
    multiplier_loc: Array
    multiplier_sd: Array
    dropout_concentration: Array
    log_revenue_centred: Array
    revenue_scale2: Array
    total_units: Array
    nz_customer: Array
    nz_pair: Array
    pair_department: Array
    pair_units: Array
    nz_department: Array
    nz_units: Array
    nz_log_share: Array
    several_departments: Array
    persona_log_price: Array
    spread_nodes: Array
    spread_log_weights: Array


def prepare_fit_data(priors: PriorArrays, obs: Observations) -> FitData:
    """Precompute the parameter-free parts of the log-likelihood (see :class:`FitData`)."""
    use_compilation_cache()
    dept = np.asarray(obs.department_units)
    rows, cols = np.nonzero(dept)
    counts = dept[rows, cols]
    pairs, pair_index = np.unique(np.column_stack([cols, counts]), axis=0, return_inverse=True)
    priors = as_arrays(priors)
    dense = _prepare_dense(priors, as_arrays(obs), rows, counts)
    repeats, repeat_index = np.unique(np.asarray(obs.n_orders) - 1, return_inverse=True)
    shares = np.asarray(observed_spend_shares(obs))
    persona_log_price = np.asarray(priors.persona_log_price)
    if np.all(persona_log_price == persona_log_price[:1]):
        persona_log_price = persona_log_price[:1]
    nodes, log_weights = quadrature() if np.any(priors.concentration_spread > 0) else quadrature(1)
    return FitData(
        **dense,
        distinct_repeats=jnp.asarray(repeats, jnp.float32)[:, None, None],
        repeat_index=jnp.asarray(repeat_index.reshape(-1), jnp.int32),
        nz_customer=jnp.asarray(rows, jnp.int32),
        nz_pair=jnp.asarray(pair_index.reshape(-1), jnp.int32),
        pair_department=jnp.asarray(pairs[:, 0], jnp.int32),
        pair_units=jnp.asarray(pairs[:, 1], jnp.float32),
        nz_department=jnp.asarray(cols, jnp.int32),
        nz_units=jnp.asarray(counts, jnp.float32),
        nz_log_share=jnp.asarray(np.log(shares[rows, cols]), jnp.float32),
        several_departments=jnp.asarray((dept > 0).sum(-1, keepdims=True) > 1),
        persona_log_price=jnp.asarray(persona_log_price, jnp.float32),
        spread_nodes=jnp.asarray(nodes),
        spread_log_weights=jnp.asarray(log_weights),
    )


@jax.jit
def _prepare_dense(priors: PriorArrays, obs: Observations, rows: Array, counts: Array) -> dict:
    """Return the dense (N, ...) terms of :class:`FitData` (jitted: eager they take seconds)."""
    n_customers = obs.n_orders.shape[0]
    n = obs.n_orders.astype(jnp.float32)[:, None, None]
    order_constant = jnp.log(priors.segment_probs)[None] + _segment_terms(priors, obs)[:, None, :]
    n2 = n[..., 0]
    k_e, beta_e = gamma_from_lognormal(priors.log_extra_units_loc, priors.log_extra_units_sd)
    units = dist.GammaPoisson(k_e, beta_e / n2).log_prob(obs.units[:, None] - n2)
    shift, scale = fenton_wilkinson(n2, priors.log_order_value_sd_order)
    log_revenue = jnp.log(obs.revenue.astype(jnp.float32))[:, None]
    total = obs.units.astype(jnp.float32)[:, None]
    x = counts.astype(jnp.float32)
    multinomial = (
        gammaln(total + 1.0)
        - jax.ops.segment_sum(gammaln(x + 1.0), rows, num_segments=n_customers)[:, None]
    )
    constant = units - log_revenue + multinomial
    return {
        "constant": constant,
        "order_constant": order_constant,
        "repeat_orders": n - 1.0,
        "last_order_months": last_order_months(obs)[:, None, None],
        "lifetime_months": obs.lifetime_months.astype(jnp.float32)[:, None, None],
        "rate_prior_sd": jnp.asarray(priors.log_rate_sd)[:, None],
        "multiplier_loc": jnp.asarray(priors.log_multiplier_loc)[None, :],
        "multiplier_sd": jnp.asarray(priors.log_multiplier_sd)[None, :],
        "dropout_concentration": jnp.asarray(priors.dropout_concentration),
        "log_revenue_centred": log_revenue - shift,
        "revenue_scale2": scale**2,
        "total_units": total,
    }


def fit_log_likelihood(pop: Population, data: FitData) -> Float[Array, "customers personas"]:
    """Return the same (N, P) matrix as :func:`customer_log_likelihood`, from :class:`FitData`.

    Costs O(N P S) cheap operations plus O(U P + X P S) lgamma calls per evaluation
    instead of O(N P D + N P S); ``tests/infer/test_profiles.py`` checks that both agree.
    """
    r, alpha = rate_gamma(
        pop.purchase_rate_loc[:, None],
        pop.purchase_rate_sd[:, None],
        data.rate_prior_sd,
        data.multiplier_loc,
        data.multiplier_sd,
    )
    a, b = dropout_beta(pop.dropout_loc, data.dropout_concentration)
    distinct = process_count_terms(data.distinct_repeats, r, alpha, a[:, None], b[:, None])
    common, log_active, log_dropped = (term[data.repeat_index] for term in distinct)
    terms = (common, log_active, log_dropped)  # (N, P, S) each
    orders = combine_process_terms(
        terms, data.repeat_orders, data.last_order_months, data.lifetime_months, r, alpha
    )
    per_persona = logsumexp(data.order_constant + orders, axis=-1)
    revenue_sd = jnp.sqrt(pop.order_value_sd**2 + data.revenue_scale2)
    revenue = dist.Normal(pop.order_value_loc, revenue_sd).log_prob(data.log_revenue_centred)
    departments = _department_term(pop, data)
    return data.constant + per_persona + revenue + departments + _spend_term(pop, data)


def _department_term(pop: Population, data: FitData) -> Array:
    """Return the department counts' log density but the multinomial coefficient, (N, P).

    At each quadrature node ``j`` the customer's concentration is ``c_p exp(sigma_p x_j)``;
    the node terms are summed with their weights in log space.
    """
    c = pop.customer_concentration[:, None] * node_multipliers(
        pop.concentration_spread, data.spread_nodes
    )  # (P, J)
    alpha_d = c[:, None, :] * pop.department_profile[:, :, None]  # (P, D, J)
    a_d = jnp.transpose(alpha_d, (1, 0, 2))[data.pair_department]  # (U, P, J)
    per_pair = gammaln(data.pair_units[:, None, None] + a_d) - gammaln(a_d)
    n_customers = data.constant.shape[0]
    counts = jax.ops.segment_sum(per_pair[data.nz_pair], data.nz_customer, num_segments=n_customers)
    normaliser = gammaln(c)[None] - gammaln(data.total_units[:, :, None] + c[None])  # (N, P, J)
    return logsumexp(data.spread_log_weights + normaliser + counts, axis=-1)


def _spend_term(pop: Population, data: FitData) -> Array:
    """Return the spend shares' Dirichlet log density from the sparse counts, (N, P) or (N, 1)."""
    centre = jnp.mean(pop.department_log_price)
    relative = jnp.exp(pop.department_log_price[None, :] + data.persona_log_price - centre)
    alpha = pop.price_concentration * data.nz_units[:, None] * relative.T[data.nz_department]
    n_customers = data.constant.shape[0]
    per_entry = (alpha - 1.0) * data.nz_log_share[:, None] - gammaln(alpha)
    parts = jax.ops.segment_sum(per_entry, data.nz_customer, num_segments=n_customers)
    total = jax.ops.segment_sum(alpha, data.nz_customer, num_segments=n_customers)
    return jnp.where(data.several_departments, gammaln(total) + parts, 0.0)
