"""The purchase process on real customers: held-out density and predictive checks.

    python benchmarks/validate_purchase_process.py cdnow --out runs/cdnow -k 3
    python benchmarks/validate_purchase_process.py completejourney --out runs/cj -k 3

Splits the customers in two halves at random (seed 0), fits personagen's ``learn`` mode
with K personas on half A (NUTS), and writes:

* ``train.csv`` / ``test.csv``: the halves' purchase summaries in months (``frequency`` =
  repeat orders, ``recency`` = time of the last order after the first, ``T``), the input of
  ``benchmarks/clv_reference.py``, which fits BG/NBD, MBG/NBD and Pareto/NBD to the same
  half with pymc-marketing and scores the other;
* ``personagen_test.csv``: per held-out customer, personagen's log density of its
  ``(x, t_x)`` given ``T`` (the persona and segment mixture of the fit, averaged over
  posterior draws: ``log mean_draws sum_p,s pi_p P(s | p) p(x, t_x | T, p, s)``);
* ``ppc.csv``: posterior predictive checks of the fitted half (purchase counts, the share
  of one-time buyers, the upper tail, recency and the rank correlation of purchases and
  recency), the report's statistics (``personagen.report``), with each customer's observed
  lifetime kept; ``ppc_departments.csv``: the pooled department shares of units and of
  value (the price levels) against their replicated intervals.

Then ``benchmarks/clv_reference.py DIR`` prints the comparison. Both densities are of
``(x, t_x)`` in months, so they are comparable (the CLV libraries' likelihoods omit the
factor ``t_x^(x-1)/(x-1)!``; the reference script adds it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.scipy.special import logsumexp

from personagen import load_config
from personagen.checks import posterior_predictive, predictive_group
from personagen.data import (
    cdnow_transactions,
    complete_journey_transactions,
    load_mapping,
    observations_from_table,
    transactions_to_customers,
)
from personagen.infer import fit_customers, last_order_months, purchase_log_prob, to_inference_data
from personagen.report._fit_summaries import ppc_department_shares, ppc_statistics
from personagen.story import as_arrays

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "priors" / "examples"
#: Posterior draws averaged in the held-out density, and replicated data sets of the PPCs.
HELDOUT_DRAWS = 200
PREDICTIVE_DRAWS = 99


def customers(name: str) -> tuple[pd.DataFrame, object]:
    folder = EXAMPLES / name
    config = load_config(folder / "personas.yml", folder / "hierarchy.yml", folder / "segments.yml")
    if name == "cdnow":
        lines = cdnow_transactions()
        table = transactions_to_customers(lines, config.hierarchy, source="CDNOW")
    else:
        lines = complete_journey_transactions().transactions
        mapping = load_mapping(folder / "mapping.yml", config.hierarchy)
        table = transactions_to_customers(
            lines, config.hierarchy, mapping=mapping, unmapped="other", source="CJ"
        )
    return table, config


def summary(table: pd.DataFrame, obs) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": table["customer_id"].to_numpy(),
            "frequency": np.asarray(obs.n_orders) - 1,
            "recency": np.asarray(last_order_months(obs), np.float64),
            "T": np.asarray(obs.lifetime_months, np.float64),
        }
    )


def heldout_density(fitted, obs) -> np.ndarray:
    pops = as_arrays(fitted.population_draws(HELDOUT_DRAWS))
    priors, ob = as_arrays(fitted.priors), as_arrays(obs)

    @jax.jit
    def one(pop):
        log_ps = jnp.log(pop.persona_weights)[:, None] + jnp.log(priors.segment_probs)  # (P, S)
        return logsumexp(purchase_log_prob(pop, priors, ob) + log_ps[None], axis=(1, 2))

    per_draw = jax.lax.map(one, pops)  # (draws, N)
    return np.asarray(logsumexp(per_draw, axis=0) - np.log(per_draw.shape[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", choices=["cdnow", "completejourney"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--fit-customers", type=int, default=None, help="subsample half A")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    table, config = customers(args.data)
    rng = np.random.default_rng(0)
    half = rng.permutation(len(table)) % 2
    train, test = table[half == 0].reset_index(drop=True), table[half == 1].reset_index(drop=True)
    if args.fit_customers is not None and args.fit_customers < len(train):
        train = train.iloc[rng.choice(len(train), args.fit_customers, replace=False)]
        train = train.reset_index(drop=True)
    obs_a = observations_from_table(train, config.hierarchy, source="half A")
    obs_b = observations_from_table(test, config.hierarchy, source="half B")
    summary(train, obs_a).to_csv(args.out / "train.csv", index=False)
    summary(test, obs_b).to_csv(args.out / "test.csv", index=False)
    print(f"{args.data}: {len(train)} customers fitted, {len(test)} held out")
    print(f"one-time buyers: {np.mean(np.asarray(obs_a.n_orders) == 1):.3f} (half A)")

    start = time.perf_counter()
    fitted = fit_customers(
        config,
        obs_a,
        mode="learn",
        n_personas=args.k,
        key=jax.random.key(0),
        num_warmup=args.warmup,
        num_samples=args.samples,
    )
    print(f"learn K={args.k}: {time.perf_counter() - start:.0f} s")
    stats = fitted.diagnostics.sample_stats
    print(f"divergences: {int(np.sum(stats.get('diverging', 0)))}")
    for site in (
        "persona_weights",
        "purchase_rate_loc",
        "purchase_rate_sd",
        "dropout_loc",
        "department_log_price",
        "price_concentration",
    ):
        print(f"  {site}: {np.round(fitted.posterior_means()[site], 3).tolist()}")

    density = heldout_density(fitted, obs_b)
    out = summary(test, obs_b).assign(personagen=density)
    out.to_csv(args.out / "personagen_test.csv", index=False)
    print(f"personagen held-out log density per customer: {density.mean():.4f}")

    idata = to_inference_data(fitted, obs_a)
    replicated = posterior_predictive(
        fitted,
        n_draws=PREDICTIVE_DRAWS,
        n_customers=obs_a.n_customers,
        seed=1,
        lifetime_months=np.asarray(obs_a.lifetime_months),
    )
    dims = {name: ["customer"] for name in ("n_orders", "revenue", "recency_days")}
    dims |= {
        name: ["customer", "department"] for name in ("department_units", "department_revenue")
    }
    group = predictive_group(replicated, fitted.config)
    idata.add_groups(
        posterior_predictive={name: group[name] for name in dims},
        dims=dims,
        coords={"department": list(fitted.config.hierarchy.departments)},
    )
    ppc = ppc_statistics(idata)
    ppc.to_csv(args.out / "ppc.csv")
    shares = pd.concat(
        {
            "units": ppc_department_shares(idata, "department_units"),
            "value": ppc_department_shares(idata, "department_revenue"),
        }
    )
    shares.to_csv(args.out / "ppc_departments.csv")
    with pd.option_context("display.width", 140, "display.max_columns", 10, "display.max_rows", 80):
        print(ppc.round(4))
        print(shares.round(4))


if __name__ == "__main__":
    main()
