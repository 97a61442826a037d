"""The population level of the story: persona weights, profiles and locations.

One prior, written once, used by sampling and by every fit:

* :func:`population_sites` draws ``persona_weights``, each persona's
  ``department_profile``, ``order_value_loc`` and ``order_value_sd``, the purchase process's
  ``purchase_rate_loc``, ``purchase_rate_sd`` and ``dropout_loc``, and
  ``customer_concentration``, and the store's ``department_log_price`` and
  ``price_concentration``; how the
  department profile is parameterised is its argument:
  :func:`dirichlet_department_profile` (``Dirichlet(kappa * theta0)``, the prior
  as written, used to draw synthetic populations) or
  :func:`anchored_department_profile` (the same Dirichlet conditioned on its rare
  components sitting at their prior share, used by the ``profiles`` and ``learn``
  fits, see its docstring);
* :func:`population_model` adds the class profiles (sampling only: no fit learns them);
* :func:`mean_population` and :func:`draw_population` return a concrete
  :class:`Population` at the prior means or drawn from the prior.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array
from jaxtyping import Float
from numpyro import handlers

from personagen._compilation_cache import use_compilation_cache
from personagen.config import PriorArrays, Structure
from personagen.story._samplers import segment_sum

__all__ = [
    "CONCENTRATION_LOG_SD",
    "DROPOUT_LOC_SD",
    "FITTED_SITES",
    "MIN_FREE_CONCENTRATION",
    "PRICE_CONCENTRATION_LOG_SD",
    "PRICE_LOG_SD",
    "RATE_SD_LOG_SD",
    "SPREAD_LOG_SD",
    "STORE_SITES",
    "VALUE_SD_LOG_SD",
    "DepartmentProfileSite",
    "Population",
    "anchored_department_profile",
    "as_arrays",
    "concentration_spread_site",
    "dirichlet_department_profile",
    "draw_population",
    "mean_population",
    "population_means",
    "population_model",
    "population_sites",
]

#: The population sites a fit of the profiles learns (and ``posterior.nc`` holds).
FITTED_SITES = (
    "persona_weights",
    "department_profile",
    "order_value_loc",
    "order_value_sd",
    "purchase_rate_loc",
    "purchase_rate_sd",
    "dropout_loc",
    "customer_concentration",
    "concentration_spread",
    "department_log_price",
    "price_concentration",
)
#: The fitted sites that describe the store, not a persona (no persona axis: relabelling
#: the personas of a draw leaves them alone).
STORE_SITES = ("department_log_price", "price_concentration")
#: Prior of a persona's customer-level concentration: LogNormal centred on the YAML's
#: ``knobs.customer_concentration`` with this log-scale sd (weakly informative: a
#: central 90% interval of x/ 5.2 around the YAML value). Fixed at the YAML value in
#: ``weights`` fits and in samples from the prior means.
CONCENTRATION_LOG_SD = 1.0
#: Prior of a persona's spread of customer concentrations (the log-scale sd of ``c_i``
#: around ``c_p``, :mod:`personagen.story._spread`): LogNormal centred on the YAML's
#: ``knobs.customer_concentration_sd`` with this log-scale sd (a central 90% interval of
#: x/ 2.3 around it), drawn non-centred (``concentration_spread_raw`` standard normal), so
#: a YAML value of 0 keeps the spread at 0. Fixed at the YAML value in ``weights`` fits.
SPREAD_LOG_SD = 0.5
#: Prior of a persona's between-customer spread of the purchase rate (the log-scale sd
#: that fixes the gamma's shape): LogNormal centred on the sd the YAML's
#: ``frequency_per_month`` range gives, with this log-scale sd (a central 90% interval
#: of x/ 2.3 around it). Fixed at the YAML value in ``weights`` fits.
RATE_SD_LOG_SD = 0.5
#: Prior of a persona's between-customer spread of the mean log order value: LogNormal
#: centred on the sd the YAML's ``avg_order_value`` range gives (its customer-level
#: part), with this log-scale sd (a central 90% interval of x/ 1.5 around it: tighter than
#: the rate's, because the range is what a personas file states about its customers and a
#: wider prior put up to 40% of a drawn population outside it; a few hundred customers
#: still move it a factor 2, as on The Complete Journey). Fixed at the YAML value in
#: ``weights`` fits and in samples from the prior means.
VALUE_SD_LOG_SD = 0.25
#: Prior of a persona's mean per-order dropout probability, on the logit scale:
#: Normal centred on the logit of the mean of ``knobs.dropout_probability`` with this sd
#: (a central 90% interval of odds x/ 5.2). Fixed at the YAML value in ``weights`` fits.
DROPOUT_LOC_SD = 1.0
#: Prior of the departments' log typical unit prices: the log of the YAML prices plus a
#: zero-sum normal offset with this sd per department (a central 90% interval of x/ 5.2
#: around the YAML's ratios: they are guesses, the fit learns them from department
#: values). Fixed at the YAML in ``weights`` fits.
PRICE_LOG_SD = 1.0
#: Prior of the price concentration (how tightly spend shares follow units x prices):
#: LogNormal around the YAML's ``prices.concentration`` with this log-scale sd.
PRICE_CONCENTRATION_LOG_SD = 1.0
#: Department components whose prior Dirichlet parameter is below this are held at
#: their prior share by :func:`anchored_department_profile`.
MIN_FREE_CONCENTRATION = 0.5


T = TypeVar("T")


def as_arrays(tree: T) -> T:
    """Return a pytree (priors, observations, a population) with every leaf a JAX array."""
    return jax.tree.map(jnp.asarray, tree)


class Population(NamedTuple):
    """Population-level parameters; every field may carry leading draw axes.

    Attributes
    ----------
    persona_weights : Array, shape (..., P)
        Share of each persona in the customer base (a simplex).
    department_profile : Array, shape (..., P, D)
        Each persona's department mixture (rows are simplices).
    class_profile : Array, shape (..., P, C)
        Each persona's class mixture, summing to one within each department.
    order_value_loc : Array, shape (..., P)
        Log-scale location of a persona's order values.
    order_value_sd : Array, shape (..., P)
        Log-scale between-customer sd of a customer's mean order value.
    purchase_rate_loc : Array, shape (..., P)
        Log-scale location of a persona's orders per month while active.
    purchase_rate_sd : Array, shape (..., P)
        Log-scale between-customer sd of that rate (the gamma's shape follows from it).
    dropout_loc : Array, shape (..., P)
        Logit of the mean probability that a customer drops out after an order.
    customer_concentration : Array, shape (..., P)
        How closely a persona's customers follow its department profile: a customer's
        department mix is ``Dirichlet(c_i * department_profile)`` with ``c_i`` lognormal
        around it (its median).
    concentration_spread : Array, shape (..., P)
        Log-scale sd of ``c_i`` around ``customer_concentration`` (0: every customer of
        the persona has the persona's; :class:`~personagen.story.SpreadDirichletMultinomial`).
    department_log_price : Array, shape (..., D)
        Log typical unit price of each department (the store's; personas may multiply it,
        ``PriorArrays.persona_log_price``). Only differences between departments matter.
    price_concentration : Array, shape (...)
        How tightly a customer's spend shares follow its units times prices
        (:func:`~personagen.story.spend_concentration`).
    """

    persona_weights: Float[Array, "*draws personas"]
    department_profile: Float[Array, "*draws personas departments"]
    class_profile: Float[Array, "*draws personas classes"]
    order_value_loc: Float[Array, "*draws personas"]
    order_value_sd: Float[Array, "*draws personas"]
    purchase_rate_loc: Float[Array, "*draws personas"]
    purchase_rate_sd: Float[Array, "*draws personas"]
    dropout_loc: Float[Array, "*draws personas"]
    customer_concentration: Float[Array, "*draws personas"]
    concentration_spread: Float[Array, "*draws personas"]
    department_log_price: Float[Array, "*draws departments"]
    price_concentration: Float[Array, "*draws"]


#: Samples the ``department_profile`` site (and any helper sites) inside the
#: ``personas`` plate and returns the (P, D) profile.
DepartmentProfileSite = Callable[[PriorArrays], Array]


def dirichlet_department_profile(priors: PriorArrays) -> Array:
    """``department_profile ~ Dirichlet(profile_concentration * department_probs)``."""
    return numpyro.sample(
        "department_profile",
        dist.Dirichlet(priors.profile_concentration * priors.department_probs),
    )


# Jitted: numpyro runs a model eagerly while it sets up NUTS, and every eager jnp
# operation compiles on its own (about 0.1 s each on CPU); inside the sampler they inline.
@jax.jit
def _free_components(kappa: Array, probs: Array) -> tuple[Array, Array]:
    """Dirichlet concentrations ``kappa * theta0`` (P, D) and which of them are free."""
    alpha = kappa * probs
    return alpha, alpha >= MIN_FREE_CONCENTRATION


@jax.jit
def _normalise_free(raw: Array, free: Array, probs: Array) -> Array:
    """Free gammas normalised to the free prior mass; the rest at their prior share."""
    free_mass = jnp.sum(jnp.where(free, probs, 0.0), axis=-1, keepdims=True)
    raw_free = jnp.where(free, raw, 0.0)
    return jnp.where(free, raw_free / raw_free.sum(-1, keepdims=True) * free_mass, probs)


def anchored_department_profile(priors: PriorArrays) -> Array:
    """Draw the Dirichlet profiles with their rare components held at their prior share.

    Components with ``kappa * theta0_d < MIN_FREE_CONCENTRATION`` (departments the
    persona explores but does not prefer, and excluded ones) have densities that
    pile up at zero; in the unconstrained space HMC works in they become
    exponential tails with scale ``1 / (kappa * theta0_d)``, up to 5,000 for an
    excluded department, next to posterior scales of 0.01, and NUTS hits its
    maximum tree depth at every step. The fits therefore condition the Dirichlet
    on those components being at their prior mean: the free components are
    ``department_raw ~ Gamma(kappa * theta0_d, 1)`` normalised to the free prior
    mass, which is exactly the conditional Dirichlet (its mean is still ``theta0``).
    """
    alpha, free = _free_components(priors.profile_concentration, priors.department_probs)
    raw = numpyro.sample("department_raw", dist.Gamma(jnp.where(free, alpha, 1.0), 1.0).to_event(1))
    return numpyro.deterministic(
        "department_profile", _normalise_free(raw, free, priors.department_probs)
    )


def population_sites(priors: PriorArrays, department_profile: DepartmentProfileSite) -> Population:
    """Draw the population sites every use of the model shares.

    Parameters
    ----------
    priors : PriorArrays
        Numeric priors.
    department_profile : callable
        How the ``department_profile`` site is drawn (:func:`dirichlet_department_profile`
        or :func:`anchored_department_profile`), inside the ``personas`` plate.

    Returns
    -------
    Population
        ``class_profile`` and ``concentration_spread`` at their prior means (the YAML
        values); :func:`population_model` and the fits draw them
        (:func:`concentration_spread_site`).
    """
    weights = numpyro.sample(
        "persona_weights", dist.Dirichlet(priors.weight_concentration * priors.weights)
    )
    with numpyro.plate("personas", priors.n_personas, dim=-1):
        profile = department_profile(priors)
        order_value_loc = numpyro.sample(
            "order_value_loc", dist.Normal(priors.log_order_value_loc, priors.location_sd)
        )
        order_value_sd = numpyro.sample(
            "order_value_sd",
            dist.LogNormal(jnp.log(priors.log_order_value_sd_customer), VALUE_SD_LOG_SD),
        )
        purchase_rate_loc = numpyro.sample(
            "purchase_rate_loc", dist.Normal(priors.log_rate_loc, priors.location_sd)
        )
        purchase_rate_sd = numpyro.sample(
            "purchase_rate_sd", dist.LogNormal(jnp.log(priors.log_rate_sd), RATE_SD_LOG_SD)
        )
        dropout_loc = numpyro.sample(
            "dropout_loc", dist.Normal(priors.logit_dropout_loc, DROPOUT_LOC_SD)
        )
        concentration = numpyro.sample(
            "customer_concentration",
            dist.LogNormal(jnp.log(priors.customer_concentration), CONCENTRATION_LOG_SD),
        )
    # Only differences between departments' prices matter (spend_concentration centres
    # them), so the learned part is a zero-sum offset: a free common shift would be a
    # direction only the prior pins, and NUTS spent twice the leapfrog steps on it.
    n_departments = jnp.shape(priors.department_log_price)[-1]
    offset = numpyro.sample(
        "department_price_offset",
        dist.ZeroSumNormal(PRICE_LOG_SD, event_shape=(n_departments,)),
    )
    log_price = numpyro.deterministic(
        "department_log_price", jnp.asarray(priors.department_log_price) + offset
    )
    price_concentration = numpyro.sample(
        "price_concentration",
        dist.LogNormal(jnp.log(priors.price_concentration), PRICE_CONCENTRATION_LOG_SD),
    )
    class_profile = jnp.asarray(priors.class_probs)
    return Population(
        weights,
        profile,
        class_profile,
        order_value_loc,
        order_value_sd,
        purchase_rate_loc,
        purchase_rate_sd,
        dropout_loc,
        concentration,
        jnp.asarray(priors.concentration_spread),
        log_price,
        price_concentration,
    )


def concentration_spread_site(priors: PriorArrays) -> Array:
    """Draw each persona's concentration spread, ``yaml_sd * exp(SPREAD_LOG_SD * z)``, (P,).

    Non-centred (``concentration_spread_raw`` is the standard normal ``z``): the
    LogNormal(log yaml_sd, SPREAD_LOG_SD) for a positive YAML value, exactly 0 for 0.
    Drawn after every other population site, so a population drawn from the prior keeps
    the draws it had before the spread existed.
    """
    with numpyro.plate("personas", priors.n_personas, dim=-1):
        raw = numpyro.sample("concentration_spread_raw", dist.Normal(0.0, 1.0))
    return numpyro.deterministic(
        "concentration_spread", priors.concentration_spread * jnp.exp(SPREAD_LOG_SD * raw)
    )


def _group_normalise(raw: Array, group: np.ndarray, n_groups: int) -> Array:
    return raw / segment_sum(raw, group, n_groups)[..., group]


def population_model(priors: PriorArrays, structure: Structure) -> Population:
    """Draw every population-level site, class profiles included (the sampling prior).

    Parameters
    ----------
    priors : PriorArrays
        Numeric priors.
    structure : Structure
        Static structure (the class -> department index).

    Returns
    -------
    Population
    """
    pop = population_sites(priors, dirichlet_department_profile)
    with numpyro.plate("personas", priors.n_personas, dim=-1):
        raw = numpyro.sample(
            "class_profile_raw",
            dist.Gamma(priors.profile_concentration * priors.class_probs, 1.0).to_event(1),
        )
    class_profile = numpyro.deterministic(
        "class_profile", _group_normalise(raw, structure.class_index, structure.n_departments)
    )
    return pop._replace(
        class_profile=class_profile, concentration_spread=concentration_spread_site(priors)
    )


def population_means(priors: PriorArrays) -> dict[str, Array]:
    """Return the prior means of the population sites, for ``handlers.substitute``.

    Synthetic data sets use these by default: persona weights equal to the YAML
    weights, profiles equal to the YAML preferences.
    """
    return {
        "persona_weights": jnp.asarray(priors.weights),
        "department_profile": jnp.asarray(priors.department_probs),
        "class_profile_raw": jnp.asarray(priors.class_probs),
        "order_value_loc": jnp.asarray(priors.log_order_value_loc),
        "order_value_sd": jnp.asarray(priors.log_order_value_sd_customer),
        "purchase_rate_loc": jnp.asarray(priors.log_rate_loc),
        "purchase_rate_sd": jnp.asarray(priors.log_rate_sd),
        "dropout_loc": jnp.asarray(priors.logit_dropout_loc),
        "customer_concentration": jnp.asarray(priors.customer_concentration),
        "concentration_spread_raw": jnp.zeros_like(jnp.asarray(priors.concentration_spread)),
        "department_price_offset": jnp.zeros_like(jnp.asarray(priors.department_log_price)),
        "price_concentration": jnp.asarray(priors.price_concentration),
    }


def mean_population(priors: PriorArrays, structure: Structure) -> Population:
    """Return the population parameters fixed at their prior means (the YAML values)."""
    use_compilation_cache()
    fixed = handlers.substitute(population_model, data=population_means(priors))
    # every sample site is substituted: no randomness is drawn, so no key is needed
    return as_arrays(fixed(priors, structure))


def draw_population(priors: PriorArrays, structure: Structure, *, key: Array) -> Population:
    """Draw the population parameters from their (sampling) prior."""
    use_compilation_cache()
    return as_arrays(handlers.seed(population_model, key)(priors, structure))
