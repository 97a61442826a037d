"""Simulation-based calibration of the ``weights`` fit: ranks, uniformity tests, a plot.

    python benchmarks/sbc_weights.py --replications 100 --customers 300 \
        --plot docs/images/sbc_weights.png
"""

from __future__ import annotations

import argparse
import time

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.stats as ss

from personagen import load_config
from personagen.checks import rank_uniformity_pvalues, sbc_weight_ranks
from personagen.config import build_structure
from personagen.infer import fit_priors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    config = load_config()
    priors, structure = fit_priors(config), build_structure(config)
    n_draws = 99
    t0 = time.perf_counter()
    ranks = sbc_weight_ranks(
        priors,
        structure,
        key=jax.random.key(args.seed),
        n_replications=args.replications,
        n_customers=args.customers,
        n_draws=n_draws,
    )
    seconds = time.perf_counter() - t0
    pvalues = rank_uniformity_pvalues(ranks, n_draws)
    print(f"{args.replications} replications x {args.customers} customers in {seconds:.0f} s")
    print(f"{'persona':<24} {'chi2 p (10 bins)':>16}")
    for name, p in zip(config.persona_names, pvalues, strict=True):
        print(f"{name:<24} {p:>16.3f}")
    pooled = ss.chisquare(
        np.bincount(np.minimum(ranks.ravel() * 10 // (n_draws + 1), 9), minlength=10)
    ).pvalue
    print(
        f"pooled over personas: p = {pooled:.3f}; smallest per-persona p = {pvalues.min():.3f} "
        f"(Bonferroni threshold for 10 tests at 1%: 0.001)"
    )
    if args.plot:
        fig, axes = plt.subplots(2, 5, figsize=(13, 5), sharex=True, sharey=True)
        expected = args.replications / 10
        band = ss.binom(args.replications, 0.1).ppf([0.005, 0.995])
        for ax, name, r in zip(axes.ravel(), config.persona_names, ranks.T, strict=True):
            ax.axhspan(band[0], band[1], color="0.85")
            ax.axhline(expected, color="0.5", lw=1)
            ax.hist(r, bins=np.linspace(0, n_draws + 1, 11), histtype="stepfilled", alpha=0.8)
            ax.set_title(name, fontsize=9)
        for ax in axes[1]:
            ax.set_xlabel(f"rank of true weight (0-{n_draws})")
        for ax in axes[:, 0]:
            ax.set_ylabel("replications")
        fig.suptitle(
            f"SBC, weights mode: {args.replications} replications of {args.customers} "
            "customers (grey band: 99% range for uniform ranks)"
        )
        fig.tight_layout()
        fig.savefig(args.plot, dpi=90)


if __name__ == "__main__":
    main()
