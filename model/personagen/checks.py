"""Predictive checks: simulated customers in memory and reports against the YAML ranges.

Used by the notebooks (which stay thin) and by tests. Tables here hold the
basic columns plus ``persona_type`` and, for prior predictive draws, ``draw``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import jax
import numpy as np
import pandas as pd
import pyarrow as pa

from personagen.config import PersonagenConfig
from personagen.infer import population_draws, thin_draws
from personagen.ingest import observations_from_table
from personagen.priors import PriorArrays, build_prior_arrays
from personagen.simulate import draw_population, iter_customer_chunks, mean_population, run_keys
from personagen.tables import basic_batch, table_layout

__all__ = [
    "department_share_report",
    "persona_colours",
    "posterior_predictive",
    "predictive_group",
    "prior_predictive",
    "range_report",
    "sample_customers",
]

AS_OF = dt.date(2026, 1, 1)


def _table(config: PersonagenConfig, pop, priors, key, n: int, chunk: int) -> pd.DataFrame:
    layout = table_layout(config.hierarchy)
    segments = list(config.segments.segments)
    frames = []
    for c in iter_customer_chunks(
        pop, priors, key=key, n_customers=n, chunk_size=chunk, enriched=False
    ):
        frame = pa.Table.from_batches([basic_batch(c, layout, segments, AS_OF)]).to_pandas()
        frame["persona_type"] = np.asarray(config.persona_names)[c.core["persona"]]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def sample_customers(
    config: PersonagenConfig,
    *,
    n_customers: int,
    seed: int,
    chunk_size: int = 50_000,
    priors: PriorArrays | None = None,
) -> pd.DataFrame:
    """Return ``n_customers`` simulated customers (population at its prior means) as a table.

    ``priors`` replaces the configuration's prior arrays (to study a knob, e.g.
    ``priors._replace(customer_concentration=...)``).
    """
    priors = build_prior_arrays(config) if priors is None else priors
    _, key = run_keys(seed)
    return _table(config, mean_population(priors), priors, key, n_customers, chunk_size)


def prior_predictive(
    config: PersonagenConfig, *, n_draws: int, n_customers: int, seed: int
) -> pd.DataFrame:
    """Simulate ``n_customers`` under each of ``n_draws`` population draws from the prior.

    Returns
    -------
    pandas.DataFrame
        Basic columns, ``persona_type`` and ``draw`` (0 .. n_draws - 1).
    """
    priors = build_prior_arrays(config)
    frames = []
    for d in range(n_draws):
        pop_key, key = run_keys(seed + d)
        pop = draw_population(priors, key=pop_key)
        frame = _table(config, pop, priors, key, n_customers, n_customers)
        frame["draw"] = d
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def posterior_predictive(
    config: PersonagenConfig,
    draws: Mapping[str, np.ndarray],
    *,
    n_draws: int,
    n_customers: int,
    seed: int,
) -> pd.DataFrame:
    """Simulate ``n_customers`` under each of ``n_draws`` evenly spaced posterior draws.

    Parameters
    ----------
    config : PersonagenConfig
        The configuration the posterior was fitted with (``Fit.config`` or
        :func:`personagen.posterior.posterior_config`).
    draws : dict of ndarray, each shape (chains, draws, ...)
        Posterior draws of the population sites (``Fit.result.draws`` or
        :func:`personagen.posterior.posterior_draws`); missing sites stay at their
        prior means.

    Returns
    -------
    pandas.DataFrame
        Basic columns, ``persona_type`` and ``draw`` (0 .. n_draws - 1).
    """
    priors = build_prior_arrays(config)
    pops = population_draws(priors, thin_draws(draws, n_draws))
    frames = []
    for d in range(int(pops.persona_weights.shape[0])):
        _, key = run_keys(seed + d)
        pop = jax.tree.map(lambda x, d=d: x[d], pops)
        frame = _table(config, pop, priors, key, n_customers, n_customers)
        frame["draw"] = d
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def predictive_group(table: pd.DataFrame, config: PersonagenConfig) -> dict[str, np.ndarray]:
    """Turn simulated customers with a ``draw`` column into an InferenceData group.

    Every draw must hold the same number of customers. The variables are the
    observed-data variables of a fit (``n_orders``, ``units``, ``department_units``,
    ``revenue``, ``lifetime_months``, ``recency_days``, ``return_rate``), each shaped
    (1 chain, draws, customer, ...), so ArviZ's ``plot_ppc`` pairs them with the data.
    """
    per_draw = [
        observations_from_table(group, config.hierarchy, source="simulated")
        for _, group in table.groupby("draw", sort=True)
    ]
    return {
        name: np.stack([np.asarray(getattr(o, name)) for o in per_draw])[None]
        for name in per_draw[0]._fields
    }


def persona_colours(config: PersonagenConfig) -> dict[str, str]:
    """One fixed colour per persona (matplotlib's tab10 in file order), for every plot."""
    palette = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
    ]
    return {name: palette[i % len(palette)] for i, name in enumerate(config.persona_names)}


def range_report(table: pd.DataFrame, config: PersonagenConfig) -> pd.DataFrame:
    """Compare simulated customers with each persona's YAML spending ranges.

    Returns one row per persona: the ``avg_order_value`` range, the median and
    the share of customers whose average order value lies outside it, and the
    same for ``frequency_per_month`` among customers of the
    ``medium_value_regular`` segment (whose frequency multiplier is centred on
    1, so the persona's range applies as written).
    """
    rows = []
    for name, spec in config.personas.personas.items():
        mine = table[table["persona_type"] == name]
        lo, hi = spec.spending_profile.avg_order_value
        aov = mine["avg_order_value"]
        f_lo, f_hi = spec.spending_profile.frequency_per_month
        regular = mine.loc[mine["true_segment"] == "medium_value_regular", "frequency_per_month"]
        rows.append(
            {
                "persona": name,
                "aov_lo": lo,
                "aov_hi": hi,
                "aov_median": aov.median(),
                "aov_outside": float(((aov < lo) | (aov > hi)).mean()),
                "freq_lo": f_lo,
                "freq_hi": f_hi,
                "freq_median_regular": regular.median(),
                "freq_outside_regular": float(((regular < f_lo) | (regular > f_hi)).mean()),
                "customers": len(mine),
            }
        )
    return pd.DataFrame(rows).set_index("persona")


def department_share_report(table: pd.DataFrame, config: PersonagenConfig) -> pd.DataFrame:
    """Mean department value share per persona minus the persona's prior share.

    Returns a persona x department table of differences (simulated - prior).
    """
    priors = build_prior_arrays(config)
    value_cols = [f"dept_total_value_{s}" for s in config.hierarchy.department_slugs]
    values = table[value_cols].to_numpy()
    shares = values / np.maximum(values.sum(1, keepdims=True), 1e-12)
    out = {}
    for p, name in enumerate(config.persona_names):
        mask = table["persona_type"].to_numpy() == name
        out[name] = shares[mask].mean(0) - priors.department_probs[p]
    return pd.DataFrame(out, index=list(config.hierarchy.departments)).T
