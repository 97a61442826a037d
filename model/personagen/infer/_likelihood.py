"""Per-customer log-likelihood under each persona: the customer story, marginalised.

:func:`customer_log_likelihood` scores the observable part of a customer's
story (:func:`personagen.story.customer_core`) under every persona, with the
segment summed out and the latent rates integrated analytically:

* orders: ``n - 1 ~ Poisson(r L)``, ``r ~ Gamma`` -> a gamma-Poisson (negative binomial);
* units: ``U - n ~ Poisson(n e)``, ``e ~ Gamma`` -> a gamma-Poisson;
* revenue: ``log R ~ Normal(loc + shift(n), sqrt(sd_between^2 + scale(n)^2))`` (the
  customer-level mean order value integrated out of the Fenton-Wilkinson law);
* department units: the Dirichlet-multinomial's exact density;
* lifetime, recency, return rate: their segment laws (recency is scored at
  ``days + 0.5`` and its cap at the lifetime is ignored).

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
from jax.scipy.special import gammaln, logsumexp
from jax.typing import ArrayLike
from jaxtyping import Float, Int

from personagen._compilation_cache import use_compilation_cache
from personagen.config import PriorArrays
from personagen.data import Observations
from personagen.story import Population, as_arrays, fenton_wilkinson, gamma_from_lognormal

__all__ = [
    "FitData",
    "customer_log_likelihood",
    "fit_log_likelihood",
    "order_count_log_prob",
    "prepare_fit_data",
]


def _segment_terms(priors: PriorArrays, obs: Observations) -> Array:
    """Log density of the segment-only observables, shape (N, S)."""
    lifetime = dist.LogNormal(priors.log_lifetime_loc, priors.log_lifetime_sd).log_prob(
        obs.lifetime_months[:, None]
    )
    recency = dist.LogNormal(priors.log_recency_loc, priors.log_recency_sd).log_prob(
        obs.recency_days[:, None] + 0.5
    )
    known = ~jnp.isnan(obs.return_rate)[:, None]
    rr = jnp.clip(jnp.where(known, obs.return_rate[:, None], 0.5), 1e-4, 1 - 1e-4)
    logit = jnp.log(rr) - jnp.log1p(-rr)
    normal = dist.Normal(priors.logit_return_loc, priors.logit_return_sd)
    returns = normal.log_prob(logit) - jnp.log(rr * (1 - rr))
    returns = jnp.where(known, returns, 0.0)  # unknown return rates carry no information
    return lifetime + recency + returns


def order_count_log_prob(
    pop: Population,
    priors: PriorArrays,
    n_orders: Int[ArrayLike, " customers"],
    lifetime_months: Float[ArrayLike, " customers"],
) -> Float[Array, "customers personas segments"]:
    """Return ``log p(n_orders | lifetime, persona p, segment s)``, shape (N, P, S).

    The story draws ``n - 1 ~ Poisson(r L)`` with the purchase rate ``r`` gamma
    (lognormal moments of persona x segment, :func:`~personagen.story.gamma_from_lognormal`);
    integrated over ``r`` that is a gamma-Poisson (negative binomial) count.
    """
    n = jnp.asarray(n_orders).astype(jnp.float32)[:, None, None]
    lifetime = jnp.asarray(lifetime_months)[:, None, None]
    rate_loc = pop.purchase_rate_loc[:, None] + priors.log_multiplier_loc[None, :]
    rate_sd = jnp.sqrt(priors.log_rate_sd[:, None] ** 2 + priors.log_multiplier_sd[None, :] ** 2)
    k, beta = gamma_from_lognormal(rate_loc, rate_sd)  # (P, S)
    return dist.GammaPoisson(k, beta / lifetime).log_prob(n - 1.0)


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
    orders = order_count_log_prob(pop, priors, obs.n_orders, obs.lifetime_months)  # (N, P, S)
    segment = jnp.log(priors.segment_probs)[None] + orders + _segment_terms(priors, obs)[:, None, :]
    per_persona = logsumexp(segment, axis=-1)  # (N, P)
    n2 = n[..., 0]  # (N, 1)
    k_e, beta_e = gamma_from_lognormal(priors.log_extra_units_loc, priors.log_extra_units_sd)
    units = dist.GammaPoisson(k_e, beta_e / n2).log_prob(obs.units[:, None] - n2[:, :1])
    shift, scale = fenton_wilkinson(n2, priors.log_order_value_sd_order)
    revenue = dist.LogNormal(
        pop.order_value_loc + shift,
        jnp.sqrt(priors.log_order_value_sd_customer**2 + scale**2),
    ).log_prob(obs.revenue[:, None])
    concentration = pop.customer_concentration[:, None] * pop.department_profile  # (P, D)
    departments = dist.DirichletMultinomial(concentration, total_count=obs.units[:, None]).log_prob(
        obs.department_units[:, None, :]
    )
    return per_persona + units + revenue + departments


class FitData(NamedTuple):
    """Observations reduced to what a fit of the profiles needs (:func:`prepare_fit_data`).

    Every term of :func:`customer_log_likelihood` that does not depend on the
    fitted sites (persona weights, department profiles, order value and
    purchase rate locations) is computed once; the department counts are kept
    as their non-zero entries only, because ``lgamma(0 + a) - lgamma(a) = 0``.

    Attributes
    ----------
    constant : Array, shape (N, P)
        Units term, the constant parts of the revenue and department terms (the
        multinomial coefficient).
    order_constant : Array, shape (N, P, S)
        log segment probability, segment-only terms and the constant part of the
        gamma-Poisson order count.
    n_orders : Array, shape (N, 1, 1)
    log_lifetime : Array, shape (N, 1, 1)
    log_revenue_centred : Array, shape (N, P)
        ``log R - shift(n)``: the revenue term is Normal(loc_p, revenue_sd) of it.
    revenue_sd : Array, shape (N, P)
    order_shape : Array, shape (P, S)
        Gamma shape ``k`` of the purchase rate.
    order_log_mean_offset : Array, shape (P, S)
        ``log mean rate - purchase_rate_loc``.
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
    """

    constant: Array
    order_constant: Array
    n_orders: Array
    log_lifetime: Array
    log_revenue_centred: Array
    revenue_sd: Array
    order_shape: Array
    order_log_mean_offset: Array
    total_units: Array
    nz_customer: Array
    nz_pair: Array
    pair_department: Array
    pair_units: Array


def prepare_fit_data(priors: PriorArrays, obs: Observations) -> FitData:
    """Precompute the parameter-free parts of the log-likelihood (see :class:`FitData`)."""
    use_compilation_cache()
    dept = np.asarray(obs.department_units)
    rows, cols = np.nonzero(dept)
    counts = dept[rows, cols]
    pairs, pair_index = np.unique(np.column_stack([cols, counts]), axis=0, return_inverse=True)
    priors = as_arrays(priors)
    dense = _prepare_dense(priors, as_arrays(obs), rows, counts)
    return FitData(
        **dense,
        nz_customer=jnp.asarray(rows, jnp.int32),
        nz_pair=jnp.asarray(pair_index.reshape(-1), jnp.int32),
        pair_department=jnp.asarray(pairs[:, 0], jnp.int32),
        pair_units=jnp.asarray(pairs[:, 1], jnp.float32),
    )


@jax.jit
def _prepare_dense(priors: PriorArrays, obs: Observations, rows: Array, counts: Array) -> dict:
    """Return the dense (N, ...) terms of :class:`FitData` (jitted: eager they take seconds)."""
    n_customers = obs.n_orders.shape[0]
    n = obs.n_orders.astype(jnp.float32)[:, None, None]
    lifetime = obs.lifetime_months.astype(jnp.float32)[:, None, None]
    rate_sd2 = priors.log_rate_sd[:, None] ** 2 + priors.log_multiplier_sd[None, :] ** 2
    k = 1.0 / jnp.expm1(rate_sd2)  # gamma shape of gamma_from_lognormal, (P, S)
    order_constant = (
        jnp.log(priors.segment_probs)[None]
        + gammaln(n - 1.0 + k)
        - gammaln(k)
        - gammaln(n)
        + _segment_terms(priors, obs)[:, None, :]
    )
    n2 = n[..., 0]
    k_e, beta_e = gamma_from_lognormal(priors.log_extra_units_loc, priors.log_extra_units_sd)
    units = dist.GammaPoisson(k_e, beta_e / n2).log_prob(obs.units[:, None] - n2)
    shift, scale = fenton_wilkinson(n2, priors.log_order_value_sd_order)
    revenue_sd = jnp.sqrt(priors.log_order_value_sd_customer**2 + scale**2)
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
        "n_orders": n,
        "log_lifetime": jnp.log(lifetime),
        "log_revenue_centred": log_revenue - shift,
        "revenue_sd": revenue_sd,
        "order_shape": k,
        "order_log_mean_offset": priors.log_multiplier_loc[None, :] + 0.5 * rate_sd2,
        "total_units": total,
    }


def fit_log_likelihood(pop: Population, data: FitData) -> Float[Array, "customers personas"]:
    """Return the same (N, P) matrix as :func:`customer_log_likelihood`, from :class:`FitData`.

    Costs O(N P S) cheap operations plus O(U P) lgamma calls per evaluation instead
    of O(N P D) lgamma calls; ``tests/infer/test_profiles.py`` checks that both agree.
    """
    k = data.order_shape
    log_mean = pop.purchase_rate_loc[:, None] + data.order_log_mean_offset  # (P, S)
    log_b = jnp.log(k) - log_mean - data.log_lifetime  # (N, P, S)
    extra = data.n_orders - 1.0
    orders = k * log_b - (k + extra) * jax.nn.softplus(log_b)
    per_persona = logsumexp(data.order_constant + orders, axis=-1)
    revenue = dist.Normal(pop.order_value_loc, data.revenue_sd).log_prob(data.log_revenue_centred)
    c = pop.customer_concentration
    alpha = c[:, None] * pop.department_profile  # (P, D)
    a = alpha.T[data.pair_department]  # (U, P)
    per_pair = gammaln(data.pair_units[:, None] + a) - gammaln(a)
    n_customers = data.constant.shape[0]
    departments = jax.ops.segment_sum(
        per_pair[data.nz_pair], data.nz_customer, num_segments=n_customers
    )
    normaliser = gammaln(c)[None, :] - gammaln(data.total_units + c[None, :])  # (N, P)
    return data.constant + per_persona + revenue + normaliser + departments
