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
take the same path (:func:`personagen.data.observations_from_table`).
Where the table has a returned-value column (personagen's own transactions do),
``return_rate`` is the returned value over the value bought; otherwise it is left
missing and its term is dropped from the likelihood. Money is summed in integer
cents and every derived column uses the customer tables' own formulas, so rolling up
``personagen sample --transactions`` gives back its basic table exactly (given the
run's as-of date, which its files record).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from personagen.config import (
    BASIC_CORE_COLUMNS,
    DAYS_PER_MONTH,
    ProductHierarchy,
    department_units_columns,
    department_value_columns,
    read_yaml_mapping,
)
from personagen.errors import ConfigError, DataError, Problem, close_match_hint

__all__ = ["DepartmentMapping", "TransactionColumns", "load_mapping", "transactions_to_customers"]


class DepartmentMapping(BaseModel):
    """A mapping file: the user's department names -> the hierarchy's.

    Attributes
    ----------
    schema_version : int
        Always 1.
    departments : dict of str to str
        The user's department name -> a hierarchy department.
    other : str, optional
        The hierarchy department that ``unmapped="other"`` sends unmapped names to.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: Literal[1] = 1
    departments: dict[str, str] = {}
    other: str | None = None


@dataclass(frozen=True)
class TransactionColumns:
    """Names of the columns that play each role in a transactions table.

    Attributes
    ----------
    customer : str
        Customer identifier.
    order : str
        Order (basket) identifier; a customer's orders are its distinct values.
    date : str
        Date or timestamp of the line (anything :func:`pandas.to_datetime` parses).
    department : str
        The user's department name (sent to the hierarchy by the mapping).
    units : str
        Units on the line (a number >= 0).
    value : str
        Value of the line in currency units (a number >= 0).
    returned_value : str
        Value refunded on the line; optional: without such a column the return rate
        is missing.
    """

    customer: str = "customer_id"
    order: str = "order_id"
    date: str = "date"
    department: str = "department"
    units: str = "units"
    value: str = "value"
    returned_value: str = "returned_value"


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


def check_columns(
    table: pd.DataFrame,
    cols: TransactionColumns,
    source: str,
    roles: tuple[str, ...] = ("customer", "order", "date", "department", "units", "value"),
) -> None:
    """Raise a :class:`DataError` naming every column of ``roles`` that ``table`` lacks."""
    problems = []
    for role in roles:
        name = getattr(cols, role)
        if name not in table.columns:
            hint = close_match_hint(name, [str(c) for c in table.columns])
            problems.append(
                Problem(
                    source,
                    name,
                    f"missing {role} column{hint}; name it with TransactionColumns({role}=...)",
                )
            )
    if problems:
        raise DataError(problems)


def numeric_column(table: pd.DataFrame, name: str, source: str) -> np.ndarray:
    """Column ``name`` as float64; a :class:`DataError` names non-numeric or negative rows."""
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


def parse_dates(table: pd.DataFrame, name: str, source: str) -> pd.Series:
    """Column ``name`` as local timestamps without a zone.

    Timestamps that carry a zone keep their wall-clock time (the zone is dropped, as
    personagen's own transactions store local times); a :class:`DataError` names rows
    that do not parse and columns that mix UTC offsets.
    """
    with warnings.catch_warnings():
        # pandas warns that it parses element by element when no format fits all rows;
        # the rows that still fail are reported below
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        try:
            dates = pd.to_datetime(table[name], errors="coerce")
        except ValueError as exc:  # pandas refuses mixed offsets, whatever ``errors``
            message = f"timestamps with mixed UTC offsets ({exc}); convert them to one zone"
            raise DataError([Problem(source, name, message)]) from None
    if dates.isna().any():
        rows = ", ".join(str(i) for i in np.flatnonzero(dates.isna())[:3])
        raise DataError(
            [
                Problem(
                    source,
                    name,
                    f"dates that do not parse at rows {rows}; "
                    "expected ISO dates such as 2025-03-31",
                )
            ]
        )
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    return dates


def map_department_index(
    names: pd.Series,
    hierarchy: ProductHierarchy,
    mapping: DepartmentMapping | None,
    unmapped: Literal["error", "other"],
    column: str,
    source: str,
) -> np.ndarray:
    """Return the hierarchy department index of every line."""
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
                        column,
                        f"{len(counts)} department names not in the hierarchy: "
                        f"{listed}; {fix} or send them to 'other' (unmapped='other')",
                    )
                ]
            )
    return mapped.map(hierarchy.department_index).to_numpy()


def _cents(dollars: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(dollars, np.float64) * 100.0).astype(np.int64)


def _roll_up(frame: pd.DataFrame, hierarchy: ProductHierarchy, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per customer in the basic schema, from lines with a department index."""
    day = frame["date"].dt.normalize()
    by_customer = frame.assign(day=day).groupby("customer", sort=True)
    first = by_customer["day"].min()
    last = by_customer["day"].max()
    lifetime_days = (as_of - first).dt.days.clip(lower=1).to_numpy()
    n_orders = by_customer["order"].nunique().to_numpy().astype(np.int64)
    cents = by_customer["cents"].sum().to_numpy()
    returned = by_customer["returned_cents"].sum().to_numpy()
    core = {
        "customer_id": first.index,
        "total_purchases": n_orders,
        "total_revenue": cents / 100.0,
        "avg_order_value": ((2 * cents + n_orders) // (2 * n_orders)) / 100.0,
        # to the as-of date, like the lifetime: a one-order customer has recency = lifetime
        "recency_days": (as_of - last).dt.days.to_numpy(),
        "customer_lifetime_months": np.round(lifetime_days / DAYS_PER_MONTH, 2),
        "frequency_per_month": np.round(n_orders / (lifetime_days / DAYS_PER_MONTH), 4),
        "return_rate": np.round(returned / np.maximum(cents, 1), 4),
    }
    out = pd.DataFrame({c: core[c] for c in BASIC_CORE_COLUMNS if c in core})
    n_departments = hierarchy.n_departments
    for values, columns, scale in (
        ("cents", department_value_columns(hierarchy), 100.0),
        ("units", department_units_columns(hierarchy), None),
    ):
        pivot = frame.pivot_table(
            index="customer", columns="dept", values=values, aggfunc="sum", fill_value=0
        ).reindex(index=first.index, columns=range(n_departments), fill_value=0)
        matrix = pivot.to_numpy(dtype=np.int64)
        for d, name in enumerate(columns):
            out[name] = matrix[:, d] / scale if scale else matrix[:, d]
    return out


def transactions_to_customers(
    table: pd.DataFrame,
    hierarchy: ProductHierarchy,
    *,
    columns: TransactionColumns = TransactionColumns(),
    mapping: DepartmentMapping | None = None,
    unmapped: Literal["error", "other"] = "error",
    as_of: dt.date | None = None,
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
    as_of : datetime.date, optional
        The date the data describe (recency and lifetime count to it); by default the
        day after the last line. A synthetic run's is in its ``metadata.json``.
    source : str
        File name for error messages.

    Returns
    -------
    pandas.DataFrame
        The basic schema's columns but ``true_segment`` and ``signup_date`` (unknown for
        real customers); ``return_rate`` is missing without a returned-value column.

    Raises
    ------
    DataError
        Empty table, missing columns, bad numbers, unparseable dates, unmapped names,
        lines dated after ``as_of``.
    """
    if table.empty:
        raise DataError([Problem(source, "", "the table has no rows")])
    check_columns(table, columns, source)
    units = numeric_column(table, columns.units, source)
    value = numeric_column(table, columns.value, source)
    dates = parse_dates(table, columns.date, source)
    names = table[columns.department].astype(str)
    dept_index = map_department_index(
        names, hierarchy, mapping, unmapped, columns.department, source
    )
    returned = (
        numeric_column(table, columns.returned_value, source)
        if columns.returned_value in table.columns
        else np.full(len(table), np.nan)
    )
    frame = pd.DataFrame(
        {
            "customer": table[columns.customer].astype(str).to_numpy(),
            "order": table[columns.order].astype(str).to_numpy(),
            "date": dates.to_numpy(),
            "dept": dept_index,
            "units": units.astype(np.int64) if np.all(units == np.round(units)) else units,
            "cents": _cents(value),
            "returned_cents": _cents(np.nan_to_num(returned)),
        }
    )
    end = frame["date"].max().normalize() + pd.Timedelta(days=1)
    if as_of is not None:
        end = pd.Timestamp(as_of)
        late = frame["date"].dt.normalize() > end
        if late.any():
            raise DataError(
                [
                    Problem(
                        source,
                        columns.date,
                        f"{int(late.sum())} lines dated after the as-of date {as_of.isoformat()} "
                        f"(the first at row {int(np.flatnonzero(late)[0])}); expected none",
                    )
                ]
            )
    out = _roll_up(frame, hierarchy, end)
    if np.isnan(returned).any():
        out["return_rate"] = np.nan  # no returns column (or a gap in it): unknown
    return out
