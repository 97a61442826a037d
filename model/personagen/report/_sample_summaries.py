"""The numbers behind every chart of a sample run's report, from its digest alone.

Each function takes the digest (``summary.json``, :class:`personagen.sample.RunDigest`)
and the run's configuration and returns a small table; none reads a customer table,
so a report costs the same for a thousand customers as for ten million.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from personagen.config import PersonagenConfig

__all__ = [
    "QUANTILES",
    "department_value_shares",
    "histogram_quantiles",
    "persona_shares",
    "rfm_histograms",
    "run_facts",
    "segment_shares",
    "spending_ranges",
    "top_classes",
]

#: Quantiles drawn as the whiskers, box and median of the spending-range chart.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Two-sided 95% normal quantile, for the persona share intervals.
Z95 = 1.959964


def histogram_quantiles(counts: np.ndarray, edges: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of binned data, interpolated linearly inside the bin that holds them.

    Exact to within one bin width (the digest's bins are 1/20 of a decade for money
    and frequency, 25 days for recency). Returns NaN where ``counts`` sums to 0.
    """
    counts = np.asarray(counts, np.float64)
    edges = np.asarray(edges, np.float64)
    total = counts.sum()
    if total == 0:
        return np.full(len(qs), np.nan)
    cum = np.cumsum(counts)
    target = np.asarray(qs, np.float64) * total
    # first bin whose cumulative count reaches the target: it holds the quantile
    i = np.clip(np.searchsorted(cum, target, side="left"), 0, len(counts) - 1)
    frac = (target - (cum[i] - counts[i])) / np.maximum(counts[i], 1.0)
    return edges[i] + np.clip(frac, 0.0, 1.0) * (edges[i + 1] - edges[i])


def persona_shares(
    digest: Mapping[str, Any], config: PersonagenConfig, metadata: Mapping[str, Any]
) -> pd.DataFrame:
    """Count customers per persona against the configured weights (or exact counts).

    Returns one row per persona: ``customers``, ``share``, its 95% normal interval
    (``low``, ``high``; binomial standard error) and ``configured`` (the YAML weight,
    or the share the exact ``--personas`` counts asked for).
    """
    counts = np.asarray(digest["persona_segment"], np.int64).sum(axis=1)
    n = max(int(counts.sum()), 1)
    share = counts / n
    se = np.sqrt(share * (1 - share) / n)
    asked = metadata.get("persona_counts")
    if asked:
        total = sum(asked.values())
        configured = [asked.get(name, 0) / total for name in config.persona_names]
    else:
        configured = [spec.weight for spec in config.personas.personas.values()]
    return pd.DataFrame(
        {
            "customers": counts,
            "share": share,
            "low": np.clip(share - Z95 * se, 0, 1),
            "high": np.clip(share + Z95 * se, 0, 1),
            "configured": configured,
        },
        index=pd.Index(config.persona_names, name="persona"),
    )


def segment_shares(digest: Mapping[str, Any]) -> pd.DataFrame:
    """Share of each persona's customers in each segment (rows sum to 1)."""
    counts = np.asarray(digest["persona_segment"], np.float64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return pd.DataFrame(
        shares,
        index=pd.Index(digest["personas"], name="persona"),
        columns=digest["segments"],
    )


def department_value_shares(digest: Mapping[str, Any]) -> pd.DataFrame:
    """Mean share of a customer's value in each department, per persona (rows sum to 1)."""
    counts = np.asarray(digest["persona_segment"], np.float64).sum(axis=1, keepdims=True)
    sums = np.asarray(digest["department_share_sum"], np.float64)
    return pd.DataFrame(
        sums / np.maximum(counts, 1),
        index=pd.Index(digest["personas"], name="persona"),
        columns=digest["departments"],
    )


def spending_ranges(digest: Mapping[str, Any], config: PersonagenConfig) -> pd.DataFrame:
    """Order value and purchase frequency per persona against their YAML ranges.

    Returns one row per persona and ``measure`` (``avg_order_value`` in USD;
    ``frequency_per_month`` in orders per month, among customers of the
    ``medium_value_regular`` segment, whose frequency multiplier is centred on 1):
    the quantiles :data:`QUANTILES` (``q05`` ... ``q95``), the YAML range
    (``lo``, ``hi``), the number of customers measured and the exact share outside
    the range.
    """
    edges = {k: np.asarray(v) for k, v in digest["histogram_edges"].items()}
    histograms = {k: np.asarray(v) for k, v in digest["histograms"].items()}
    measures = (
        ("avg_order_value", "avg_order_value", "avg_order_value"),
        ("frequency_per_month", "frequency_per_month_regular", "frequency_per_month"),
    )
    rows = []
    for p, (name, spec) in enumerate(config.personas.personas.items()):
        for measure, hist, edge in measures:
            counts = histograms[hist][p]
            n = int(counts.sum())
            lo, hi = getattr(spec.spending_profile, measure)
            q = histogram_quantiles(counts, edges[edge], QUANTILES)
            outside = digest["outside"][hist][p] / n if n else np.nan
            row = {"persona": name, "measure": measure, "customers": n, "lo": lo, "hi": hi}
            row.update({f"q{round(100 * a):02d}": v for a, v in zip(QUANTILES, q, strict=True)})
            row["outside"] = outside
            rows.append(row)
    return pd.DataFrame(rows).set_index(["measure", "persona"])


def rfm_histograms(digest: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Recency, frequency and monetary value of all customers, binned.

    Returns, for ``recency_days``, ``frequency_per_month``, ``total_revenue`` and
    ``total_purchases``, a table of bins (``left``, ``right``) with the ``customers``
    in each (all personas together).
    """
    out = {}
    for name in ("recency_days", "frequency_per_month", "total_revenue", "total_purchases"):
        edges = np.asarray(digest["histogram_edges"][name])
        counts = np.asarray(digest["histograms"][name], np.int64).sum(axis=0)
        out[name] = pd.DataFrame({"left": edges[:-1], "right": edges[1:], "customers": counts})
    return out


def top_classes(digest: Mapping[str, Any], k: int = 5) -> pd.DataFrame | None:
    """Each persona's ``k`` classes with the most value, and their share of its value.

    Returns rows (``persona``, ``rank``, ``class``, ``share``), or None for a run
    that wrote only the basic table (no class totals).
    """
    if digest.get("class_cents") is None:
        return None
    cents = np.asarray(digest["class_cents"], np.float64)
    rows = []
    for p, name in enumerate(digest["personas"]):
        total = max(cents[p].sum(), 1.0)
        for rank, c in enumerate(np.argsort(-cents[p], kind="stable")[:k], start=1):
            rows.append(
                {
                    "persona": name,
                    "rank": rank,
                    "class": digest["classes"][c],
                    "share": cents[p, c] / total,
                }
            )
    return pd.DataFrame(rows)


def run_facts(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the run's provenance as (label, value) pairs: seed, config hash, version."""
    return [
        ("customers", f"{metadata['rows']:,}"),
        ("seed", str(metadata["seed"])),
        ("config hash", str(metadata["config_hash"])[:16]),
        ("personagen", str(metadata["personagen_version"])),
        ("JAX backend", f"{metadata['jax_backend']} ({metadata.get('device', '?')})"),
        ("as of", str(metadata["as_of"])),
        ("population", str(metadata["population"])),
        ("tables", "basic only" if metadata["basic_only"] else "basic and enriched"),
        ("locale", str(metadata["locale"])),
        ("command", str(metadata.get("command") or "library call")),
    ]
