"""One entry point for the three fitting modes: ``weights``, ``profiles``, ``learn``.

:func:`fit_customers` picks the configuration the mode fits (for ``learn``, K
exchangeable copies of a template persona), runs NUTS or SVI, fixes the labels
of a ``learn`` fit and returns a :class:`Fit`; :func:`fit_inference_data` and
:func:`fit_memberships` turn it into the outputs ``personagen fit`` writes.
The CLI and the notebooks call these; nothing here reads or writes files.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from jax import Array

from personagen.config import PersonagenConfig
from personagen.errors import ConfigError, Problem
from personagen.fit_profiles import fit_profiles, initial_values
from personagen.infer import FitResult, Method, fit_persona_weights, membership_probabilities
from personagen.learn import exchangeable_config, relabel_draws
from personagen.likelihood import Observations
from personagen.posterior import memberships_table, to_inference_data
from personagen.priors import PriorArrays, build_prior_arrays

if TYPE_CHECKING:
    import arviz as az

__all__ = [
    "MODES",
    "Fit",
    "add_predictive_groups",
    "choose_personas",
    "fit_customers",
    "fit_inference_data",
    "fit_memberships",
]

Mode = Literal["weights", "profiles", "learn"]
MODES: tuple[str, ...] = ("weights", "profiles", "learn")


@dataclass(frozen=True)
class Fit:
    """A fitted model: the configuration it fitted, its priors, draws and mode.

    Attributes
    ----------
    config : PersonagenConfig
        The configuration of the fitted personas (for ``learn``, the expanded template).
    priors : PriorArrays
    result : FitResult
    mode : str
    seed : int
    label_switching : float
        ``learn`` only: fraction of draws whose labels the relabelling permuted
        (0.0 for the other modes).
    """

    config: PersonagenConfig
    priors: PriorArrays
    result: FitResult
    mode: str
    seed: int
    label_switching: float = 0.0


def fit_customers(
    config: PersonagenConfig,
    obs: Observations,
    *,
    mode: Mode,
    key: Array,
    seed: int = 0,
    n_personas: int | None = None,
    method: Method = "auto",
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    progress_bar: bool = False,
) -> Fit:
    """Fit observed customers in one of the three modes.

    Parameters
    ----------
    config : PersonagenConfig
        The personas (``weights``, ``profiles``) or the one-persona template (``learn``).
    obs : Observations
    mode : {"weights", "profiles", "learn"}
    key : Array
        PRNG key of the fit.
    seed : int
        Recorded in the outputs; also seeds the k-means start of ``learn``.
    n_personas : int, optional
        K, required for ``learn`` and refused otherwise.
    method, num_warmup, num_samples, num_chains, progress_bar
        As in :func:`personagen.infer.fit_persona_weights`.

    Returns
    -------
    Fit
    """
    if mode not in MODES:
        raise ConfigError(
            [Problem("--mode", "", f"unknown mode {mode!r}; expected one of {MODES}")]
        )
    if mode == "learn" and n_personas is None:
        raise ConfigError([Problem("--personas", "", "learn mode needs --personas K")])
    if mode != "learn" and n_personas is not None:
        raise ConfigError(
            [Problem("--personas", "", f"--personas K is for learn mode, not {mode!r}")]
        )
    fit_config = exchangeable_config(config, n_personas) if mode == "learn" else config
    priors = build_prior_arrays(fit_config)
    settings = dict(
        key=key,
        method=method,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        progress_bar=progress_bar,
    )
    if mode == "weights":
        result = fit_persona_weights(priors, obs, **settings)
        return Fit(fit_config, priors, result, mode, seed)
    init = initial_values(obs, priors.n_personas, seed=seed) if mode == "learn" else None
    result = fit_profiles(priors, obs, init=init, **settings)
    if mode == "profiles":
        return Fit(fit_config, priors, result, mode, seed)
    draws, switched = relabel_draws(result.draws)
    return Fit(fit_config, priors, replace(result, draws=draws), mode, seed, switched)


def fit_inference_data(fit: Fit, obs: Observations) -> az.InferenceData:
    """Return the ArviZ InferenceData of a fit (:func:`~personagen.posterior.to_inference_data`)."""
    extra = {"label_switching": fit.label_switching} if fit.mode == "learn" else None
    return to_inference_data(
        fit.result, obs, fit.config, seed=fit.seed, mode=fit.mode, extra_attrs=extra
    )


def fit_memberships(fit: Fit, obs: Observations, customer_ids: Sequence[str]) -> pd.DataFrame:
    """Return the memberships table: customer id, probability per persona, most likely persona."""
    probs = membership_probabilities(fit.priors, obs, fit.result.draws)
    return memberships_table(customer_ids, np.asarray(probs), fit.config.persona_names)


def choose_personas(fits: Mapping[int, az.InferenceData]) -> tuple[int, pd.DataFrame]:
    """Choose K among ``learn`` fits by PSIS-LOO: the smallest K within one SE of the best.

    Parameters
    ----------
    fits : dict of int to InferenceData
        NUTS fits (they carry a ``log_likelihood`` group) keyed by K.

    Returns
    -------
    k : int
    table : pandas.DataFrame
        ``arviz.compare``'s table indexed by K (``elpd_loo``, ``se``, ``elpd_diff``,
        ``dse``, ...), in increasing K.
    """
    import arviz as az

    with warnings.catch_warnings():
        # arviz warns when Pareto k > 0.7 for some customers (the table's "warning"
        # column says so too) and uses a pandas argument pandas 3.1 deprecates
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        table = az.compare(dict(fits), ic="loo")
    table = table.sort_index()
    best = table["elpd_loo"].max()
    within = table.index[table["elpd_loo"] >= best - table["dse"].fillna(0.0)]
    return int(min(within)), table


def add_predictive_groups(
    idata: az.InferenceData, fit: Fit, *, n_draws: int, n_customers: int, seed: int
) -> None:
    """Add ``prior_predictive`` and ``posterior_predictive`` groups to a fit's InferenceData.

    Each holds ``n_draws`` simulated data sets of ``n_customers`` customers, from
    population parameters drawn from the prior and from the posterior respectively.
    """
    from personagen.checks import posterior_predictive, predictive_group, prior_predictive

    prior = prior_predictive(fit.config, n_draws=n_draws, n_customers=n_customers, seed=seed)
    post = posterior_predictive(
        fit.config, fit.result.draws, n_draws=n_draws, n_customers=n_customers, seed=seed
    )
    dims = {name: ["customer"] for name in ("n_orders", "units", "revenue")}
    dims.update({name: ["customer"] for name in ("lifetime_months", "recency_days", "return_rate")})
    dims["department_units"] = ["customer", "department"]
    coords = {"department": list(fit.config.hierarchy.departments)}
    idata.add_groups(
        prior_predictive=predictive_group(prior, fit.config),
        posterior_predictive=predictive_group(post, fit.config),
        dims=dims,
        coords=coords,
    )
