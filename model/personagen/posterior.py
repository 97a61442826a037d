"""Fit results -> ArviZ InferenceData, summary and membership tables on disk.

``posterior.nc`` (netCDF, never a pickle) holds the posterior of the fitted
population sites (persona weights; in the ``profiles`` and ``learn`` modes also
department profiles and order value and purchase rate locations), sample
statistics, the per-customer log-likelihood (NUTS fits) and the observed data,
with the resolved configuration, seed, mode, method and package version in its
attributes. ``summary.csv`` has mean, sd, 90% HDI, r_hat and ESS
of every population parameter; ``memberships.csv`` each customer's persona
probabilities and most likely persona.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from personagen._io import atomic_path, check_writable

with warnings.catch_warnings():  # arviz 0.23 announces its 1.0 refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az
from personagen.config import PersonagenConfig
from personagen.errors import ConfigError, DataError, Problem
from personagen.infer import FitResult, pointwise_log_likelihood, svi_settled
from personagen.learn import exchangeable_config
from personagen.likelihood import Observations
from personagen.priors import build_prior_arrays

__all__ = [
    "FitOutputs",
    "check_diagnostics",
    "memberships_table",
    "posterior_config",
    "posterior_draws",
    "posterior_means",
    "read_posterior",
    "to_inference_data",
    "write_fit_outputs",
]

log = logging.getLogger("personagen")
#: Convergence thresholds behind the warnings of :func:`check_diagnostics`.
RHAT_MAX = 1.01
ESS_MIN = 400


#: Dimensions of each population site in the InferenceData.
SITE_DIMS = {
    "persona_weights": ["persona"],
    "department_profile": ["persona", "department"],
    "order_value_loc": ["persona"],
    "purchase_rate_loc": ["persona"],
}


def to_inference_data(
    fit: FitResult,
    obs: Observations,
    config: PersonagenConfig,
    *,
    seed: int,
    mode: str,
    extra_attrs: dict[str, float | int | str] | None = None,
) -> az.InferenceData:
    """Build the InferenceData of a fit.

    ``config`` is the configuration the fit used (for ``learn``, the expanded
    one of :func:`personagen.learn.exchangeable_config`). NUTS fits get a
    ``log_likelihood`` group (each customer's log-likelihood with the persona
    summed out, per draw) for LOO and WAIC.
    """
    priors = build_prior_arrays(config)
    coords = {
        "persona": list(config.persona_names),
        "department": list(config.hierarchy.departments),
    }
    dims = {name: SITE_DIMS[name] for name in fit.draws}
    log_likelihood = None
    if fit.method == "nuts":
        log_likelihood = {"customer_log_lik": pointwise_log_likelihood(priors, obs, fit.draws)}
    observed = {name: np.asarray(value) for name, value in obs._asdict().items()}
    dims.update({"department_units": ["customer", "department"], "customer_log_lik": ["customer"]})
    for name in observed:
        dims.setdefault(name, ["customer"])
    idata = az.from_dict(
        posterior=dict(fit.draws),
        sample_stats={k: v for k, v in fit.sample_stats.items()} or None,
        log_likelihood=log_likelihood,
        observed_data=observed,
        coords=coords,
        dims=dims,
    )
    idata.attrs.update(
        {
            "personagen_version": version("personagen"),
            "seed": seed,
            "mode": mode,
            "method": fit.method,
            "n_personas": priors.n_personas,
            "config_hash": config.config_hash(),
            "config": json.dumps(config.to_dict()),
            "sources": json.dumps(dict(config.sources)),
            **(extra_attrs or {}),
        }
    )
    if fit.method == "svi":
        idata.attrs["svi_loss_change"] = fit.svi_loss_change
        idata.attrs["svi_loss_se"] = fit.svi_loss_se
    return idata


def _summary(idata: az.InferenceData, **kwargs) -> pd.DataFrame:
    """``az.summary`` of the posterior; parameters held fixed get NaN r_hat and ESS.

    Department shares a fit holds at their prior value (see
    :func:`personagen.fit_profiles.fit_population`) are constant across draws, for
    which arviz divides by zero; their diagnostics are NaN and ignored by the checks.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return az.summary(idata, **kwargs)


def check_diagnostics(idata: az.InferenceData) -> list[str]:
    """Return warnings for r_hat > 1.01, bulk ESS < 400, divergences, or unsettled SVI."""
    warnings = []
    if idata.attrs.get("method") == "nuts":
        summary = _summary(idata, kind="diagnostics")
        high = summary.index[summary["r_hat"] > RHAT_MAX].tolist()
        if high:
            warnings.append(f"r_hat above {RHAT_MAX} for {high}; run longer chains")
        if (summary["ess_bulk"] < ESS_MIN).any():
            warnings.append(f"bulk ESS below {ESS_MIN} for some parameters; draw more samples")
        divergences = int(idata.sample_stats["diverging"].sum())
        if divergences:
            warnings.append(f"{divergences} divergent transitions")
    change = idata.attrs.get("svi_loss_change")
    if change is not None and not svi_settled(change, idata.attrs.get("svi_loss_se", 0.0)):
        warnings.append(
            f"SVI loss still changing ({change:.3g} nats over the last tenth of the steps); "
            "increase the number of steps"
        )
    return warnings


def memberships_table(
    customer_ids: Sequence[str], probabilities: np.ndarray, personas: Sequence[str]
) -> pd.DataFrame:
    """Return a table of customer id, probability per persona and most likely persona."""
    table = pd.DataFrame(np.asarray(probabilities), columns=[f"p_{p}" for p in personas])
    table.insert(0, "customer_id", list(customer_ids))
    table["most_likely_persona"] = np.asarray(personas)[np.asarray(probabilities).argmax(1)]
    return table


@dataclass(frozen=True)
class FitOutputs:
    """Paths written by :func:`write_fit_outputs`."""

    posterior: Path
    summary: Path
    memberships: Path


def write_fit_outputs(
    out_dir: Path, idata: az.InferenceData, memberships: pd.DataFrame, *, overwrite: bool
) -> FitOutputs:
    """Write ``posterior.nc``, ``summary.csv`` and ``memberships.csv`` atomically."""
    paths = FitOutputs(
        out_dir / "posterior.nc", out_dir / "summary.csv", out_dir / "memberships.csv"
    )
    check_writable([paths.posterior, paths.summary, paths.memberships], overwrite=overwrite)
    summary = _summary(idata, hdi_prob=0.9)
    with atomic_path(paths.summary) as tmp:
        summary.to_csv(tmp, index_label="parameter")
    with atomic_path(paths.memberships) as tmp:
        memberships.to_csv(tmp, index=False)
    with atomic_path(paths.posterior) as tmp:
        idata.to_netcdf(str(tmp))
    return paths


def posterior_config(idata: az.InferenceData, config: PersonagenConfig) -> PersonagenConfig:
    """Return the configuration a posterior was fitted with, given the files passed.

    For a ``learn`` fit that is the template expanded to the fitted number of
    personas; otherwise ``config`` itself.
    """
    if idata.attrs.get("mode") != "learn":
        return config
    if len(config.persona_names) != 1:
        raise ConfigError(
            [
                Problem(
                    "--priors",
                    "",
                    "the posterior was fitted in learn mode; pass its one-persona template "
                    f"(it was fitted with {idata.attrs.get('sources', '?')})",
                )
            ]
        )
    return exchangeable_config(config, int(idata.attrs["n_personas"]))


def read_posterior(path: str | Path, config: PersonagenConfig) -> az.InferenceData:
    """Read a ``posterior.nc`` written by ``personagen fit`` under the same configuration.

    Raises
    ------
    DataError
        If the file is missing or has no ``persona_weights`` posterior.
    ConfigError
        If it was fitted under another configuration (its ``config_hash`` differs).
    """
    p = Path(path)
    if not p.is_file():
        raise DataError([Problem(str(p), "", "file does not exist; expected a posterior.nc")])
    idata = az.from_netcdf(str(p))
    if "posterior" not in idata.groups() or "persona_weights" not in idata.posterior:
        raise DataError([Problem(str(p), "posterior", "no persona_weights posterior in this file")])
    if idata.attrs.get("config_hash") != posterior_config(idata, config).config_hash():
        raise ConfigError(
            [
                Problem(
                    str(p),
                    "attrs.config_hash",
                    "the posterior was fitted with another configuration; pass the "
                    "same --priors/--hierarchy/--segments (it was fitted in mode "
                    f"{idata.attrs.get('mode')!r} with {idata.attrs.get('sources', '?')})",
                )
            ]
        )
    return idata


def posterior_draws(idata: az.InferenceData) -> dict[str, np.ndarray]:
    """Return the draws of every population site, each shape (chains, draws, ...)."""
    return {name: idata.posterior[name].values for name in SITE_DIMS if name in idata.posterior}


def posterior_means(idata: az.InferenceData) -> dict[str, np.ndarray]:
    """Return the posterior mean of every population site (weights renormalised)."""
    means = {name: v.mean(axis=(0, 1)) for name, v in posterior_draws(idata).items()}
    means["persona_weights"] = means["persona_weights"] / means["persona_weights"].sum()
    if "department_profile" in means:
        profile = means["department_profile"]
        means["department_profile"] = profile / profile.sum(-1, keepdims=True)
    return means
