"""Observed customers for inference: from a customer table or from simulated arrays.

A customer table in personagen's basic schema (its own output is the first
test case) is turned into :class:`~personagen.data.Observations`. Bad
data raise one :class:`~personagen.errors.DataError` naming the column, a few
offending rows and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from personagen.config import (
    BASIC_CORE_COLUMNS,
    DEPARTMENT_UNITS_PREFIX,
    ProductHierarchy,
    department_units_columns,
    department_value_columns,
)
from personagen.data._observations import Observations
from personagen.errors import DataError, Problem, close_match_hint

__all__ = ["observations_from_table", "read_customer_table"]

#: The basic table's numeric columns inference reads (besides the department units).
_NUMERIC = (
    "total_purchases",
    "total_revenue",
    "recency_days",
    "customer_lifetime_months",
    "return_rate",
)
assert set(_NUMERIC) <= set(BASIC_CORE_COLUMNS)


def read_customer_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet customer table.

    Raises
    ------
    DataError
        If the file is missing, unreadable or empty.
    """
    p = Path(path)
    if not p.is_file():
        state = "is a directory" if p.is_dir() else "does not exist"
        raise DataError([Problem(str(p), "", f"file {state}; expected a CSV or Parquet table")])
    try:
        with p.open("rb") as f:
            parquet = f.read(4) == b"PAR1"  # Parquet's magic number, whatever the suffix
        table = pd.read_parquet(p) if parquet else pd.read_csv(p, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            [Problem(str(p), "", f"not UTF-8 text (byte {exc.start}) and not Parquet")]
        ) from None
    except Exception as exc:  # pandas/pyarrow raise many types for unreadable files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError([Problem(str(p), "", f"cannot read the table: {reason}")]) from None
    if table.empty:
        raise DataError([Problem(str(p), "", "the table has no rows")])
    return table


def _rows(mask: np.ndarray, ids: Sequence[str] | np.ndarray) -> str:
    bad = np.flatnonzero(mask)[:3]
    return ", ".join(f"row {i} ({ids[i]})" for i in bad) + (" ..." if mask.sum() > 3 else "")


def _missing_columns(table: pd.DataFrame, needed: Sequence[str], source: str) -> list[Problem]:
    present = [str(c) for c in table.columns]
    return [
        Problem(
            source,
            col,
            f"missing column{close_match_hint(col, present)}; "
            "expected the basic schema (docs/schemas.md)",
        )
        for col in needed
        if col not in table.columns
    ]


def _numeric_columns(
    table: pd.DataFrame, columns: Sequence[str], ids: np.ndarray, source: str
) -> tuple[dict[str, np.ndarray], list[Problem]]:
    """Each column as float64; problems for non-numeric, missing, infinite or negative values."""
    values, problems = {}, []
    for col in columns:
        x = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
        values[col] = x
        if col == "return_rate" and table[col].isna().all():
            continue  # unknown returns (e.g. from transactions): the term is dropped
        if not np.isfinite(x).all():
            bad = ~np.isfinite(x)
            message = f"non-numeric, missing or infinite values at {_rows(bad, ids)}"
            problems.append(Problem(source, col, message))
        elif (x < 0).any():
            problems.append(Problem(source, col, f"negative values at {_rows(x < 0, ids)}"))
    return values, problems


def _consistency(
    values: dict[str, np.ndarray], dept: np.ndarray, ids: np.ndarray, source: str
) -> list[Problem]:
    n, revenue, returns = values["total_purchases"], values["total_revenue"], values["return_rate"]
    units = dept.sum(-1)
    whole = np.all(dept == np.round(dept), axis=-1)
    checks = (
        ("total_purchases", n != np.round(n), "orders must be whole numbers"),
        ("total_purchases", n < 1, "every customer needs at least one order"),
        (f"{DEPARTMENT_UNITS_PREFIX}*", ~whole, "units must be whole numbers"),
        (f"{DEPARTMENT_UNITS_PREFIX}*", units < n, "units must be at least the number of orders"),
        ("total_revenue", revenue <= 0, "revenue must be positive"),
        ("return_rate", returns > 1, "a return rate is a share of value, at most 1"),
    )
    return [
        Problem(source, col, f"{fix}: {_rows(bad, ids)}") for col, bad, fix in checks if bad.any()
    ]


def observations_from_table(
    table: pd.DataFrame, hierarchy: ProductHierarchy, source: str = "<table>"
) -> Observations:
    """Check a basic-schema customer table and return what inference observes.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per customer, in the basic schema (extra columns are ignored).
    hierarchy : ProductHierarchy
        Names the department unit columns.
    source : str
        File name for error messages.

    Returns
    -------
    Observations

    Raises
    ------
    DataError
        Listing missing columns (with close matches), non-numeric, infinite or
        negative values, fractional counts, fewer units than orders, and duplicate
        customer ids, each with the first offending rows.
    """
    unit_columns = department_units_columns(hierarchy)
    value_columns = department_value_columns(hierarchy)
    problems = _missing_columns(
        table, [*_NUMERIC, *unit_columns, *value_columns, "customer_id"], source
    )
    if problems:
        raise DataError(problems)
    ids = table["customer_id"].astype(str).to_numpy()
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        message = f"duplicate ids at {_rows(dup, ids)}; each customer must appear once"
        problems.append(Problem(source, "customer_id", message))
    values, bad_values = _numeric_columns(
        table, [*_NUMERIC, *unit_columns, *value_columns], ids, source
    )
    problems += bad_values
    if problems:
        raise DataError(problems)
    dept = np.stack([values[c] for c in unit_columns], -1)
    n = values["total_purchases"]
    with np.errstate(invalid="ignore"):  # unknown return rates are NaN
        problems = _consistency(values, dept, ids, source)
    if problems:
        raise DataError(problems)
    return Observations(
        n_orders=n.astype(np.int32),
        units=dept.sum(-1).astype(np.int32),
        department_units=dept.astype(np.int32),
        revenue=values["total_revenue"].astype(np.float32),
        department_revenue=np.stack([values[c] for c in value_columns], -1).astype(np.float32),
        lifetime_months=np.maximum(values["customer_lifetime_months"], 1 / 31).astype(np.float32),
        recency_days=values["recency_days"].astype(np.float32),
        return_rate=values["return_rate"].astype(np.float32),
    )
