"""Observed customers for inference: from a customer table or from simulated arrays.

A customer table in personagen's basic schema (its own output is the first
test case) is turned into :class:`~personagen.likelihood.Observations`. Bad
data raise one :class:`~personagen.errors.DataError` naming the column, a few
offending rows and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd

from personagen.errors import DataError, Problem, close_match_hint
from personagen.hierarchy import ProductHierarchy
from personagen.likelihood import Observations
from personagen.simulate import DAYS_PER_MONTH, CustomerChunk

__all__ = ["observations_from_chunks", "observations_from_table", "read_customer_table"]

_NUMERIC = (
    "total_purchases",
    "total_revenue",
    "recency_days",
    "customer_lifetime_months",
    "return_rate",
)


def read_customer_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet customer table.

    Raises
    ------
    DataError
        If the file is missing, unreadable or empty.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(
            [Problem(str(p), "", "file does not exist; expected a CSV or Parquet table")]
        )
    try:
        table = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        raise DataError([Problem(str(p), "", f"cannot read the table: {exc}")]) from None
    if table.empty:
        raise DataError([Problem(str(p), "", "the table has no rows")])
    return table


def _rows(mask: np.ndarray, ids: Sequence) -> str:
    bad = np.flatnonzero(mask)[:3]
    return ", ".join(f"row {i} ({ids[i]})" for i in bad) + (" ..." if mask.sum() > 3 else "")


def observations_from_table(
    table: pd.DataFrame, hierarchy: ProductHierarchy, source: str = "<table>"
) -> Observations:
    """Check a basic-schema customer table and return what inference observes.

    Raises
    ------
    DataError
        Listing missing columns (with close matches), non-numeric or negative
        values, fewer units than orders, and duplicate customer ids.
    """
    needed = [
        *_NUMERIC,
        *(f"dept_total_units_{s}" for s in hierarchy.department_slugs),
        "customer_id",
    ]
    problems = []
    for col in needed:
        if col not in table.columns:
            hint = close_match_hint(col, [str(c) for c in table.columns])
            problems.append(
                Problem(
                    source,
                    col,
                    f"missing column{hint}; expected the basic schema (docs/schemas.md)",
                )
            )
    if problems:
        raise DataError(problems)
    ids = table["customer_id"].astype(str).to_numpy()
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        problems.append(
            Problem(
                source,
                "customer_id",
                f"duplicate ids at {_rows(dup, ids)}; each customer must appear once",
            )
        )
    values = {}
    for col in needed[:-1]:
        x = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
        if col == "return_rate" and table[col].isna().all():
            values[col] = x  # unknown returns (e.g. from transactions): the term is dropped
            continue
        if np.isnan(x).any():
            problems.append(
                Problem(source, col, f"non-numeric or missing values at {_rows(np.isnan(x), ids)}")
            )
        elif (x < 0).any():
            problems.append(Problem(source, col, f"negative values at {_rows(x < 0, ids)}"))
        values[col] = x
    if problems:
        raise DataError(problems)
    dept = np.stack([values[f"dept_total_units_{s}"] for s in hierarchy.department_slugs], -1)
    n = values["total_purchases"]
    units = dept.sum(-1)
    for col, bad, fix in (
        ("total_purchases", n < 1, "every customer needs at least one order"),
        ("dept_total_units_*", units < n, "units must be at least the number of orders"),
        ("total_revenue", values["total_revenue"] <= 0, "revenue must be positive"),
    ):
        if bad.any():
            problems.append(Problem(source, col, f"{fix}: {_rows(bad, ids)}"))
    if problems:
        raise DataError(problems)
    return Observations(
        n_orders=jnp.asarray(n, jnp.int32),
        units=jnp.asarray(units, jnp.int32),
        department_units=jnp.asarray(dept, jnp.int32),
        revenue=jnp.asarray(values["total_revenue"], jnp.float32),
        lifetime_months=jnp.asarray(
            np.maximum(values["customer_lifetime_months"], 1 / 31), jnp.float32
        ),
        recency_days=jnp.asarray(values["recency_days"], jnp.float32),
        return_rate=jnp.asarray(values["return_rate"], jnp.float32),
    )


def observations_from_chunks(chunks: Sequence[CustomerChunk]) -> Observations:
    """Return the observations of simulated customers (the same values the tables hold)."""
    core = {k: np.concatenate([c.core[k] for c in chunks]) for k in chunks[0].core}
    return Observations(
        n_orders=jnp.asarray(core["n_orders"]),
        units=jnp.asarray(core["units"]),
        department_units=jnp.asarray(core["department_units"]),
        revenue=jnp.asarray(core["revenue_cents"] / 100.0, jnp.float32),
        lifetime_months=jnp.asarray(core["lifetime_days"] / DAYS_PER_MONTH, jnp.float32),
        recency_days=jnp.asarray(core["recency_days"], jnp.float32),
        return_rate=jnp.asarray(core["return_rate"], jnp.float32),
    )
