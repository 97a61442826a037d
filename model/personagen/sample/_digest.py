"""The run digest: exact per-persona aggregates of a sample run, for its report.

A report must not re-read a 10-million-customer table, so ``sample`` keeps, chunk by
chunk, everything the report plots: customers per persona and segment, value per
persona and department (and class, for enriched runs), the sum of each customer's
department value shares, fixed-bin histograms of the RFM columns per persona, and the
number of customers outside each persona's YAML spending ranges. Counts and cents are
integers, exact and independent of the chunk size (the share sums are float64, whose
last bits depend on the order of addition). ``sample`` writes it as ``summary.json``
(:data:`DIGEST_FILE`) before ``metadata.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from personagen.config import PersonagenConfig
from personagen.sample._simulate import CustomerChunk

__all__ = ["DIGEST_FILE", "DIGEST_VERSION", "HISTOGRAM_EDGES", "RunDigest"]

DIGEST_FILE = "summary.json"
#: Bumped whenever a field of the digest changes meaning.
DIGEST_VERSION = 1

#: Fixed bin edges of the digest's histograms (values outside go to the end bins):
#: money and frequencies on log scales, days and months on linear ones.
HISTOGRAM_EDGES: dict[str, np.ndarray] = {
    "avg_order_value": np.geomspace(1.0, 10_000.0, 81),
    "total_revenue": np.geomspace(1.0, 1_000_000.0, 97),
    "total_purchases": np.geomspace(1.0, 10_000.0, 65),
    "frequency_per_month": np.geomspace(0.01, 100.0, 81),
    "recency_days": np.linspace(0.0, 1_825.0, 74),
    "customer_lifetime_months": np.linspace(0.0, 120.0, 61),
}
#: The frequency of customers in the segment whose frequency multiplier is centred on
#: 1, so each persona's YAML frequency range applies as written.
REGULAR_SEGMENT = "medium_value_regular"


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value, values beyond the edges in the end bins."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _counts(flat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Occurrences of each flat index ``row * shape[1] + column``, as a matrix."""
    return np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape)


@dataclass
class RunDigest:
    """Exact per-persona aggregates of a run, updated one chunk at a time.

    Attributes
    ----------
    config : PersonagenConfig
        The run's configuration (persona, segment, department and class axes, ranges).
    n : int
        Customers added so far.
    persona_segment : ndarray of int64, shape (P, S)
        Customers per persona and segment.
    department_cents : ndarray of int64, shape (P, D)
        Value per persona and department, in cents.
    department_share_sum : ndarray of float64, shape (P, D)
        Sum over each persona's customers of their department value shares.
    class_cents : ndarray of int64, shape (P, C), or None
        Value per persona and class (enriched runs only).
    histograms : dict of str to ndarray of int64, shape (P, bins)
        Counts per persona on :data:`HISTOGRAM_EDGES`, plus
        ``frequency_per_month_regular`` (customers of :data:`REGULAR_SEGMENT` only).
    outside : dict of str to ndarray of int64, shape (P,)
        Customers outside their persona's YAML range: ``avg_order_value`` and
        ``frequency_per_month_regular``.
    """

    config: PersonagenConfig
    n: int = 0
    persona_segment: np.ndarray = field(init=False)
    department_cents: np.ndarray = field(init=False)
    department_share_sum: np.ndarray = field(init=False)
    class_cents: np.ndarray | None = field(init=False, default=None)
    histograms: dict[str, np.ndarray] = field(init=False)
    outside: dict[str, np.ndarray] = field(init=False)
    _aov_range: np.ndarray = field(init=False, repr=False)
    _freq_range: np.ndarray = field(init=False, repr=False)
    _regular: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        p = len(self.config.persona_names)
        d = self.config.hierarchy.n_departments
        self.persona_segment = np.zeros((p, len(self.config.segments.labels)), np.int64)
        self.department_cents = np.zeros((p, d), np.int64)
        self.department_share_sum = np.zeros((p, d), np.float64)
        self.histograms = {
            name: np.zeros((p, len(edges) - 1), np.int64) for name, edges in HISTOGRAM_EDGES.items()
        }
        self.histograms["frequency_per_month_regular"] = np.zeros_like(
            self.histograms["frequency_per_month"]
        )
        self.outside = {
            "avg_order_value": np.zeros(p, np.int64),
            "frequency_per_month_regular": np.zeros(p, np.int64),
        }
        specs = self.config.personas.personas.values()
        self._aov_range = np.array([s.spending_profile.avg_order_value for s in specs])
        self._freq_range = np.array([s.spending_profile.frequency_per_month for s in specs])
        segments = list(self.config.segments.labels)
        self._regular = segments.index(REGULAR_SEGMENT) if REGULAR_SEGMENT in segments else -1

    def update(self, chunk: CustomerChunk, basic: pa.RecordBatch) -> None:
        """Add one chunk (its arrays and its basic-table rows)."""
        c = chunk.core
        persona = np.asarray(c["persona"], np.int64)
        segment = np.asarray(c["segment"], np.int64)
        p, s = self.persona_segment.shape
        self.persona_segment += _counts(persona * s + segment, (p, s))
        # per-persona sums as products with the one-hot persona matrix, in float64
        # (BLAS); cents stay exact integers far beyond any run's totals (< 2**53)
        onehot = (persona[None, :] == np.arange(p)[:, None]).astype(np.float64)
        cents = np.asarray(c["department_cents"], np.float64)
        self.department_cents += np.rint(onehot @ cents).astype(np.int64)
        self.department_share_sum += onehot @ (cents / np.maximum(cents.sum(1, keepdims=True), 1))
        if chunk.details:
            class_cents = np.asarray(chunk.details["class_cents"], np.float64)
            if self.class_cents is None:
                self.class_cents = np.zeros((p, class_cents.shape[1]), np.int64)
            self.class_cents += np.rint(onehot @ class_cents).astype(np.int64)
        columns = {name: basic.column(name).to_numpy() for name in HISTOGRAM_EDGES}
        for name, edges in HISTOGRAM_EDGES.items():
            bins = len(edges) - 1
            self.histograms[name] += _counts(persona * bins + _bin(columns[name], edges), (p, bins))
        regular = segment == self._regular
        freq = columns["frequency_per_month"]
        edges = HISTOGRAM_EDGES["frequency_per_month"]
        bins = len(edges) - 1
        flat = persona[regular] * bins + _bin(freq[regular], edges)
        self.histograms["frequency_per_month_regular"] += _counts(flat, (p, bins))
        aov_range, freq_range = self._aov_range, self._freq_range
        aov = columns["avg_order_value"]
        out_aov = (aov < aov_range[persona, 0]) | (aov > aov_range[persona, 1])
        self.outside["avg_order_value"] += np.bincount(persona[out_aov], minlength=p)
        out_freq = regular & ((freq < freq_range[persona, 0]) | (freq > freq_range[persona, 1]))
        self.outside["frequency_per_month_regular"] += np.bincount(persona[out_freq], minlength=p)
        self.n += chunk.n

    def to_dict(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """Return the digest as JSON-ready data, with the run's seed, config hash and version."""
        h = self.config.hierarchy
        classes = [f"{d} | {c}" for d in h.departments for c in h.classes_of(d)]
        return {
            "digest_version": DIGEST_VERSION,
            "personagen_version": metadata["personagen_version"],
            "seed": metadata["seed"],
            "config_hash": metadata["config_hash"],
            "customers": self.n,
            "personas": list(self.config.persona_names),
            "segments": list(self.config.segments.labels),
            "departments": list(h.departments),
            "classes": classes if self.class_cents is not None else None,
            "persona_segment": self.persona_segment.tolist(),
            "department_cents": self.department_cents.tolist(),
            "department_share_sum": self.department_share_sum.tolist(),
            "class_cents": None if self.class_cents is None else self.class_cents.tolist(),
            "histogram_edges": {k: v.tolist() for k, v in HISTOGRAM_EDGES.items()},
            "histograms": {k: v.tolist() for k, v in self.histograms.items()},
            "outside": {k: v.tolist() for k, v in self.outside.items()},
        }
