"""Fit persona weights *and* persona profiles: the ``profiles`` and ``learn`` modes.

The model is the population prior :func:`personagen.story.population_sites`
(persona weights, department profiles, order value and purchase rate locations;
the department profiles through :func:`~personagen.story.anchored_department_profile`)
followed by every customer's story with the persona
marginalised: ``logsumexp(log pi + log p(customer | persona))`` added with
``numpyro.factor`` inside the ``customers`` plate. Unlike the ``weights`` mode
the (N, P) log-likelihood matrix depends on the sampled profiles, so it is
recomputed at every density evaluation.

* ``profiles``: the YAML personas are informative priors (``profile_concentration``
  and ``location_sd`` of the personas file say how informative).
* ``learn``: the configuration is K exchangeable copies of a one-persona template
  (:func:`personagen.infer.exchangeable_config`); the labels are fixed after the
  fit by :func:`personagen.infer.relabel_draws`.

The log-likelihood is evaluated from sufficient statistics
(:func:`personagen.infer.prepare_fit_data`): the parameter-free terms once,
the department term once per distinct (department, count) pair. NUTS for up to
``NUTS_MAX_CUSTOMERS`` customers, warm-started from a Laplace approximation and a
pilot run (:func:`personagen.infer.run_warm_nuts`); above that full-batch SVI with a multivariate
normal guide (a subsampled plate would need the per-pair reduction redone per
batch, and the full batch costs O(N P S) per step, see ``docs/inference.md``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
from jax import Array
from numpyro.infer import init_to_value
from numpyro.infer.autoguide import AutoMultivariateNormal

from personagen.config import PriorArrays
from personagen.data import Observations
from personagen.infer._likelihood import FitData, fit_log_likelihood, prepare_fit_data
from personagen.infer._runners import (
    Method,
    RunResult,
    choose_method,
    group_by_chain,
    run_svi,
)
from personagen.infer._warm_start import run_warm_nuts
from personagen.infer._weights import mixture_log_lik
from personagen.story import (
    FITTED_SITES,
    Population,
    anchored_department_profile,
    as_arrays,
    concentration_spread_site,
    population_means,
    population_sites,
)

__all__ = ["fit_profiles", "initial_values", "profiles_model", "profiles_population"]


@jax.jit
def _mixture_log_lik(pop: Population, data: FitData) -> Array:
    """Each customer's log-likelihood with the persona summed out, shape (N,)."""
    return mixture_log_lik(pop.persona_weights, fit_log_likelihood(pop, data))


def profiles_population(priors: PriorArrays) -> Population:
    """Draw the population prior of the ``profiles`` and ``learn`` fits."""
    pop = population_sites(priors, anchored_department_profile)
    return pop._replace(concentration_spread=concentration_spread_site(priors))


def profiles_model(priors: PriorArrays, data: FitData) -> None:
    """Persona weights and profiles given observed customers (persona marginalised).

    Parameters
    ----------
    priors : PriorArrays
        The fitted priors, as JAX arrays.
    data : FitData
        The observed customers, reduced by :func:`personagen.infer.prepare_fit_data`.
    """
    pop = profiles_population(priors)
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
        Values of every site in :data:`~personagen.story.FITTED_SITES`, for ``init_to_value``.
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
    # each cluster's log order values (the whole data's for a cluster of one)
    cluster_values = [
        log_value[labels == k] if counts[k] > 1 else log_value for k in range(n_personas)
    ]
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
        # their spread (order-level noise included), kept away from 0 and from huge values
        "order_value_sd": np.clip([np.std(v) for v in cluster_values], 0.05, 2.0),
    }


def _start(priors: PriorArrays, init: dict[str, np.ndarray] | None) -> dict[str, Array]:
    """Return starting values: ``init`` where given, else the prior means."""
    values: dict[str, Any] = dict(population_means(priors))
    del values["class_profile_raw"]  # no fit learns the class profiles
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
) -> RunResult:
    """Fit persona weights and profiles (``profiles`` and ``learn`` modes).

    Parameters
    ----------
    priors : PriorArrays
        The fitted priors (:func:`personagen.infer.fit_priors`) of the YAML personas, or
        of K exchangeable copies of a template.
    obs : Observations
        Observed customers.
    key : Array
        PRNG key.
    method : {"auto", "nuts", "svi"}
        :func:`~personagen.infer.choose_method`.
    init : dict, optional
        Starting values of the sites (:func:`initial_values`); default: the prior median.
    num_warmup, num_samples, num_chains : int
        NUTS settings (``num_warmup``: step-size adaptation after the warm start, see
        :func:`~personagen.infer.run_warm_nuts`); SVI returns ``num_chains x num_samples``
        draws of its guide.
    svi_steps : int
        SVI optimisation steps.
    progress_bar : bool
        Show numpyro's progress bar.

    Returns
    -------
    RunResult
        ``draws`` holds every site of :data:`~personagen.story.FITTED_SITES`.
    """
    pj = as_arrays(priors)
    data = prepare_fit_data(pj, obs)
    n = data.constant.shape[0]
    k_fit, k_draw = jax.random.split(key)
    if choose_method(n, method) == "nuts":
        return run_warm_nuts(
            profiles_model,
            (pj, data),
            init_values=_start(pj, init),
            key=k_fit,
            sites=FITTED_SITES,
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains,
            progress_bar=progress_bar,
        )
    init_strategy = init_to_value(values=_start(pj, init))
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
    draws = group_by_chain({site: flat[site] for site in FITTED_SITES}, num_chains)
    return RunResult(draws, "svi", run.diagnostics())
