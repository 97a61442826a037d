"""Fit persona weights *and* persona profiles: the ``profiles`` and ``learn`` modes.

The model is :func:`personagen.model.persona_population` (persona weights,
department profiles, order value and purchase rate locations, with the priors
of the configuration) followed by every customer's story with the persona
marginalised: ``logsumexp(log pi + log p(customer | persona))`` added with
``numpyro.factor`` inside the ``customers`` plate. Unlike the ``weights`` mode
the (N, P) log-likelihood matrix depends on the sampled profiles, so it is
recomputed at every density evaluation.

* ``profiles``: the YAML personas are informative priors (``profile_concentration``
  and ``location_sd`` of the personas file say how informative).
* ``learn``: the configuration is K exchangeable copies of a one-persona template
  (:func:`personagen.learn.exchangeable_config`); the labels are fixed after the
  fit by :func:`personagen.learn.relabel_draws`.

The log-likelihood is evaluated from sufficient statistics
(:func:`personagen.likelihood.prepare_fit_data`): the parameter-free terms once,
the department term once per distinct (department, count) pair. NUTS for up to
``NUTS_MAX_CUSTOMERS`` customers; above that full-batch SVI with a multivariate
normal guide (a subsampled plate would need the per-pair reduction redone per
batch, and the full batch costs O(N P S) per step, see ``docs/inference.md``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array
from numpyro.infer import NUTS, init_to_value
from numpyro.infer.autoguide import AutoMultivariateNormal

from personagen.infer import (
    NUTS_MAX_CUSTOMERS,
    FitResult,
    Method,
    mixture_log_lik,
    run_nuts,
    run_svi,
)
from personagen.likelihood import FitData, Observations, fit_log_likelihood, prepare_fit_data
from personagen.model import Population
from personagen.priors import PriorArrays
from personagen.simulate import as_jax_priors

__all__ = [
    "FITTED_SITES",
    "MIN_FREE_CONCENTRATION",
    "fit_population",
    "fit_profiles",
    "initial_values",
    "profiles_model",
]

#: Department components whose prior Dirichlet parameter is below this are held at
#: their prior share in a fit (see :func:`fit_population`).
MIN_FREE_CONCENTRATION = 0.5
#: NUTS tree depth during warmup and sampling: before the first mass-matrix
#: adaptation the department scales differ by 100x and trajectories run to the
#: cap; capping warmup trajectories at 2^7 steps cut warmup time severalfold
#: without hurting adaptation (docs/inference.md).
WARMUP_TREE_DEPTH = (7, 10)
#: The population sites the ``profiles`` and ``learn`` fits report.
FITTED_SITES = ("persona_weights", "department_profile", "order_value_loc", "purchase_rate_loc")


# The helpers below are jitted: numpyro runs the model eagerly while it sets up
# NUTS, and every eager jnp operation compiles on its own (about 0.1 s each on
# CPU); one jitted function compiles once. Inside the sampler they are inlined.
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


@jax.jit
def _mixture_log_lik(pop: Population, data: FitData) -> Array:
    """Each customer's log-likelihood with the persona summed out, shape (N,)."""
    return mixture_log_lik(pop.persona_weights, fit_log_likelihood(pop, data))


def fit_population(priors: PriorArrays) -> Population:
    """Draw the fitted population sites, with rare departments held at their prior share.

    The prior of a persona's department mixture is ``Dirichlet(kappa * theta0)``.
    Components with ``kappa * theta0_d < MIN_FREE_CONCENTRATION`` (departments the
    persona explores but does not prefer, and excluded ones) have densities
    that pile up at zero; in the unconstrained space HMC works in they become
    exponential tails with scale ``1 / (kappa * theta0_d)``, up to 5,000 for an
    excluded department, next to posterior scales of 0.01, and NUTS hits its
    maximum tree depth at every step. The fit therefore conditions the Dirichlet
    on those components being at their prior mean: the free components are
    ``Gamma(kappa * theta0_d, 1)`` variables normalised to the free prior mass,
    which is exactly the conditional Dirichlet (its mean is still ``theta0``).
    Everything else is :func:`personagen.model.persona_population`'s prior.
    """
    alpha, free = _free_components(priors.profile_concentration, priors.department_probs)
    weights = numpyro.sample(
        "persona_weights", dist.Dirichlet(priors.weight_concentration * priors.weights)
    )
    with numpyro.plate("personas", priors.n_personas, dim=-1):
        raw = numpyro.sample(
            "department_raw", dist.Gamma(jnp.where(free, alpha, 1.0), 1.0).to_event(1)
        )
        order_value_loc = numpyro.sample(
            "order_value_loc", dist.Normal(priors.log_order_value_loc, priors.location_sd)
        )
        purchase_rate_loc = numpyro.sample(
            "purchase_rate_loc", dist.Normal(priors.log_rate_loc, priors.location_sd)
        )
    profile = numpyro.deterministic(
        "department_profile", _normalise_free(raw, free, priors.department_probs)
    )
    return Population(
        weights, profile, jnp.asarray(priors.class_probs), order_value_loc, purchase_rate_loc
    )


def profiles_model(priors: PriorArrays, data: FitData) -> None:
    """Persona weights and profiles given observed customers (persona marginalised).

    Parameters
    ----------
    priors : PriorArrays
        Numeric priors as JAX arrays (:func:`personagen.simulate.as_jax_priors`).
    data : FitData
        The observed customers, reduced by :func:`personagen.likelihood.prepare_fit_data`.
    """
    pop = fit_population(priors)
    n_customers = data.constant.shape[0]
    with numpyro.plate("customers", n_customers, dim=-1):
        numpyro.factor("customer_log_lik", _mixture_log_lik(pop, data))


def initial_values(obs: Observations, n_personas: int, *, seed: int) -> dict[str, np.ndarray]:
    """Return a starting point for a ``learn`` fit: k-means on department shares.

    Mixture posteriors have one mode per labelling and, with weak priors, poor
    local modes too; starting every chain from the same k-means solution puts
    them in the same basin (the labels are fixed afterwards anyway).

    Returns
    -------
    dict
        Values of every site in :data:`FITTED_SITES`, for ``init_to_value``.
    """
    from sklearn.cluster import KMeans

    units = np.asarray(obs.department_units, dtype=np.float64)
    shares = units / np.maximum(units.sum(1, keepdims=True), 1.0)
    revenue = np.asarray(obs.revenue, dtype=np.float64)
    n_orders = np.asarray(obs.n_orders, dtype=np.float64)
    lifetime = np.asarray(obs.lifetime_months, dtype=np.float64)
    log_value = np.log(revenue / n_orders)
    log_rate = np.log(n_orders / np.maximum(lifetime, 1.0))
    features = np.column_stack([np.sqrt(shares), 0.25 * (log_value - log_value.mean())])
    labels = KMeans(n_personas, n_init=10, random_state=seed).fit_predict(features)
    counts = np.bincount(labels, minlength=n_personas).astype(np.float64)
    profile = np.stack(
        [units[labels == k].sum(0) + 0.5 for k in range(n_personas)]
    )  # +0.5: no empty department
    return {
        "persona_weights": (counts + 1.0) / (counts.sum() + n_personas),
        "department_profile": profile / profile.sum(1, keepdims=True),
        "order_value_loc": np.array(
            [np.median(log_value[labels == k]) if counts[k] else 0.0 for k in range(n_personas)]
        ),
        "purchase_rate_loc": np.array(
            [np.median(log_rate[labels == k]) if counts[k] else 0.0 for k in range(n_personas)]
        ),
    }


def _start(priors: PriorArrays, init: dict[str, np.ndarray] | None) -> dict[str, Array]:
    """Return starting values: ``init`` where given, else the prior means."""
    values = {
        "persona_weights": priors.weights,
        "department_profile": priors.department_probs,
        "order_value_loc": priors.log_order_value_loc,
        "purchase_rate_loc": priors.log_rate_loc,
    }
    values.update(init or {})
    profile = jnp.asarray(values.pop("department_profile"))
    values["department_raw"] = jnp.maximum(profile, 1e-3) * priors.profile_concentration
    return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}


def fit_profiles(
    priors: PriorArrays,
    obs: Observations,
    *,
    key: Array,
    method: Method = "auto",
    init: dict[str, np.ndarray] | None = None,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    svi_steps: int = 3_000,
    progress_bar: bool = False,
) -> FitResult:
    """Fit persona weights and profiles (``profiles`` and ``learn`` modes).

    Parameters
    ----------
    priors : PriorArrays
        Numeric priors (the YAML personas, or K exchangeable copies of a template).
    obs : Observations
        Observed customers.
    key : Array
        PRNG key.
    method : {"auto", "nuts", "svi"}
        ``auto`` uses NUTS up to ``NUTS_MAX_CUSTOMERS`` customers, SVI above.
    init : dict, optional
        Starting values of the sites (:func:`initial_values`); default: the prior median.
    num_warmup, num_samples, num_chains : int
        NUTS settings; SVI returns ``num_chains x num_samples`` draws of its guide.
    svi_steps : int
        SVI optimisation steps.
    progress_bar : bool
        Show numpyro's progress bar.

    Returns
    -------
    FitResult
        ``draws`` holds every site of :data:`FITTED_SITES`.
    """
    # the weights' prior is worth P customers, as in the weights mode
    # (weight_concentration describes synthetic populations, not knowledge)
    pj = as_jax_priors(priors._replace(weight_concentration=np.float32(priors.n_personas)))
    data = prepare_fit_data(pj, obs)
    n = data.constant.shape[0]
    chosen = ("nuts" if n <= NUTS_MAX_CUSTOMERS else "svi") if method == "auto" else method
    init_strategy = init_to_value(values=_start(pj, init))
    k_fit, k_draw = jax.random.split(key)
    if chosen == "nuts":
        return run_nuts(
            NUTS(
                profiles_model,
                init_strategy=init_strategy,
                max_tree_depth=WARMUP_TREE_DEPTH,
                dense_mass=True,  # weights and profiles are correlated (docs/inference.md)
            ),
            (pj, data),
            key=k_fit,
            sites=FITTED_SITES,
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains,
            progress_bar=progress_bar,
            jit_model_args=True,  # data as arguments, not constants XLA tries to fold
            one_device="vectorized",  # one compilation of the sampler, not one per chain
        )
    guide = AutoMultivariateNormal(profiles_model, init_loc_fn=init_strategy, init_scale=0.01)
    run = run_svi(
        profiles_model,
        guide,
        (pj, data),
        key=k_fit,
        steps=svi_steps,
        step_size=lambda i: 0.02 * 0.05 ** (i / svi_steps),
        progress_bar=progress_bar,
    )
    flat = guide.sample_posterior(k_draw, run.params, sample_shape=(num_chains * num_samples,))
    draws = {
        site: np.asarray(flat[site]).reshape(num_chains, num_samples, *flat[site].shape[1:])
        for site in FITTED_SITES
    }
    return FitResult(draws, "svi", {}, run.losses, run.loss_change, run.loss_se)
