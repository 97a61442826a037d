"""The closing summary of a sample run, built chunk by chunk, and exact persona counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from personagen.errors import ParameterError, Problem, close_match_hint
from personagen.sample._simulate import CustomerChunk

__all__ = ["SUMMARY_SAMPLE", "SampleSummary", "check_persona_counts", "persona_counts"]

#: Quartiles in the summary come from the first customers of the run (an iid sample).
SUMMARY_SAMPLE = 100_000


@dataclass
class SampleSummary:
    """Streaming summary of a run: persona shares, department values, RFM statistics.

    Attributes
    ----------
    persona_names : sequence of str
        Persona axis of ``persona_count``.
    department_names : sequence of str
        Department axis of ``department_cents``.
    n : int
        Customers summarised so far.
    persona_count : ndarray of int64, shape (P,)
        Customers per persona.
    department_cents : ndarray of int64, shape (D,)
        Value bought per department, in cents.
    rfm_sample : dict of str to list of ndarray
        Values of the RFM columns of the first ``SUMMARY_SAMPLE`` customers, per chunk.
    files : list of str
        The files the run wrote (set when it completes).
    """

    persona_names: Sequence[str]
    department_names: Sequence[str]
    n: int = 0
    persona_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    department_cents: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rfm_sample: dict[str, list[np.ndarray]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    n_lines: int = 0
    n_orders: int = 0

    def add_lines(self, n_lines: int, n_orders: int) -> None:
        """Count one chunk's line items and orders (runs that write transactions)."""
        self.n_lines += n_lines
        self.n_orders += n_orders

    def update(self, chunk: CustomerChunk, basic: pa.RecordBatch) -> None:
        """Add one chunk."""
        c = chunk.core
        if self.n == 0:
            self.persona_count = np.zeros(len(self.persona_names), np.int64)
            self.department_cents = np.zeros(len(self.department_names), np.int64)
        self.persona_count += np.bincount(c["persona"], minlength=len(self.persona_names))
        self.department_cents += c["department_cents"].astype(np.int64).sum(0)
        if self.n < SUMMARY_SAMPLE:
            take = min(SUMMARY_SAMPLE - self.n, chunk.n)
            for col in (
                "total_revenue",
                "total_purchases",
                "recency_days",
                "frequency_per_month",
                "avg_order_value",
            ):
                values = basic.column(col).to_numpy()[:take].astype(np.float64)
                self.rfm_sample.setdefault(col, []).append(values)
        self.n += chunk.n

    def render(self) -> str:
        """Return the closing summary as text."""
        lines = [f"{self.n:,} customers"]
        if self.n_lines:
            lines.append(
                f"{self.n_lines:,} line items in {self.n_orders:,} orders "
                f"({self.n_lines / max(self.n_orders, 1):.2f} lines per order)"
            )
        lines.append("persona shares:")
        for name, count in zip(self.persona_names, self.persona_count, strict=True):
            lines.append(f"  {name:<24} {count:>10,}  {count / max(self.n, 1):6.1%}")
        lines.append("top departments by value:")
        order = np.argsort(-self.department_cents)[:5]
        for d in order:
            lines.append(f"  {self.department_names[d]:<28} ${self.department_cents[d] / 100:,.2f}")
        m = sum(len(v) for v in self.rfm_sample.get("total_revenue", []))
        lines.append(f"RFM statistics (first {m:,} customers):")
        lines.append(
            f"  {'':<20} {'mean':>10} {'std':>10} {'min':>10} {'25%':>10} {'50%':>10} "
            f"{'75%':>10} {'max':>10}"
        )
        for col, parts in self.rfm_sample.items():
            x = np.concatenate(parts)
            q = np.percentile(x, [25, 50, 75])
            lines.append(
                f"  {col:<20} {x.mean():>10.2f} {x.std(ddof=1) if len(x) > 1 else 0:>10.2f} "
                f"{x.min():>10.2f} {q[0]:>10.2f} {q[1]:>10.2f} {q[2]:>10.2f} {x.max():>10.2f}"
            )
        lines.append("files: " + ", ".join(self.files))
        return "\n".join(lines)


def _count_problems(counts: Mapping[str, int], persona_names: Sequence[str]) -> list[Problem]:
    """Problems of exact persona counts: unknown personas (with a close match), bad counts."""
    problems = []
    for name, count in counts.items():
        if name not in persona_names:
            message = f"{name!r}: unknown persona{close_match_hint(name, persona_names)}"
        elif not isinstance(count, int | np.integer) or count <= 0:
            message = f"{name!r}: expected a positive count, got {count!r}"
        else:
            continue
        problems.append(Problem("", "persona_counts", message))
    return problems


def persona_counts(spec: str, persona_names: Sequence[str]) -> dict[str, int]:
    """Parse ``name=count,name=count`` into exact persona counts.

    Raises
    ------
    ParameterError
        About ``persona_counts``: a malformed item, a non-positive count, an unknown
        persona (with a close match) or a persona given twice.
    """
    counts: dict[str, int] = {}
    problems = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, count = item.partition("=")
        name = name.strip()
        if not sep or not count.strip().isdigit() or int(count) <= 0:
            problems.append(
                Problem(
                    "", "persona_counts", f"{item!r}: expected name=COUNT with a positive integer"
                )
            )
        elif name in counts:
            problems.append(Problem("", "persona_counts", f"{name!r}: persona given twice"))
        else:
            counts[name] = int(count)
    problems += _count_problems(counts, persona_names)
    if not counts and not problems:
        problems.append(Problem("", "persona_counts", "expected at least one name=COUNT"))
    if problems:
        raise ParameterError(problems)
    return counts


def check_persona_counts(counts: Mapping[str, int], persona_names: Sequence[str]) -> None:
    """Raise a :class:`ParameterError` about ``persona_counts`` unless every entry is valid."""
    problems = _count_problems(counts, persona_names)
    if not counts:
        problems.append(Problem("", "persona_counts", "expected at least one persona"))
    if problems:
        raise ParameterError(problems)
