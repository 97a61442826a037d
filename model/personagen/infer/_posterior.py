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
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from personagen._io import atomic_path, check_writable

with warnings.catch_warnings():  # arviz 0.23 announces its 1.0 refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az
from personagen.config import PersonagenConfig, config_from_dict
from personagen.data import Observations
from personagen.errors import ConfigError, DataError, Problem
from personagen.infer._fitted import MODES, FittedModel, fitted_model
from personagen.infer._learn import exchangeable_config
from personagen.infer._memberships import pointwise_log_likelihood
from personagen.infer._runners import Diagnostics

__all__ = [
    "ESS_MIN",
    "RHAT_MAX",
    "SITE_DIMS",
    "FitOutputs",
    "check_diagnostics",
    "diagnostics_summary",
    "fitted_from_posterior",
    "open_posterior",
    "posterior_config",
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
    "order_value_sd": ["persona"],
    "purchase_rate_loc": ["persona"],
    "purchase_rate_sd": ["persona"],
    "dropout_loc": ["persona"],
    "customer_concentration": ["persona"],
    "concentration_spread": ["persona"],
    "department_log_price": ["department"],
    "price_concentration": [],
}


def to_inference_data(
    fitted: FittedModel,
    obs: Observations,
    *,
    attrs: Mapping[str, float | int | str] | None = None,
) -> az.InferenceData:
    """Build the InferenceData of a fit: posterior, sample statistics, observed data.

    NUTS fits get a ``log_likelihood`` group (each customer's log-likelihood with
    the persona summed out, per draw) for LOO and WAIC. The attributes hold the
    resolved configuration, mode, method, key and package version, plus ``attrs``
    (the command line adds its seed).
    """
    config = fitted.config
    coords = {
        "persona": list(config.persona_names),
        "department": list(config.hierarchy.departments),
    }
    dims = {name: SITE_DIMS[name] for name in fitted.draws}
    log_likelihood = None
    if fitted.method == "nuts":
        log_likelihood = {"customer_log_lik": pointwise_log_likelihood(fitted, obs)}
    observed = {name: np.asarray(value) for name, value in obs._asdict().items()}
    dims.update(
        {
            "department_units": ["customer", "department"],
            "department_revenue": ["customer", "department"],
            "customer_log_lik": ["customer"],
        }
    )
    for name in observed:
        dims.setdefault(name, ["customer"])
    idata = az.from_dict(
        posterior=dict(fitted.draws),
        sample_stats=dict(fitted.diagnostics.sample_stats) or None,
        log_likelihood=log_likelihood,
        observed_data=observed,
        coords=coords,
        dims=dims,
    )
    idata.attrs.update(
        {
            "personagen_version": version("personagen"),
            "mode": fitted.mode,
            "method": fitted.method,
            "n_personas": fitted.priors.n_personas,
            "key_data": json.dumps(list(fitted.key_data)),
            "config_hash": config.config_hash(),
            "config": json.dumps(config.to_dict()),
            "sources": json.dumps(dict(config.sources)),
            **dict(attrs or {}),
        }
    )
    if fitted.mode == "learn":
        idata.attrs["label_switching"] = fitted.diagnostics.label_switching
    if fitted.method == "svi":
        idata.attrs["svi_loss_change"] = fitted.diagnostics.svi_loss_change
        idata.attrs["svi_loss_se"] = fitted.diagnostics.svi_loss_se
    return idata


def _summary(idata: az.InferenceData, **kwargs) -> pd.DataFrame:
    """``az.summary`` of the posterior; parameters held fixed get NaN r_hat and ESS.

    Department shares a fit holds at their prior value (see
    :func:`personagen.story.anchored_department_profile`) are constant across draws, for
    which arviz divides by zero; their diagnostics are NaN and ignored by the checks.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return az.summary(idata, **kwargs)


def diagnostics_summary(fitted: FittedModel) -> pd.DataFrame:
    """Return r_hat, ESS and MCSE of every fitted site (NaN where a share is held fixed)."""
    return _summary(az.from_dict(posterior=dict(fitted.draws)), kind="diagnostics")


def check_diagnostics(fitted: FittedModel) -> list[str]:
    """Return warnings for r_hat > 1.01, bulk ESS < 400, divergences, or unsettled SVI."""
    warnings = []
    diagnostics = fitted.diagnostics
    if fitted.method == "nuts":
        summary = diagnostics_summary(fitted)
        high = summary.index[summary["r_hat"] > RHAT_MAX].tolist()
        if high:
            warnings.append(f"r_hat above {RHAT_MAX} for {high}; run longer chains")
        if (summary["ess_bulk"] < ESS_MIN).any():
            warnings.append(f"bulk ESS below {ESS_MIN} for some parameters; draw more samples")
        if diagnostics.divergences:
            warnings.append(f"{diagnostics.divergences} divergent transitions")
    elif not diagnostics.svi_converged:
        warnings.append(
            f"SVI loss still changing ({diagnostics.svi_loss_change:.3g} nats over the last "
            "tenth of the steps); increase the number of steps"
        )
    return warnings


@dataclass(frozen=True)
class FitOutputs:
    """Paths written by :func:`write_fit_outputs`.

    Attributes
    ----------
    posterior : Path
        ``posterior.nc``: the InferenceData (netCDF).
    summary : Path
        ``summary.csv``: mean, sd, 90% HDI, r_hat and ESS of every population parameter.
    memberships : Path
        ``memberships.csv``: each customer's persona probabilities and most likely persona.
    """

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

    Raises
    ------
    ConfigError
        If the posterior is a ``learn`` fit and ``config`` is not a one-persona template.
    """
    if idata.attrs.get("mode") != "learn":
        return config
    if len(config.persona_names) != 1:
        raise ConfigError(
            [
                Problem(
                    dict(config.sources).get("priors", "personas file"),
                    "",
                    "the posterior was fitted in learn mode; pass its one-persona template "
                    f"(it was fitted with {idata.attrs.get('sources', '?')})",
                )
            ]
        )
    return exchangeable_config(config, int(idata.attrs["n_personas"]))


def recorded_config(path: Path, idata: az.InferenceData) -> PersonagenConfig:
    """Return the resolved configuration a posterior file records in its attributes."""
    try:
        data = json.loads(idata.attrs["config"])
    except (KeyError, TypeError, ValueError):
        raise DataError(
            [Problem(str(path), "attrs.config", "no recorded configuration; pass the priors")]
        ) from None
    return config_from_dict(data, source=str(path))


def open_posterior(path: str | Path) -> az.InferenceData:
    """Read a ``posterior.nc`` as InferenceData, every failure a :class:`DataError`.

    Checks that it has a ``persona_weights`` posterior of dims (chain, draw, persona)
    and a known mode; :func:`fitted_from_posterior` turns it into the fitted model.
    """
    path = Path(path)
    idata = _read_netcdf(path)
    _check_posterior(path, idata)
    return idata


def _read_netcdf(path: Path) -> az.InferenceData:
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise DataError([Problem(str(path), "", f"file {state}; expected a posterior.nc")])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return az.from_netcdf(str(path))
    except Exception as exc:  # netCDF4/h5netcdf/xarray raise many types for bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            [Problem(str(path), "", f"not a posterior.nc written by personagen fit ({reason})")]
        ) from None


def _check_posterior(path: Path, idata: az.InferenceData) -> None:
    problems = []
    if "posterior" not in idata.groups() or "persona_weights" not in idata["posterior"]:
        problems.append(Problem(str(path), "posterior", "no persona_weights posterior"))
    elif idata["posterior"]["persona_weights"].ndim != 3:
        problems.append(
            Problem(str(path), "posterior.persona_weights", "expected dims (chain, draw, persona)")
        )
    mode = idata.attrs.get("mode", "weights")
    if mode not in MODES:
        problems.append(Problem(str(path), "attrs.mode", f"unknown mode {mode!r}"))
    if problems:
        raise DataError(problems)


def _draws(idata: az.InferenceData) -> dict[str, np.ndarray]:
    posterior = idata["posterior"]
    return {name: posterior[name].values for name in SITE_DIMS if name in posterior}


def _diagnostics(idata: az.InferenceData) -> Diagnostics:
    stats = {}
    if "sample_stats" in idata.groups():
        stats = {str(k): idata["sample_stats"][k].values for k in idata["sample_stats"].data_vars}
    return Diagnostics(
        sample_stats=stats,
        svi_loss_change=float(idata.attrs.get("svi_loss_change", float("nan"))),
        svi_loss_se=float(idata.attrs.get("svi_loss_se", float("nan"))),
        label_switching=float(idata.attrs.get("label_switching", 0.0)),
    )


def read_posterior(path: str | Path, config: PersonagenConfig | None = None) -> FittedModel:
    """Read a ``posterior.nc`` written by ``personagen fit`` into the fitted model.

    Parameters
    ----------
    path : str or Path
        The posterior file.
    config : PersonagenConfig, optional
        The configuration it was fitted with (for ``learn``, the one-persona template),
        checked against the file's ``config_hash``. By default the configuration the
        file records (every fit writes its resolved configuration) is used.

    Returns
    -------
    FittedModel
        The object the fit returned (the observed data stay in the file).

    Raises
    ------
    DataError
        If the file is missing, unreadable, not netCDF or has no ``persona_weights``
        posterior of dims (chain, draw, persona).
    ConfigError
        If it was fitted under another configuration (its ``config_hash`` differs).
    """
    return fitted_from_posterior(open_posterior(path), config, source=str(path))


def fitted_from_posterior(
    idata: az.InferenceData, config: PersonagenConfig | None = None, *, source: str
) -> FittedModel:
    """Build the fitted model from an InferenceData read by :func:`open_posterior`.

    ``config`` and the errors are those of :func:`read_posterior`; ``source`` names
    the file in them.
    """
    p = Path(source)
    if config is None:
        fitted_config = recorded_config(p, idata)
    else:
        fitted_config = posterior_config(idata, config)
    if idata.attrs.get("config_hash") != fitted_config.config_hash():
        raise ConfigError(
            [
                Problem(
                    str(p),
                    "attrs.config_hash",
                    "the posterior was fitted with another configuration; pass the "
                    "same priors, hierarchy and segments files (it was fitted in mode "
                    f"{idata.attrs.get('mode')!r} with {idata.attrs.get('sources', '?')})",
                )
            ]
        )
    draws = _draws(idata)
    if draws["persona_weights"].shape[-1] != len(fitted_config.persona_names):
        raise DataError(
            [Problem(str(p), "posterior.persona_weights", "persona axis does not match the config")]
        )
    default_method = "nuts" if "sample_stats" in idata.groups() else "svi"
    return fitted_model(
        fitted_config,
        draws,
        mode=idata.attrs.get("mode", "weights"),
        method=idata.attrs.get("method", default_method),
        diagnostics=_diagnostics(idata),
        key_data=tuple(json.loads(idata.attrs.get("key_data", "[]"))),
    )
