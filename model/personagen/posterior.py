"""Fit results -> ArviZ InferenceData, summary and membership tables on disk.

``posterior.nc`` (netCDF, never a pickle) holds the posterior of the persona
weights, sample statistics, the per-customer log-likelihood (NUTS fits) and the
observed data, with the resolved configuration, seed, mode, method and package
version in its attributes. ``summary.csv`` has mean, sd, 90% HDI, r_hat and ESS
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

import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

from personagen._io import atomic_path, check_writable

with warnings.catch_warnings():  # arviz 0.23 announces its 1.0 refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az
from personagen.config import PersonagenConfig
from personagen.errors import ConfigError, DataError, Problem
from personagen.infer import SVI_CONVERGED, FitResult, membership_probabilities
from personagen.likelihood import Observations

__all__ = [
    "FitOutputs",
    "check_diagnostics",
    "memberships_table",
    "read_posterior",
    "to_inference_data",
    "weight_draws",
    "write_fit_outputs",
]

log = logging.getLogger("personagen")
#: Convergence thresholds behind the warnings of :func:`check_diagnostics`.
RHAT_MAX = 1.01
ESS_MIN = 400


def to_inference_data(
    fit: FitResult, obs: Observations, config: PersonagenConfig, *, seed: int, mode: str
) -> az.InferenceData:
    """Build the InferenceData of a fit."""
    personas = list(config.persona_names)
    coords = {"persona": personas}
    dims = {"persona_weights": ["persona"]}
    log_likelihood = None
    if fit.method == "nuts":
        ll = jnp.asarray(fit.log_lik)
        w = jnp.asarray(fit.weights)
        log_likelihood = {
            "customer_log_lik": np.asarray(logsumexp(jnp.log(w)[..., None, :] + ll, axis=-1))
        }
    observed = {name: np.asarray(value) for name, value in obs._asdict().items()}
    coords["department"] = list(config.hierarchy.departments)
    dims.update({"department_units": ["customer", "department"], "customer_log_lik": ["customer"]})
    for name in observed:
        dims.setdefault(name, ["customer"])
    idata = az.from_dict(
        posterior={"persona_weights": fit.weights},
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
            "config_hash": config.config_hash(),
            "config": json.dumps(config.to_dict()),
        }
    )
    if fit.method == "svi":
        idata.attrs["svi_loss_change"] = fit.svi_loss_change
    return idata


def check_diagnostics(idata: az.InferenceData) -> list[str]:
    """Return warnings for r_hat > 1.01, bulk ESS < 400, divergences, or unsettled SVI."""
    warnings = []
    if idata.attrs.get("method") == "nuts":
        summary = az.summary(idata, var_names=["persona_weights"], kind="diagnostics")
        high = summary.index[summary["r_hat"] > RHAT_MAX].tolist()
        if high:
            warnings.append(f"r_hat above {RHAT_MAX} for {high}; run longer chains")
        if (summary["ess_bulk"] < ESS_MIN).any():
            warnings.append(f"bulk ESS below {ESS_MIN} for some weights; draw more samples")
        divergences = int(idata.sample_stats["diverging"].sum())
        if divergences:
            warnings.append(f"{divergences} divergent transitions")
    change = idata.attrs.get("svi_loss_change")
    if change is not None and not change < SVI_CONVERGED:
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
    out_dir: Path,
    idata: az.InferenceData,
    fit: FitResult,
    customer_ids: Sequence[str],
    personas: Sequence[str],
    *,
    overwrite: bool,
) -> FitOutputs:
    """Write ``posterior.nc``, ``summary.csv`` and ``memberships.csv`` atomically."""
    paths = FitOutputs(
        out_dir / "posterior.nc", out_dir / "summary.csv", out_dir / "memberships.csv"
    )
    check_writable([paths.posterior, paths.summary, paths.memberships], overwrite=overwrite)
    summary = az.summary(idata, var_names=["persona_weights"], hdi_prob=0.9)
    draws = fit.weights.reshape(-1, fit.weights.shape[-1])
    probs = np.asarray(membership_probabilities(fit.log_lik, draws))
    with atomic_path(paths.summary) as tmp:
        summary.to_csv(tmp, index_label="parameter")
    with atomic_path(paths.memberships) as tmp:
        memberships_table(customer_ids, probs, personas).to_csv(tmp, index=False)
    with atomic_path(paths.posterior) as tmp:
        idata.to_netcdf(str(tmp))
    return paths


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
    if idata.attrs.get("config_hash") != config.config_hash():
        raise ConfigError(
            [
                Problem(
                    str(p),
                    "attrs.config_hash",
                    "the posterior was fitted with another configuration; pass the "
                    "same --priors/--hierarchy/--segments",
                )
            ]
        )
    return idata


def weight_draws(idata: az.InferenceData) -> np.ndarray:
    """Return the posterior draws of the persona weights, shape (chains * draws, P)."""
    values = idata.posterior["persona_weights"].values
    return values.reshape(-1, values.shape[-1])
