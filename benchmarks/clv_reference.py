"""Reference CLV models on the halves written by ``validate_purchase_process.py``.

Runs in its own environment (pymc-marketing pulls in PyMC and PyTensor, which
personagen does not need)::

    python3.11 -m venv /tmp/clvenv
    /tmp/clvenv/bin/pip install pymc-marketing==0.19.2 pandas
    /tmp/clvenv/bin/python benchmarks/clv_reference.py runs/cdnow [BG/NBD,MBG/NBD,Pareto/NBD]

(the optional second argument picks the models: pymc-marketing 0.19.2's Pareto/NBD
crashes the interpreter, a segmentation fault, on The Complete Journey's counts of
hundreds of orders).

Fits BG/NBD (Fader, Hardie and Lee 2005), MBG/NBD (Batislam et al. 2007) and Pareto/NBD
(Schmittlein et al. 1987) to ``train.csv`` by maximum likelihood (flat priors, MAP),
scores ``test.csv`` with the library's own log-likelihood at the fitted parameters, adds
``log t_x^(x-1)/(x-1)!`` (the libraries score the whole sequence of purchase times; the
factor turns it into the density of ``(x, t_x)`` that personagen reports), and prints
each model's mean held-out log density per customer next to personagen's, with the
standard error of the paired difference.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import gammaln

warnings.filterwarnings("ignore")

import pymc as pm  # noqa: E402
from pymc_extras.prior import Prior  # noqa: E402
from pymc_marketing.clv import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel  # noqa: E402
from pymc_marketing.clv.distributions import BetaGeoNBD, ModifiedBetaGeoNBD, ParetoNBD  # noqa: E402

MODELS = {
    "BG/NBD": (BetaGeoModel, BetaGeoNBD, ("r", "alpha", "a", "b")),
    "MBG/NBD": (ModifiedBetaGeoModel, ModifiedBetaGeoNBD, ("r", "alpha", "a", "b")),
    "Pareto/NBD": (ParetoNBDModel, ParetoNBD, ("r", "alpha", "s", "beta")),
}


def times_factor(frame: pd.DataFrame) -> np.ndarray:
    x = frame["frequency"].to_numpy(float)
    t = np.where(x > 0, frame["recency"].to_numpy(float), 1.0)
    return np.where(x > 0, (x - 1) * np.log(t) - gammaln(np.maximum(x, 1.0)), 0.0)


def fit_and_score(name: str, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    model_cls, dist_cls, names = MODELS[name]
    model = model_cls(model_config={p: Prior("HalfFlat") for p in names})
    start = time.perf_counter()
    model.fit(data=train, method="map", progressbar=False)
    params = {p: float(model.idata.posterior[p].values.squeeze()) for p in names}
    value = np.stack([test["recency"].to_numpy(float), test["frequency"].to_numpy(float)], 1)
    dist = dist_cls.dist(**params, T=test["T"].to_numpy(float))
    score = np.asarray(pm.logp(dist, value).eval(), float) + times_factor(test)
    shown = ", ".join(f"{k} {v:.4g}" for k, v in params.items())
    print(f"{name:11s} {shown}  ({time.perf_counter() - start:.1f} s)")
    return score


def main() -> None:
    folder = Path(sys.argv[1])
    columns = ["customer_id", "frequency", "recency", "T"]
    train = pd.read_csv(folder / "train.csv", dtype={"customer_id": str})[columns]
    test = pd.read_csv(folder / "personagen_test.csv", dtype={"customer_id": str})
    scores = {"personagen": test["personagen"].to_numpy(float)}
    chosen = sys.argv[2].split(",") if len(sys.argv) > 2 else list(MODELS)
    for name in chosen:
        scores[name] = fit_and_score(name, train, test[columns])
    base = scores["personagen"]
    print(f"\n{len(test)} held-out customers, mean log density of (x, t_x | T), months:")
    for name, score in scores.items():
        diff = base - score
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        paired = (
            ""
            if name == "personagen"
            else f"  personagen - {name}: {diff.mean():+.4f} (se {se:.4f})"
        )
        print(f"  {name:11s} {score.mean():.4f}{paired}")
    pd.DataFrame(scores).assign(customer_id=test["customer_id"]).to_csv(
        folder / "heldout_scores.csv", index=False
    )


if __name__ == "__main__":
    main()
