"""The personagen NumPyro model: personas, their profiles, and each customer's story.

The model is split in three functions that together are one generative story:

* :func:`population_model` draws the population-level parameters;
* :func:`customer_core` draws one customer's (or a batch's) core story, every
  quantity in the basic table;
* :func:`customer_details` adds what only the enriched table has.

The population level (sites ``persona_weights`` to ``customer_concentration``) is
:mod:`personagen.story._population`; the purchase process (frequency, recency and
lifetime from one buy-till-you-die law) is explained in :mod:`personagen.story._process`.
The forward sampler (:mod:`personagen.sample`)
vmaps the customer functions over per-customer keys; :func:`persona_model` runs
the same functions inside a ``customers`` plate for ``numpyro.infer.Predictive``
(prior predictive checks); inference (:mod:`personagen.infer`) scores the same
story with its latents integrated out. This module imports no pandas, YAML or I/O.

Sites
-----
Population (plate ``personas``, P personas, D departments, C classes):

================== ======== ============ ============================================
site               shape    support      prior
================== ======== ============ ============================================
persona_weights    (P,)     simplex      Dirichlet(weight_concentration * w)
department_profile (P, D)   simplex      Dirichlet(profile_concentration * theta0_p)
class_profile_raw  (P, C)   positive     Gamma(profile_concentration * phi0_p, 1)
class_profile      (P, C)   deterministic class_profile_raw normalised within departments
order_value_loc    (P,)     real         Normal(log-mean of avg_order_value, location_sd)
order_value_sd     (P,)     positive     LogNormal(log of its customer-level log-sd,
                                         VALUE_SD_LOG_SD = 0.25)
purchase_rate_loc  (P,)     real         Normal(log-mean of frequency_per_month, location_sd)
purchase_rate_sd   (P,)     positive     LogNormal(log of its log-sd, RATE_SD_LOG_SD = 0.5)
dropout_loc        (P,)     real         Normal(logit mean of knobs.dropout_probability,
                                         DROPOUT_LOC_SD = 1)
customer_          (P,)     positive     LogNormal(log knobs.customer_concentration,
concentration                            CONCENTRATION_LOG_SD = 1)
concentration_     (P,)     >= 0         knobs.customer_concentration_sd *
spread                                   exp(SPREAD_LOG_SD * Normal(0, 1)), SPREAD_LOG_SD 0.5
================== ======== ============ ============================================

Customer core (plate ``customers``; scalars per customer unless stated):

===================== ====== ============================================================
site                  shape  meaning and law
===================== ====== ============================================================
persona               ()     Categorical(persona_weights)
segment               ()     Categorical(segment_probs[persona]): the engagement segment
lifetime_months       ()     LogNormal(segment lifetime): months from the first order to as-of
purchase_rate         ()     orders per month while active, Gamma (:func:`rate_gamma`)
dropout_probability   ()     Beta: chance of dropping out after each order
orders_before_dropout ()     Geometric(dropout_probability): repeat orders before dropping out
arrivals              ()     Poisson(purchase_rate * lifetime_months): orders in the lifetime
                             had the customer never dropped out; repeat orders
                             x = min(orders_before_dropout, arrivals), n_orders = 1 + x
last_order_share      ()     Beta(x, arrivals - x + 1): last order at share * lifetime
extra_units_rate      ()     Gamma: mean extra units per order beyond the first
extra_units           ()     Poisson(n_orders * extra_units_rate); units = n_orders + extra
order_value_customer  ()     Normal(order_value_loc[persona], order_value_sd[persona]): log scale
total_revenue         ()     LogNormal: Fenton-Wilkinson sum of n_orders lognormal orders
department_units      (D,)   Dirichlet-multinomial(units, c_i * department_profile[persona]),
                             log c_i ~ Normal(log c_p, concentration_spread[persona])
                             (SpreadDirichletMultinomial; c_i = c_p without a spread)
department_spend_     (D,)   SpendShares(a u_d p_d / pbar): the revenue's split over the
shares                       departments bought, units times price levels (_prices)
return_rate           ()     LogitNormal(segment return rate)
===================== ====== ============================================================

Customer details (enriched table only):

================== ====== ===============================================================
class_units        (C,)   per department, DM(department_units[d], c_p * class_profile[p, d])
class_spend_shares (C,)   per department, SpendShares of its spend over its classes
baby_units         ()     Binomial(units in kids' departments, baby_share[persona])
adult_size_units   (5,)   Multinomial(units in adult apparel, adult_size_probs[persona])
gender             ()     Categorical(gender_probs[persona]); 0 female, 1 male
age                ()     uniform integer in the persona's age_range
profile_draws      (8,)   Uniform(0, 1): indices into the fake-profile word lists
================== ====== ===============================================================

Identifiability: every persona has informative, distinct priors from the YAML
(weights, department and class profiles, order value and rate locations), so
label switching does not occur while profiles are anchored
(``profile_concentration`` large); see ``docs/model.md``. Shapes are in
:func:`persona_model`'s trace and asserted by ``tests/story/test_model.py``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax import Array
from jax.typing import ArrayLike

from personagen.config import SIZE_KIND_ADULT, SIZE_KIND_KIDS, PriorArrays, Structure
from personagen.story._distributions import (
    FastBeta,
    FastBinomial,
    FastGamma,
    FastGeometric,
    FastMultinomial,
    FastPoisson,
    GroupedDirichletMultinomial,
)
from personagen.story._population import Population, population_model
from personagen.story._prices import GroupedSpendShares, SpendShares, spend_concentration
from personagen.story._process import dropout_beta
from personagen.story._spread import SpreadDirichletMultinomial

__all__ = [
    "CORE_SITES",
    "DETAIL_SITES",
    "N_PROFILE_DRAWS",
    "customer_core",
    "customer_details",
    "department_log_price",
    "fenton_wilkinson",
    "gamma_from_lognormal",
    "persona_model",
    "rate_gamma",
]

N_PROFILE_DRAWS = 8
CORE_SITES = (
    "persona",
    "segment",
    "lifetime_months",
    "purchase_rate",
    "dropout_probability",
    "orders_before_dropout",
    "arrivals",
    "last_order_share",
    "extra_units_rate",
    "extra_units",
    "order_value_customer",
    "total_revenue",
    "department_units",
    "department_spend_shares",
    "return_rate",
)
DETAIL_SITES = (
    "class_units",
    "class_spend_shares",
    "baby_units",
    "adult_size_units",
    "gender",
    "age",
    "profile_draws",
)


def gamma_from_lognormal(loc: ArrayLike, scale: ArrayLike) -> tuple[Array, Array]:
    """Return gamma ``(concentration, rate)`` matching the mean and variance of LogNormal."""
    concentration = 1.0 / jnp.expm1(scale**2)
    mean = jnp.exp(loc + 0.5 * scale**2)
    return concentration, concentration / mean


def fenton_wilkinson(n: ArrayLike, sd_order: ArrayLike) -> tuple[Array, Array]:
    """Log-location shift and scale of the sum of ``n`` iid LogNormal(m, sd_order).

    The sum is approximated by LogNormal(m + shift, scale) with the exact mean
    and variance (Fenton-Wilkinson): ``scale**2 = log(1 + (exp(sd**2) - 1) / n)``,
    ``shift = log(n) + sd**2 / 2 - scale**2 / 2``.
    """
    n = jnp.asarray(n, jnp.float32)
    scale2 = jnp.log1p(jnp.expm1(sd_order**2) / n)
    shift = jnp.log(n) + 0.5 * sd_order**2 - 0.5 * scale2
    return shift, jnp.sqrt(scale2)


def rate_gamma(
    rate_loc: ArrayLike,
    rate_sd: ArrayLike,
    prior_sd: ArrayLike,
    multiplier_loc: ArrayLike,
    multiplier_sd: ArrayLike,
) -> tuple[Array, Array]:
    """Gamma ``(shape, rate)`` of the purchase rate of a persona in a segment.

    The mean is that of the lognormal with the persona's location plus the segment's
    log multiplier and the YAML spread ``prior_sd`` (combined with the multiplier's on
    the log scale); the shape is the one that lognormal's variance gives with the
    persona's spread ``rate_sd`` instead. At ``rate_sd = prior_sd`` this is the gamma
    with the lognormal's mean and variance (:func:`gamma_from_lognormal`); a learned
    spread changes how customers vary around the mean but not the mean, so location
    and spread are not confounded in a fit. Broadcasts over its arguments.
    """
    loc = jnp.asarray(rate_loc) + multiplier_loc
    mult2 = jnp.asarray(multiplier_sd) ** 2
    mean = jnp.exp(loc + 0.5 * (jnp.asarray(prior_sd) ** 2 + mult2))
    shape = 1.0 / jnp.expm1(jnp.asarray(rate_sd) ** 2 + mult2)
    return shape, shape / mean


def department_log_price(pop: Population, priors: PriorArrays, persona: ArrayLike) -> Array:
    """Log unit price level of each department for customers of ``persona``, shape (..., D).

    The store's level plus the persona's multiplier (``knobs.price_levels``, 0 if none).
    """
    return pop.department_log_price + jnp.asarray(priors.persona_log_price)[persona]


def customer_core(pop: Population, priors: PriorArrays) -> dict[str, Array]:
    """Draw the core story of a customer (or a plate of customers).

    Parameters
    ----------
    pop : Population
        Population-level parameters.
    priors : PriorArrays
        Numeric priors (segment and persona constants).

    Returns
    -------
    dict
        Every site of ``CORE_SITES`` plus the derived ``n_orders``, ``units``,
        ``last_order_months`` (0 for one order), ``dropped_out`` (bool) and
        ``true_segment`` (the segment, or S for a customer that dropped out).
    """
    z = numpyro.sample("persona", dist.Categorical(pop.persona_weights))
    s = numpyro.sample("segment", dist.Categorical(jnp.asarray(priors.segment_probs)[z]))
    lifetime = numpyro.sample(
        "lifetime_months", dist.LogNormal(priors.log_lifetime_loc[s], priors.log_lifetime_sd[s])
    )
    shape, rate_rate = rate_gamma(
        pop.purchase_rate_loc[z],
        pop.purchase_rate_sd[z],
        priors.log_rate_sd[z],
        priors.log_multiplier_loc[s],
        priors.log_multiplier_sd[s],
    )
    rate = numpyro.sample("purchase_rate", FastGamma(shape, rate_rate))
    a, b = dropout_beta(pop.dropout_loc[z], priors.dropout_concentration[z])
    q = numpyro.sample("dropout_probability", FastBeta(a, b))
    survived = numpyro.sample("orders_before_dropout", FastGeometric(q))
    arrivals = numpyro.sample("arrivals", FastPoisson(rate * lifetime)).astype(jnp.int32)
    repeat = jnp.minimum(survived, arrivals)
    share = numpyro.sample(
        "last_order_share",
        FastBeta(
            jnp.maximum(repeat, 1).astype(jnp.float32),
            (arrivals - repeat + 1).astype(jnp.float32),
        ),
    )
    last_order = jnp.where(repeat > 0, share * lifetime, 0.0)
    dropped_out = survived <= arrivals
    n_orders = 1 + repeat
    extra_rate = numpyro.sample(
        "extra_units_rate",
        FastGamma(
            *gamma_from_lognormal(priors.log_extra_units_loc[z], priors.log_extra_units_sd[z])
        ),
    )
    extra_units = numpyro.sample("extra_units", FastPoisson(n_orders * extra_rate))
    units = n_orders + extra_units.astype(jnp.int32)
    value_loc = numpyro.sample(
        "order_value_customer",
        dist.Normal(pop.order_value_loc[z], pop.order_value_sd[z]),
    )
    shift, scale = fenton_wilkinson(n_orders, priors.log_order_value_sd_order[z])
    revenue = numpyro.sample("total_revenue", dist.LogNormal(value_loc + shift, scale))
    concentration = pop.customer_concentration[z][..., None] * pop.department_profile[z]
    department_units = numpyro.sample(
        "department_units",
        SpreadDirichletMultinomial(concentration, pop.concentration_spread[z], units),
    )
    spend = spend_concentration(
        department_units,
        department_log_price(pop, priors, z),
        pop.department_log_price,
        pop.price_concentration,
    )
    spend_shares = numpyro.sample("department_spend_shares", SpendShares(spend))
    return_rate = numpyro.sample(
        "return_rate",
        dist.TransformedDistribution(
            dist.Normal(priors.logit_return_loc[s], priors.logit_return_sd[s]),
            dist.transforms.SigmoidTransform(),
        ),
    )
    n_segments = jnp.shape(priors.segment_probs)[-1]
    return {
        "persona": z,
        "segment": s,
        "true_segment": jnp.where(dropped_out, n_segments, s),
        "lifetime_months": lifetime,
        "purchase_rate": rate,
        "dropped_out": dropped_out,
        "n_orders": n_orders,
        "last_order_months": last_order,
        "units": units,
        "total_revenue": revenue,
        "department_units": department_units,
        "department_spend_shares": spend_shares,
        "return_rate": return_rate,
    }


def customer_details(
    pop: Population, priors: PriorArrays, structure: Structure, core: dict[str, Array]
) -> dict[str, Array]:
    """Draw the enriched-only parts of a customer's story, given its core.

    Parameters
    ----------
    pop : Population
        Population-level parameters.
    priors : PriorArrays
        Numeric priors.
    structure : Structure
        Static structure: the class -> department index, the sized departments.
    core : dict
        The result of :func:`customer_core` for the same customers.

    Returns
    -------
    dict
        Every site of ``DETAIL_SITES``.
    """
    z = core["persona"]
    dept_units = core["department_units"]
    concentration = priors.customer_concentration[z][..., None] * pop.class_profile[z]
    class_units = numpyro.sample(
        "class_units",
        GroupedDirichletMultinomial(concentration, dept_units, structure.class_index),
    )
    class_log_price = (
        department_log_price(pop, priors, z)[..., structure.class_index] + priors.class_log_price
    )
    spend = spend_concentration(
        class_units, class_log_price, pop.department_log_price, pop.price_concentration
    )
    class_shares = numpyro.sample(
        "class_spend_shares", GroupedSpendShares(spend, structure.class_index)
    )
    kind = structure.size_kind
    kids = jnp.sum(jnp.where(kind == SIZE_KIND_KIDS, dept_units, 0), axis=-1)
    adult = jnp.sum(jnp.where(kind == SIZE_KIND_ADULT, dept_units, 0), axis=-1)
    baby = numpyro.sample(
        "baby_units", FastBinomial(jnp.asarray(priors.baby_share)[z], total_count=kids)
    )
    sizes = numpyro.sample(
        "adult_size_units", FastMultinomial(jnp.asarray(priors.adult_size_probs)[z], adult)
    )
    gender = numpyro.sample("gender", dist.Categorical(jnp.asarray(priors.gender_probs)[z]))
    age_range = jnp.asarray(priors.age_range)[z]
    age = numpyro.sample("age", dist.DiscreteUniform(age_range[..., 0], age_range[..., 1]))
    draws = numpyro.sample(
        "profile_draws",
        dist.Uniform(0.0, 1.0).expand((*jnp.shape(z), N_PROFILE_DRAWS)).to_event(1),
    )
    return {
        "class_units": class_units,
        "class_spend_shares": class_shares,
        "baby_units": baby,
        "adult_size_units": sizes,
        "gender": gender,
        "age": age,
        "profile_draws": draws,
    }


def persona_model(structure: Structure, priors: PriorArrays, *, n_customers: int) -> None:
    """Run the whole generative model for ``n_customers`` customers (for ``Predictive``).

    Parameters
    ----------
    structure : Structure
        Static structure of the hierarchy.
    priors : PriorArrays
        Numeric priors.
    n_customers : int
        Size of the ``customers`` plate (static).
    """
    pop = population_model(priors, structure)
    with numpyro.plate("customers", n_customers, dim=-1):
        core = customer_core(pop, priors)
        customer_details(pop, priors, structure, core)
