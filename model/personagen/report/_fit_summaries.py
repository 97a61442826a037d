"""The numbers behind every chart of a fit's report: weights, profiles, checks.

Each function takes the fitted model, its InferenceData or its memberships table and
returns a small table. Diagnostics use the thresholds of
:func:`personagen.infer.check_diagnostics`, so the page and the command line agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise

import arviz as az
import numpy as np
import pandas as pd
from scipy import stats

from personagen.config import DEPARTMENT_UNITS_PREFIX
from personagen.infer import ESS_MIN, RHAT_MAX, SVI_CONVERGED, FittedModel, diagnostics_summary

__all__ = [
    "PPC_LEVEL",
    "PURCHASE_BINS",
    "ProfileSummary",
    "department_profiles",
    "diagnostics_table",
    "lookalike_scores",
    "membership_confidence",
    "ppc_count_histogram",
    "ppc_department_shares",
    "ppc_statistics",
    "predictive_p_value",
    "weight_intervals",
]

#: Central interval of the posterior predictive checks: an observed statistic outside
#: it (a two-sided predictive p-value below 0.05) is flagged.
PPC_LEVEL = 0.95
#: Memberships above this probability count as confident.
CONFIDENT = 0.9


def weight_intervals(fitted: FittedModel) -> pd.DataFrame:
    """Posterior mean and 90% interval of each persona weight, and the YAML weight."""
    w = fitted.weights.reshape(-1, fitted.weights.shape[-1])
    lo, hi = np.quantile(w, [0.05, 0.95], axis=0)
    configured = [spec.weight for spec in fitted.config.personas.personas.values()]
    return pd.DataFrame(
        {"mean": w.mean(0), "q05": lo, "q95": hi, "prior": configured},
        index=pd.Index(fitted.persona_names, name="persona"),
    )


@dataclass(frozen=True)
class ProfileSummary:
    """Persona x department unit shares and where they come from.

    Attributes
    ----------
    shares : pandas.DataFrame
        Persona rows, department columns, each row summing to 1.
    learned : bool
        True for the posterior mean of a fit that learned the profiles (``profiles``,
        ``learn``); False for the YAML profiles a ``weights`` fit holds fixed.
    """

    shares: pd.DataFrame
    learned: bool


def department_profiles(fitted: FittedModel) -> ProfileSummary:
    """Return the persona department profiles behind a fit (see :class:`ProfileSummary`)."""
    draws = fitted.draws.get("department_profile")
    learned = draws is not None
    if draws is not None:
        values = np.asarray(draws).reshape(-1, *np.asarray(draws).shape[-2:]).mean(0)
    else:
        values = np.asarray(fitted.priors.department_probs)
    shares = pd.DataFrame(
        values,
        index=pd.Index(fitted.persona_names, name="persona"),
        columns=list(fitted.config.hierarchy.departments),
    )
    return ProfileSummary(shares=shares, learned=learned)


def diagnostics_table(fitted: FittedModel) -> pd.DataFrame:
    """One row per diagnostic: ``value``, ``threshold`` and ``status`` (pass/warning/info)."""
    rows = []
    d = fitted.diagnostics
    if fitted.method == "nuts":
        summary = diagnostics_summary(fitted)
        r_hat = float(np.nanmax(summary["r_hat"]))
        ess_bulk = float(np.nanmin(summary["ess_bulk"]))
        ess_tail = float(np.nanmin(summary["ess_tail"]))
        rows += [
            ("largest r_hat", f"{r_hat:.3f}", f"<= {RHAT_MAX}", r_hat <= RHAT_MAX),
            ("smallest bulk ESS", f"{ess_bulk:.0f}", f">= {ESS_MIN}", ess_bulk >= ESS_MIN),
            ("smallest tail ESS", f"{ess_tail:.0f}", f">= {ESS_MIN}", ess_tail >= ESS_MIN),
            ("divergent transitions", f"{d.divergences}", "0", d.divergences == 0),
        ]
    else:
        rows.append(
            (
                "SVI loss change over the last tenth of the steps",
                f"{d.svi_loss_change:.3g} nats (se {d.svi_loss_se:.3g})",
                f"< {SVI_CONVERGED:g} + 3 se",
                d.svi_converged,
            )
        )
    table = pd.DataFrame(rows, columns=["diagnostic", "value", "threshold", "ok"])
    table["status"] = np.where(table["ok"], "pass", "warning")
    if fitted.mode == "learn":
        info = {
            "diagnostic": "draws relabelled to fix label switching",
            "value": f"{d.label_switching:.1%}",
            "threshold": "",
            "ok": True,
            "status": "info",
        }
        table = pd.concat([table, pd.DataFrame([info])], ignore_index=True)
    return table.drop(columns="ok").set_index("diagnostic")


def _predictive(idata: az.InferenceData, name: str) -> np.ndarray:
    """Posterior predictive values, shaped (draw, customer, ...)."""
    values = idata["posterior_predictive"][name].values
    return values.reshape(-1, *values.shape[2:])


def _order_value(revenue: np.ndarray, n_orders: np.ndarray) -> np.ndarray:
    return revenue / np.maximum(n_orders, 1)


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation over the last axis (average ranks for ties)."""
    ra = stats.rankdata(a, axis=-1)
    rb = stats.rankdata(b, axis=-1)
    ra = ra - ra.mean(-1, keepdims=True)
    rb = rb - rb.mean(-1, keepdims=True)
    denominator = np.sqrt((ra**2).sum(-1) * (rb**2).sum(-1))
    return (ra * rb).sum(-1) / np.maximum(denominator, 1e-12)


def _repeat_recent(v: Mapping[str, np.ndarray]) -> np.ndarray:
    """Share of customers with at least two orders whose last order is under 30 days old."""
    repeat = v["n_orders"] >= 2
    recent = repeat & (v["recency_days"] < 30)
    return recent.sum(-1) / np.maximum(repeat.sum(-1), 1)


#: The statistics of :func:`ppc_statistics`: each maps the observed (or one replicated)
#: data set's arrays, shaped (..., customers), to one number per data set. The recency
#: rows and the rank correlation check the purchase process's joint law of frequency
#: and recency, not only its counts.
_STATISTICS: dict[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]] = {
    "mean purchases per customer": lambda v: v["n_orders"].mean(-1),
    "sd of purchases": lambda v: v["n_orders"].std(-1),
    "share of one-time buyers": lambda v: (v["n_orders"] == 1).mean(-1),
    "90th percentile of purchases": lambda v: np.quantile(v["n_orders"], 0.9, axis=-1),
    "largest purchase count": lambda v: v["n_orders"].max(-1),
    "median recency (days)": lambda v: np.median(v["recency_days"], axis=-1),
    "90th percentile of recency (days)": lambda v: np.quantile(v["recency_days"], 0.9, axis=-1),
    "repeat buyers seen in the last 30 days": _repeat_recent,
    "rank correlation of purchases and recency": lambda v: _rank_correlation(
        v["n_orders"], v["recency_days"]
    ),
    "median order value (USD)": lambda v: np.median(
        _order_value(v["revenue"], v["n_orders"]), axis=-1
    ),
    "mean revenue per customer (USD)": lambda v: v["revenue"].mean(-1),
}


def predictive_p_value(observed: float, replicated: np.ndarray) -> float:
    """Two-sided posterior predictive p-value, ``(k + 1) / (n + 1)`` on the smaller side.

    The +1 counts the observed data as one more draw (as a rank test does), so the
    smallest attainable value is ``2 / (n + 1)``: with fewer than 39 replicated data
    sets no statistic is flagged at 0.05, and a well-specified model is flagged at most
    5% of the time.
    """
    n = len(replicated)
    above = (np.sum(replicated >= observed) + 1) / (n + 1)
    below = (np.sum(replicated <= observed) + 1) / (n + 1)
    return float(min(1.0, 2 * min(above, below)))


def _check(observed: float, replicated: np.ndarray) -> dict[str, float | str]:
    tail = (1 - PPC_LEVEL) / 2
    lo, mid, hi = np.quantile(replicated, [tail, 0.5, 1 - tail])
    p = predictive_p_value(observed, replicated)
    return {
        "observed": float(observed),
        "replicated_median": float(mid),
        "low": float(lo),
        "high": float(hi),
        "p_value": float(p),
        "status": "pass" if p >= 1 - PPC_LEVEL else "warning",
    }


def ppc_statistics(idata: az.InferenceData) -> pd.DataFrame:
    """Posterior predictive checks of purchase counts, recency and order values.

    For each statistic: the observed value, the median and central
    :data:`PPC_LEVEL` interval over the replicated data sets, the two-sided
    predictive p-value and a status (``warning`` when ``p < 1 - PPC_LEVEL``).
    """
    obs = idata["observed_data"]
    names = ("n_orders", "revenue", "recency_days")
    observed = {name: obs[name].values.astype(np.float64) for name in names}
    replicated = {name: _predictive(idata, name).astype(np.float64) for name in names}
    rows = {name: _check(float(f(observed)), f(replicated)) for name, f in _STATISTICS.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("statistic")


def ppc_department_shares(
    idata: az.InferenceData, variable: str = "department_units"
) -> pd.DataFrame:
    """Pooled department shares: observed against their replicated interval.

    ``variable`` is ``"department_units"`` (shares of units) or ``"department_revenue"``
    (shares of value, which the price levels shape).
    """
    observed = idata["observed_data"][variable].values.sum(0).astype(np.float64)
    replicated = _predictive(idata, variable).sum(1).astype(np.float64)
    observed /= max(observed.sum(), 1.0)
    replicated /= np.maximum(replicated.sum(-1, keepdims=True), 1.0)
    departments = [str(d) for d in idata["observed_data"]["department"].values]
    rows = {d: _check(observed[j], replicated[:, j]) for j, d in enumerate(departments)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("department")


#: Bins of the purchase-count check: single counts first, then ever wider ones.
PURCHASE_BINS = (1, 2, 3, 4, 6, 11, 21, 51, 101, 201, 501, 1001)


def ppc_count_histogram(idata: az.InferenceData) -> pd.DataFrame:
    """Return the share of customers per purchase-count bin, observed and replicated.

    Bins (:data:`PURCHASE_BINS`) are ``1``, ``2``, ``3``, ``4-5``, ``6-10``, ... and
    ``1001+``; ``low``/``high`` are the replicated central :data:`PPC_LEVEL` interval.
    """
    edges = np.array([*PURCHASE_BINS, np.iinfo(np.int64).max])
    o = np.searchsorted(edges, idata["observed_data"]["n_orders"].values, side="right") - 1
    ro = np.searchsorted(edges, _predictive(idata, "n_orders"), side="right") - 1
    bins = np.arange(len(PURCHASE_BINS))
    observed = (o[:, None] == bins).mean(0)
    replicated = (ro[:, :, None] == bins).mean(1)
    tail = (1 - PPC_LEVEL) / 2
    lo, hi = np.quantile(replicated, [tail, 1 - tail], axis=0)
    labels = [str(a) if b - a == 1 else f"{a}-{b - 1}" for a, b in pairwise(PURCHASE_BINS)] + [
        f"{PURCHASE_BINS[-1]}+"
    ]
    return pd.DataFrame(
        {"observed": observed, "low": lo, "high": hi, "median": np.median(replicated, 0)},
        index=pd.Index(labels, name="purchases"),
    )


def membership_confidence(memberships: pd.DataFrame, persona_names: list[str]) -> pd.DataFrame:
    """Per persona: customers most likely in it and the share of them above 0.9."""
    p = memberships[[f"p_{name}" for name in persona_names]].to_numpy()
    best = p.max(axis=1)
    likely = memberships["most_likely_persona"].to_numpy()
    rows = []
    for name in persona_names:
        mine = likely == name
        rows.append(
            {
                "persona": name,
                "customers": int(mine.sum()),
                "confident": float((best[mine] > CONFIDENT).mean()) if mine.any() else np.nan,
                "median_probability": float(np.median(best[mine])) if mine.any() else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("persona")


#: Real (observed_data) and look-alike (basic table) columns compared by the scores.
_LOOKALIKE_COLUMNS = {
    "total_purchases": "n_orders",
    "total_revenue": "revenue",
    "recency_days": "recency_days",
    "customer_lifetime_months": "lifetime_months",
    "return_rate": "return_rate",
}


def lookalike_scores(idata: az.InferenceData, synthetic: pd.DataFrame) -> pd.DataFrame:
    """How close look-alike customers are to the real ones a fit saw.

    One row per column: the real and synthetic medians and ``1 - KS`` (one minus
    the two-sample Kolmogorov-Smirnov statistic: 1 for identical distributions);
    a last row compares the pooled department unit mix by ``1 - total variation``.
    """
    obs = idata["observed_data"]
    rows = {}
    for column, name in _LOOKALIKE_COLUMNS.items():
        real = obs[name].values.astype(np.float64)
        syn = synthetic[column].to_numpy(np.float64)
        rows[column] = {
            "real_median": float(np.median(real)),
            "synthetic_median": float(np.median(syn)),
            "score": 1.0 - float(stats.ks_2samp(real, syn).statistic),
        }
    real_mix = obs["department_units"].values.sum(0).astype(np.float64)
    unit_columns = [c for c in synthetic.columns if c.startswith(DEPARTMENT_UNITS_PREFIX)]
    syn_mix = synthetic[unit_columns].to_numpy(np.float64).sum(0)
    tv = 0.5 * np.abs(real_mix / real_mix.sum() - syn_mix / max(syn_mix.sum(), 1.0)).sum()
    rows["department unit mix"] = {
        "real_median": np.nan,
        "synthetic_median": np.nan,
        "score": 1.0 - float(tv),
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("measure")
