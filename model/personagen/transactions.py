"""Transactions (one row per line item) -> a customer table in the basic schema.

Columns are found by name (``TransactionColumns`` maps the roles customer,
order, date, department, units, value to the user's column names). Department
names are sent to the hierarchy's through a mapping file:

```yaml
schema_version: 1
departments:
  WOMENSWEAR: Ladies Clothing
  MENSWEAR: Mens Clothing
other: Dummy          # optional: where --unmapped other sends unmapped names
```

Names already equal to a hierarchy department need no entry. Unmapped names
are an error listing each with its row count, unless ``unmapped="other"``
sends them to the mapping's ``other`` department. The result has the basic
table's columns, so fitting a transactions file and fitting a customer table
take the same path (:func:`personagen.ingest.observations_from_table`).
Transactions carry no returns, so ``return_rate`` is left missing and its term
is dropped from the likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from personagen._yaml import read_yaml_mapping
from personagen.errors import ConfigError, DataError, Problem, close_match_hint
from personagen.hierarchy import ProductHierarchy
from personagen.simulate import DAYS_PER_MONTH

__all__ = ["DepartmentMapping", "TransactionColumns", "load_mapping", "transactions_to_customers"]


class DepartmentMapping(BaseModel):
    """A mapping file: the user's department names -> the hierarchy's."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1] = 1
    departments: dict[str, str] = {}
    other: str | None = None


@dataclass(frozen=True)
class TransactionColumns:
    """Names of the columns that play each role in a transactions table."""

    customer: str = "customer_id"
    order: str = "order_id"
    date: str = "date"
    department: str = "department"
    units: str = "units"
    value: str = "value"


def load_mapping(path: str | Path, hierarchy: ProductHierarchy) -> DepartmentMapping:
    """Read and check a mapping file (every target must be a hierarchy department).

    Raises
    ------
    ConfigError
        Listing unknown keys and unknown target departments with close matches.
    """
    data = read_yaml_mapping(path)
    try:
        mapping = DepartmentMapping.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [Problem(str(path), ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        ) from None
    problems = []
    targets = [*mapping.departments.items(), *([("other", mapping.other)] if mapping.other else [])]
    for source, target in targets:
        if target not in hierarchy.department_index:
            hint = close_match_hint(target, hierarchy.departments)
            problems.append(
                Problem(
                    str(path),
                    f"departments.{source}" if source != "other" else "other",
                    f"unknown department {target!r}{hint}",
                )
            )
    if problems:
        raise ConfigError(problems)
    return mapping


def _check_columns(table: pd.DataFrame, cols: TransactionColumns, source: str) -> None:
    problems = []
    for role, name in vars(cols).items():
        if name not in table.columns:
            hint = close_match_hint(name, [str(c) for c in table.columns])
            problems.append(
                Problem(source, name, f"missing {role} column{hint}; name it with --{role}-col")
            )
    if problems:
        raise DataError(problems)


def _numeric(table: pd.DataFrame, name: str, source: str) -> np.ndarray:
    x = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(x) | (x < 0)
    if bad.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(bad)[:3])
        raise DataError(
            [
                Problem(
                    source,
                    name,
                    f"non-numeric, missing or negative values at rows "
                    f"{rows}{' ...' if bad.sum() > 3 else ''}; expected numbers >= 0",
                )
            ]
        )
    return x


def transactions_to_customers(
    table: pd.DataFrame,
    hierarchy: ProductHierarchy,
    *,
    columns: TransactionColumns = TransactionColumns(),
    mapping: DepartmentMapping | None = None,
    unmapped: Literal["error", "other"] = "error",
    source: str = "<transactions>",
) -> pd.DataFrame:
    """Aggregate line items to one row per customer in the basic schema.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per line item.
    hierarchy : ProductHierarchy
        Target departments.
    columns : TransactionColumns
        Which column plays which role.
    mapping : DepartmentMapping, optional
        User department names -> hierarchy departments.
    unmapped : {"error", "other"}
        What to do with department names neither mapped nor in the hierarchy.
    source : str
        File name for error messages.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, total_purchases, total_revenue, avg_order_value,
        recency_days, frequency_per_month, customer_lifetime_months,
        return_rate`` (missing), and ``dept_total_value_*``/``dept_total_units_*``.

    Raises
    ------
    DataError
        Empty table, missing columns, bad numbers, unparseable dates, unmapped names.
    """
    if table.empty:
        raise DataError([Problem(source, "", "the table has no rows")])
    _check_columns(table, columns, source)
    units = _numeric(table, columns.units, source)
    value = _numeric(table, columns.value, source)
    dates = pd.to_datetime(table[columns.date], errors="coerce")
    if dates.isna().any():
        rows = ", ".join(str(i) for i in np.flatnonzero(dates.isna())[:3])
        raise DataError(
            [
                Problem(
                    source,
                    columns.date,
                    f"dates that do not parse at rows {rows}; "
                    "expected ISO dates such as 2025-03-31",
                )
            ]
        )
    names = table[columns.department].astype(str)
    lookup = dict(mapping.departments) if mapping else {}
    mapped = names.map(lambda n: lookup.get(n, n if n in hierarchy.department_index else None))
    missing = names[mapped.isna()]
    if len(missing):
        if unmapped == "other" and mapping is not None and mapping.other:
            mapped = mapped.fillna(mapping.other)
        else:
            counts = missing.value_counts()
            listed = ", ".join(f"{n!r} ({c} rows)" for n, c in counts.head(10).items())
            fix = (
                "add them to the mapping file"
                if unmapped == "error"
                else "give the mapping file an 'other:' department"
            )
            raise DataError(
                [
                    Problem(
                        source,
                        columns.department,
                        f"{len(counts)} department names not in the hierarchy: "
                        f"{listed}; {fix} or pass --unmapped other",
                    )
                ]
            )
    dept_index = mapped.map(hierarchy.department_index).to_numpy()
    frame = pd.DataFrame(
        {
            "customer": table[columns.customer].astype(str).to_numpy(),
            "order": table[columns.order].astype(str).to_numpy(),
            "date": dates.to_numpy(),
            "dept": dept_index,
            "units": units,
            "value": value,
        }
    )
    as_of = frame["date"].max() + pd.Timedelta(days=1)
    by_customer = frame.groupby("customer", sort=True)
    first = by_customer["date"].min()
    last = by_customer["date"].max()
    n_orders = by_customer["order"].nunique()
    lifetime_days = (as_of - first).dt.days.clip(lower=1)
    out = pd.DataFrame({"customer_id": first.index})
    out["total_purchases"] = n_orders.to_numpy()
    revenue = by_customer["value"].sum().to_numpy()
    out["total_revenue"] = np.round(revenue, 2)
    out["avg_order_value"] = np.round(revenue / out["total_purchases"], 2)
    out["recency_days"] = (as_of - last).dt.days.to_numpy() - 1
    out["customer_lifetime_months"] = np.round(lifetime_days.to_numpy() / DAYS_PER_MONTH, 2)
    out["frequency_per_month"] = np.round(
        out["total_purchases"] / out["customer_lifetime_months"], 4
    )
    out["return_rate"] = np.nan
    pivot_value = frame.pivot_table(
        index="customer", columns="dept", values="value", aggfunc="sum", fill_value=0.0
    )
    pivot_units = frame.pivot_table(
        index="customer", columns="dept", values="units", aggfunc="sum", fill_value=0
    )
    for d, slug in enumerate(hierarchy.department_slugs):
        col_v = pivot_value[d] if d in pivot_value.columns else 0.0
        col_u = pivot_units[d] if d in pivot_units.columns else 0
        out[f"dept_total_value_{slug}"] = (
            np.round(np.asarray(col_v, dtype=np.float64), 2) if not np.isscalar(col_v) else 0.0
        )
        out[f"dept_total_units_{slug}"] = (
            np.asarray(col_u).astype(np.int64) if not np.isscalar(col_u) else 0
        )
    return out
