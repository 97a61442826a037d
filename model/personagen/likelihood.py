"""Per-customer log-likelihood under each persona: the customer story, marginalised.

:func:`customer_log_likelihood` scores the observable part of a customer's
story (:func:`personagen.model.customer_core`) under every persona, with the
segment summed out and the latent rates integrated analytically:

* orders: ``n - 1 ~ Poisson(r L)``, ``r ~ Gamma`` -> a gamma-Poisson (negative binomial);
* units: ``U - n ~ Poisson(n e)``, ``e ~ Gamma`` -> a gamma-Poisson;
* revenue: ``log R ~ Normal(loc + shift(n), sqrt(sd_between^2 + scale(n)^2))`` (the
  customer-level mean order value integrated out of the Fenton-Wilkinson law);
* department units: the Dirichlet-multinomial's exact density;
* lifetime, recency, return rate: their segment laws (recency is scored at
  ``days + 0.5`` and its cap at the lifetime is ignored).

The laws and their parameters come from the same helpers as the forward model
(:func:`~personagen.model.gamma_from_lognormal`, :func:`~personagen.model.fenton_wilkinson`),
so sampling and inference share one definition of the story; ``tests/test_infer.py``
fits data the sampler made.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import logsumexp

from personagen.model import Population, fenton_wilkinson, gamma_from_lognormal
from personagen.priors import PriorArrays

__all__ = ["Observations", "customer_log_likelihood"]


class Observations(NamedTuple):
    """What inference observes of N customers (D departments).

    Attributes
    ----------
    n_orders : Array, shape (N,), int
    units : Array, shape (N,), int
    department_units : Array, shape (N, D), int
    revenue : Array, shape (N,), float: total revenue in currency units
    lifetime_months : Array, shape (N,), float
    recency_days : Array, shape (N,), float
    return_rate : Array, shape (N,), float in (0, 1); NaN where unknown (term dropped)
    """

    n_orders: Array
    units: Array
    department_units: Array
    revenue: Array
    lifetime_months: Array
    recency_days: Array
    return_rate: Array


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


def customer_log_likelihood(pop: Population, priors: PriorArrays, obs: Observations) -> Array:
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
    lifetime = obs.lifetime_months[:, None, None]
    # orders: persona x segment rate
    rate_loc = pop.purchase_rate_loc[:, None] + priors.log_multiplier_loc[None, :]
    rate_sd = jnp.sqrt(priors.log_rate_sd[:, None] ** 2 + priors.log_multiplier_sd[None, :] ** 2)
    k, beta = gamma_from_lognormal(rate_loc, rate_sd)  # (P, S)
    orders = dist.GammaPoisson(k, beta / lifetime).log_prob(n - 1.0)  # (N, P, S)
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
    concentration = priors.customer_concentration[:, None] * pop.department_profile  # (P, D)
    departments = dist.DirichletMultinomial(concentration, total_count=obs.units[:, None]).log_prob(
        obs.department_units[:, None, :]
    )
    return per_persona + units + revenue + departments
