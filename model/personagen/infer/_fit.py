"""One entry point for the three fitting modes: ``weights``, ``profiles``, ``learn``.

:func:`fit_customers` picks the configuration the mode fits (for ``learn``, K
exchangeable copies of a template persona), runs NUTS or SVI, fixes the labels
of a ``learn`` fit and returns the :class:`~personagen.infer.FittedModel` that
every later step takes whole. Nothing here reads or writes files.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

import jax
import numpy as np
import pandas as pd
from jax import Array

from personagen._compilation_cache import use_compilation_cache
from personagen.config import PersonagenConfig, build_structure
from personagen.data import Observations
from personagen.errors import bad_argument, close_match_hint
from personagen.infer._fitted import MODES, FittedModel, Mode, fit_priors
from personagen.infer._learn import exchangeable_config, relabel_draws
from personagen.infer._profiles import fit_profiles, initial_values
from personagen.infer._runners import Method, RunResult
from personagen.infer._weights import fit_persona_weights

if TYPE_CHECKING:
    import arviz as az

__all__ = ["SMALL_ELPD_DIFFERENCE", "check_fit_arguments", "choose_personas", "fit_customers"]

METHODS = ("auto", "nuts", "svi")


def check_fit_arguments(mode: str, n_personas: int | None, method: str) -> None:
    """Raise a :class:`~personagen.errors.ParameterError` for an impossible fit request.

    :func:`fit_customers` calls it first; callers that read data before fitting
    (the command line) call it before reading, so a bad flag is reported at once.
    """
    if mode not in MODES:
        hint = close_match_hint(mode, MODES)
        raise bad_argument(
            "mode", f"unknown mode {mode!r}; expected one of {', '.join(MODES)}{hint}"
        )
    if method not in METHODS:
        hint = close_match_hint(method, METHODS)
        raise bad_argument(
            "method", f"unknown method {method!r}; expected one of {', '.join(METHODS)}{hint}"
        )
    if mode == "learn" and n_personas is None:
        raise bad_argument("n_personas", "required in learn mode (how many personas to learn)")
    if mode != "learn" and n_personas is not None:
        raise bad_argument("n_personas", f"only used in learn mode, not in {mode!r} mode")


def _kmeans_seed(key: Array) -> int:
    """Return the k-means seed of ``learn``: the last word of the fit's key."""
    return int(np.asarray(jax.random.key_data(key)).ravel()[-1])


def fit_customers(
    config: PersonagenConfig,
    obs: Observations,
    *,
    mode: Mode,
    key: Array,
    n_personas: int | None = None,
    method: Method = "auto",
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    svi_steps: int = 3_000,
    progress_bar: bool = False,
) -> FittedModel:
    """Fit observed customers in one of the three modes.

    Parameters
    ----------
    config : PersonagenConfig
        The personas (``weights``, ``profiles``) or the one-persona template (``learn``).
    obs : Observations
        The customers to fit (:func:`personagen.data.observations_from_table`).
    mode : {"weights", "profiles", "learn"}
        ``weights``: persona weights, profiles fixed at the YAML; ``profiles``: weights
        and profiles with the YAML as informative priors; ``learn``: K personas from a
        one-persona template with weak priors.
    key : Array
        The fit's only source of randomness (``jax.random.key(seed)``); the words of
        the key are recorded in the fitted model.
    n_personas : int, optional
        K, required for ``learn`` and refused otherwise.
    method : {"auto", "nuts", "svi"}
        :func:`~personagen.infer.choose_method`.
    num_warmup, num_samples, num_chains : int
        NUTS settings; SVI returns ``num_chains x num_samples`` draws of its guide.
    svi_steps : int
        Optimisation steps of an SVI fit (its step size decays over them).
    progress_bar : bool
        Show numpyro's progress bar.

    Returns
    -------
    FittedModel

    Raises
    ------
    ParameterError
        Naming ``mode``, ``method`` or ``n_personas`` when they are invalid.
    ConfigError
        In ``learn`` mode, if ``config`` is not a one-persona template.
    """
    check_fit_arguments(mode, n_personas, method)
    use_compilation_cache()
    fit_config = config
    if mode == "learn" and n_personas is not None:
        fit_config = exchangeable_config(config, n_personas)
    priors, structure = fit_priors(fit_config), build_structure(fit_config)
    chains = {
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "num_chains": num_chains,
        "svi_steps": svi_steps,
    }
    run: RunResult
    if mode == "weights":
        run = fit_persona_weights(
            priors, structure, obs, key=key, method=method, progress_bar=progress_bar, **chains
        )
    else:
        init = None
        if mode == "learn":
            init = initial_values(obs, priors.n_personas, seed=_kmeans_seed(key))
        run = fit_profiles(
            priors, obs, key=key, method=method, init=init, progress_bar=progress_bar, **chains
        )
    diagnostics = run.diagnostics
    draws = run.draws
    if mode == "learn":
        draws, switched = relabel_draws(run.draws)
        diagnostics = replace(diagnostics, label_switching=switched)
    key_data = tuple(int(w) for w in np.asarray(jax.random.key_data(key)).ravel())
    return FittedModel(
        config=fit_config,
        structure=structure,
        priors=priors,
        draws=draws,
        mode=mode,
        method=run.method,
        diagnostics=diagnostics,
        key_data=key_data,
    )


#: elpd differences (nats) below which two fits count as predicting alike whatever their
#: standard error (Sivula, Magnusson and Vehtari 2020, "Uncertainty in Bayesian
#: leave-one-out cross-validation based model comparison": below 4 the difference is small).
SMALL_ELPD_DIFFERENCE = 4.0


def choose_personas(fits: Mapping[int, az.InferenceData]) -> tuple[int, pd.DataFrame]:
    """Choose K among ``learn`` fits by PSIS-LOO: the smallest K close to the best.

    Close means an elpd within one standard error of the paired difference (``dse``) or
    within :data:`SMALL_ELPD_DIFFERENCE` nats of the best, whichever is wider: below
    that the models predict alike and the normal approximation behind ``dse`` is
    unreliable (Sivula, Magnusson and Vehtari 2020), so a redundant persona must not
    win on noise.

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
        table = az.compare({str(k): v for k, v in fits.items()}, ic="loo")
    table.index = table.index.astype(int)
    table = table.sort_index()
    best = table["elpd_loo"].max()
    margin = np.maximum(table["dse"].fillna(0.0), SMALL_ELPD_DIFFERENCE)
    within = table.index[table["elpd_loo"] >= best - margin]
    return int(min(within)), table
