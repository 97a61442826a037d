"""Predictive checks: simulated customers in memory, and reports against the YAML ranges.

Used by the notebooks (which stay thin), by ``personagen fit --predictive`` and by
tests. Tables here hold the basic columns plus ``persona_type`` and, for
predictive draws, ``draw``. Checks take what they check whole: a configuration
(the modeller's prior) or a :class:`~personagen.infer.FittedModel` (its prior and
posterior predictive), never priors rebuilt from pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pyarrow as pa
from jax import Array
from jaxtyping import Float
from numpyro.infer import Predictive

from personagen.config import (
    DAYS_PER_MONTH,
    PersonagenConfig,
    PriorArrays,
    Structure,
    build_prior_arrays,
    build_structure,
    department_units_columns,
    department_value_columns,
)
from personagen.data import Observations, observations_from_table
from personagen.infer import FittedModel, profiles_population
from personagen.sample import (
    DEFAULT_AS_OF,
    CustomerChunk,
    basic_batch,
    iter_customer_chunks,
    run_keys,
    table_layout,
)
from personagen.story import Population, draw_population, mean_population

if TYPE_CHECKING:
    import arviz as az

__all__ = [
    "AS_OF",
    "add_predictive_groups",
    "department_share_report",
    "fit_prior_predictive",
    "observations_from_chunks",
    "posterior_predictive",
    "predictive_group",
    "price_report",
    "prior_predictive",
    "range_report",
    "sample_customers",
]

#: The date predictive tables describe (that of ``personagen sample`` by default).
AS_OF = DEFAULT_AS_OF


def observations_from_chunks(chunks: Sequence[CustomerChunk]) -> Observations:
    """Return the observations of simulated customers (the same values the tables hold)."""
    core = {k: np.concatenate([c.core[k] for c in chunks]) for k in chunks[0].core}
    return Observations(
        n_orders=np.asarray(core["n_orders"], np.int32),
        units=np.asarray(core["units"], np.int32),
        department_units=np.asarray(core["department_units"], np.int32),
        revenue=np.asarray(core["revenue_cents"] / 100.0, np.float32),
        department_revenue=np.asarray(core["department_cents"] / 100.0, np.float32),
        lifetime_months=np.asarray(core["lifetime_days"] / DAYS_PER_MONTH, np.float32),
        recency_days=np.asarray(core["recency_days"], np.float32),
        return_rate=np.asarray(core["return_rate"], np.float32),
    )


def _table(
    config: PersonagenConfig,
    pop: Population,
    priors: PriorArrays,
    structure: Structure,
    key: Array,
    n: int,
    chunk: int,
    lifetime_months: np.ndarray | None = None,
) -> pd.DataFrame:
    layout = table_layout(config.hierarchy)
    segments = list(config.segments.labels)
    frames = []
    chunks = iter_customer_chunks(
        pop,
        priors,
        structure,
        key=key,
        n_customers=n,
        chunk_size=chunk,
        enriched=False,
        lifetime_months=lifetime_months,
    )
    for c in chunks:
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
    structure = build_structure(config)
    _, key = run_keys(seed)
    pop = mean_population(priors, structure)
    return _table(config, pop, priors, structure, key, n_customers, chunk_size)


def _draw_tables(
    config: PersonagenConfig,
    priors: PriorArrays,
    structure: Structure,
    pops: Population,
    *,
    n_customers: int,
    seed: int,
    lifetime_months: np.ndarray | None = None,
) -> pd.DataFrame:
    """Simulate ``n_customers`` under each population of ``pops`` (leading draw axis)."""
    frames = []
    for d in range(int(pops.persona_weights.shape[0])):
        _, key = run_keys(seed + d)
        pop = jax.tree.map(lambda x, d=d: x[d], pops)
        frame = _table(
            config, pop, priors, structure, key, n_customers, n_customers, lifetime_months
        )
        frame["draw"] = d
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def prior_predictive(
    config: PersonagenConfig, *, n_draws: int, n_customers: int, seed: int
) -> pd.DataFrame:
    """Simulate ``n_customers`` under each of ``n_draws`` population draws from the YAML prior.

    Draw ``d`` takes its population from ``run_keys(seed + d)`` (as ``personagen sample
    --draw-population --seed seed + d`` does).

    Returns
    -------
    pandas.DataFrame
        Basic columns, ``persona_type`` and ``draw`` (0 .. n_draws - 1).
    """
    priors, structure = build_prior_arrays(config), build_structure(config)
    pops = [draw_population(priors, structure, key=run_keys(seed + d)[0]) for d in range(n_draws)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *pops)
    return _draw_tables(config, priors, structure, stacked, n_customers=n_customers, seed=seed)


def fit_prior_predictive(
    fitted: FittedModel, *, n_draws: int, n_customers: int, seed: int
) -> pd.DataFrame:
    """Simulate customers under ``n_draws`` populations from the prior the fit used.

    In ``weights`` mode only the weights are drawn (``Dirichlet(P w)``, the fit's
    prior), the profiles stay at the YAML; in the ``profiles`` and ``learn`` modes the
    fitted sites come from the fit's population prior
    (:func:`personagen.infer.profiles_population`).
    """
    key = jax.random.fold_in(run_keys(seed)[0], 2)
    if fitted.mode == "weights":
        alpha = jnp.asarray(fitted.weight_prior)
        sites = {"persona_weights": jax.random.dirichlet(key, alpha, (n_draws,))}
    else:
        drawn = Predictive(profiles_population, num_samples=n_draws)(key, fitted.priors)
        sites = {k: v for k, v in drawn.items() if k in fitted.draws}
    pops = fitted.population_from_sites(sites)
    return _draw_tables(
        fitted.config, fitted.priors, fitted.structure, pops, n_customers=n_customers, seed=seed
    )


def posterior_predictive(
    fitted: FittedModel,
    *,
    n_draws: int,
    n_customers: int,
    seed: int,
    lifetime_months: Float[np.ndarray, " customers"] | None = None,
) -> pd.DataFrame:
    """Simulate ``n_customers`` under each of at most ``n_draws`` evenly spaced posterior draws.

    The draws are every k-th with ``k = ceil(draws / n_draws)`` (so 1,000 draws and
    ``n_draws=300`` give 250); sites the fit did not learn stay at their prior means.

    ``lifetime_months`` (one per customer, e.g. ``observations.lifetime_months``) keeps
    the replicated customers' observation windows at the observed ones, as the CLV
    literature treats the window: a covariate, not an outcome. Replicated purchase
    counts and recencies are then comparable with the data customer for customer
    (on a one-year panel, lifetimes drawn from the segment laws would be shorter than
    the panel and under-predict purchases). Persona and segment are drawn given the
    lifetime (:func:`~personagen.sample.iter_customer_chunks`).

    Returns
    -------
    pandas.DataFrame
        Basic columns, ``persona_type`` and ``draw`` (0 .. n_draws - 1).
    """
    pops = fitted.population_draws(n_draws)
    return _draw_tables(
        fitted.config,
        fitted.priors,
        fitted.structure,
        pops,
        n_customers=n_customers,
        seed=seed,
        lifetime_months=lifetime_months,
    )


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
    """Mean department unit share per persona minus the persona's prior share.

    Returns a persona x department table of differences (simulated - prior). Units, not
    values: the persona's department profile is a law of units; values also carry the
    price levels (:func:`price_report`).
    """
    priors = build_prior_arrays(config)
    units = table[department_units_columns(config.hierarchy)].to_numpy()
    shares = units / np.maximum(units.sum(1, keepdims=True), 1)
    out = {}
    for p, name in enumerate(config.persona_names):
        mask = table["persona_type"].to_numpy() == name
        out[name] = shares[mask].mean(0) - priors.department_probs[p]
    return pd.DataFrame(out, index=list(config.hierarchy.departments)).T


def price_report(table: pd.DataFrame, config: PersonagenConfig) -> pd.DataFrame:
    """Per department: the YAML unit price, units and value bought, and the average unit price.

    One row per department with ``price`` (the YAML's typical unit price), ``unit_share``
    and ``value_share`` (of all units and all value in ``table``) and ``unit_price``
    (value / units; NaN where nothing was bought). With the customer's revenue split by
    units times prices, departments priced above the store's average take more of the
    value than of the units.
    """
    priors = build_prior_arrays(config)
    units = table[department_units_columns(config.hierarchy)].to_numpy().sum(0)
    value = table[department_value_columns(config.hierarchy)].to_numpy().sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_price = np.where(units > 0, value / units, np.nan)
    return pd.DataFrame(
        {
            "price": np.exp(np.asarray(priors.department_log_price, np.float64)),
            "unit_share": units / units.sum(),
            "value_share": value / value.sum(),
            "unit_price": unit_price,
        },
        index=list(config.hierarchy.departments),
    )


def add_predictive_groups(
    idata: az.InferenceData,
    fitted: FittedModel,
    observations: Observations,
    *,
    n_draws: int,
    seed: int,
) -> None:
    """Add ``prior_predictive`` and ``posterior_predictive`` groups to a fit's InferenceData.

    Each holds ``n_draws`` simulated data sets of as many customers as the fitted
    ``observations``, from population parameters drawn from the fit's prior
    (:func:`fit_prior_predictive`: the story as the YAML tells it, lifetimes included)
    and from its posterior (:func:`posterior_predictive`, with the observed lifetimes).
    """
    n_customers = observations.n_customers
    prior = fit_prior_predictive(fitted, n_draws=n_draws, n_customers=n_customers, seed=seed)
    post = posterior_predictive(
        fitted,
        n_draws=n_draws,
        n_customers=n_customers,
        seed=seed,
        lifetime_months=np.asarray(observations.lifetime_months, np.float32),
    )
    dims = {name: ["customer"] for name in Observations._fields}
    dims["department_units"] = ["customer", "department"]
    dims["department_revenue"] = ["customer", "department"]
    coords = {"department": list(fitted.config.hierarchy.departments)}
    idata.add_groups(
        prior_predictive=predictive_group(prior, fitted.config),
        posterior_predictive=predictive_group(post, fitted.config),
        dims=dims,
        coords=coords,
    )
