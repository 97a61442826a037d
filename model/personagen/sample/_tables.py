"""Simulated arrays -> the basic and enriched tables, and their data dictionary.

Both tables are built from one :class:`~personagen.sample.CustomerChunk`:
the basic table's columns are computed once and the enriched table starts
with exactly those arrays, so basic is the enriched table restricted to its
columns. Money is carried as integer cents until here and written as dollars
with two decimals (float64); every sum invariant holds exactly in cents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from personagen.config import (
    BASIC_CORE_COLUMNS,
    DAYS_PER_MONTH,
    SIZE_LABELS,
    ProductHierarchy,
    department_units_columns,
    department_value_columns,
)
from personagen.sample._identities import PROFILE_COLUMNS, draw_profiles
from personagen.sample._simulate import CustomerChunk

__all__ = [
    "ColumnInfo",
    "TableLayout",
    "basic_batch",
    "customer_ids",
    "enriched_batch",
    "table_layout",
]


@dataclass(frozen=True)
class ColumnInfo:
    """One row of the data dictionary.

    Attributes
    ----------
    column : str
        Column name.
    meaning : str
        What the column holds.
    unit : str
        Unit of its values (``USD``, ``days``, ...), or ``""``.
    dtype : str
        ``int32``, ``int64``, ``float64``, ``string`` or ``date``.
    table : str
        ``basic`` (in both tables) or ``enriched`` (enriched table only).
    """

    column: str
    meaning: str
    unit: str
    dtype: str
    table: str


@dataclass(frozen=True)
class TableLayout:
    """Column names, types and dictionary of both tables for one hierarchy.

    Attributes
    ----------
    basic_schema : pyarrow.Schema
        The basic table's columns and types.
    enriched_schema : pyarrow.Schema
        The enriched table's: the basic columns first, then the enriched-only ones.
    dictionary : tuple of ColumnInfo
        One entry per enriched column, in order.
    """

    basic_schema: pa.Schema
    enriched_schema: pa.Schema
    dictionary: tuple[ColumnInfo, ...]


def arrow_dtype_name(t: pa.DataType) -> str:
    """Return the data dictionary's dtype of an Arrow type (labels and timestamps too)."""
    if pa.types.is_dictionary(t):
        return "string"
    if pa.types.is_timestamp(t):
        return "timestamp"
    return {
        "int32": "int32",
        "int64": "int64",
        "double": "float64",
        "string": "string",
        "date32[day]": "date",
    }[str(t)]


#: One column of a table: name, Arrow type, meaning, unit, table.
_Spec = tuple[str, pa.DataType, str, str, str]


def _basic_specs(hierarchy: ProductHierarchy) -> list[_Spec]:
    cols: list[_Spec] = [
        ("customer_id", pa.string(), "Customer identifier, C followed by 10 digits", "", "basic"),
        ("total_purchases", pa.int32(), "Number of orders", "orders", "basic"),
        ("total_revenue", pa.float64(), "Total value of all orders", "USD", "basic"),
        (
            "avg_order_value",
            pa.float64(),
            "total_revenue / total_purchases, to the cent",
            "USD",
            "basic",
        ),
        (
            "recency_days",
            pa.int32(),
            "Days from the last order to the as-of date (= lifetime in days for one order)",
            "days",
            "basic",
        ),
        (
            "frequency_per_month",
            pa.float64(),
            "total_purchases / customer_lifetime_months",
            "orders per month",
            "basic",
        ),
        (
            "customer_lifetime_months",
            pa.float64(),
            "Time from signup (the first order) to the as-of date (lifetime days / 30.4375)",
            "months",
            "basic",
        ),
        (
            "return_rate",
            pa.float64(),
            "Value returned / total_revenue, to 4 decimals (the returned cents are "
            "round(return propensity x revenue), exactly the transactions' returned_value)",
            "fraction",
            "basic",
        ),
        (
            "true_segment",
            pa.string(),
            "Engagement segment the customer was drawn from, or the dropped-out label "
            "if its purchase process stopped before the as-of date (ground truth)",
            "",
            "basic",
        ),
        ("signup_date", pa.date32(), "as_of date minus the lifetime in days", "date", "basic"),
    ]
    for dept, name in zip(hierarchy.departments, department_value_columns(hierarchy), strict=True):
        cols.append((name, pa.float64(), f"Value bought in {dept}", "USD", "basic"))
    for dept, name in zip(hierarchy.departments, department_units_columns(hierarchy), strict=True):
        cols.append((name, pa.int32(), f"Units bought in {dept}", "units", "basic"))
    assert tuple(c[0] for c in cols[: len(BASIC_CORE_COLUMNS)]) == BASIC_CORE_COLUMNS
    return cols


def _enriched_specs(hierarchy: ProductHierarchy) -> list[_Spec]:
    extra: list[_Spec] = [
        (
            "persona_type",
            pa.string(),
            "Persona the customer was drawn from (ground truth)",
            "",
            "enriched",
        ),
        ("age", pa.int32(), "Age, uniform within the persona's age_range", "years", "enriched"),
        ("gender", pa.string(), "female or male, from the persona's gender mix", "", "enriched"),
    ]
    extra += [
        (c, pa.string(), f"Fake profile: {c.replace('_', ' ')}", "", "enriched")
        for c in PROFILE_COLUMNS
    ]
    names = [
        (d, c) for d, cs in zip(hierarchy.departments, hierarchy.classes, strict=True) for c in cs
    ]
    for (dept, cls), slug in zip(names, hierarchy.class_slugs, strict=True):
        extra.append(
            (
                f"class_total_value_{slug}",
                pa.float64(),
                f"Value bought in {dept} / {cls}",
                "USD",
                "enriched",
            )
        )
    for (dept, cls), slug in zip(names, hierarchy.class_slugs, strict=True):
        extra.append(
            (
                f"class_total_units_{slug}",
                pa.int32(),
                f"Units bought in {dept} / {cls}",
                "units",
                "enriched",
            )
        )
    extra.append(
        ("count_Baby", pa.int32(), "Units in kids' departments in baby sizes", "units", "enriched")
    )
    extra.append(
        (
            "count_Child",
            pa.int32(),
            "Units in kids' departments in child sizes",
            "units",
            "enriched",
        )
    )
    extra += [
        (f"count_size_{s}", pa.int32(), f"Units in adult apparel in size {s}", "units", "enriched")
        for s in SIZE_LABELS
    ]
    return extra


def table_layout(hierarchy: ProductHierarchy) -> TableLayout:
    """Return the schemas and data dictionary of the basic and enriched tables."""
    cols = _basic_specs(hierarchy)
    extra = _enriched_specs(hierarchy)
    basic_schema = pa.schema([(c[0], c[1]) for c in cols])
    enriched_schema = pa.schema([(c[0], c[1]) for c in cols + extra])
    dictionary = tuple(
        ColumnInfo(c[0], c[2], c[3], arrow_dtype_name(c[1]), c[4]) for c in cols + extra
    )
    return TableLayout(basic_schema, enriched_schema, dictionary)


def customer_ids(index: np.ndarray) -> pa.Array:
    """Return ``C`` + the 10-digit zero-padded customer index."""
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pc.cast(pa.array(index), pa.string()), width=10, padding="0")
    return pc.binary_join_element_wise("C", digits, "")


#: Rows per block of the transposing copy (a block stays in the CPU cache).
_TRANSPOSE_BLOCK = 256


def _column_major(matrix: np.ndarray, dtype: type) -> np.ndarray:
    """Return ``matrix.T`` as a C-contiguous array of ``dtype``, copied block by block.

    Three times faster than ``np.ascontiguousarray(matrix.T)`` on a 10,000 x 394
    matrix; transposing inside the jitted sampler was slower still (XLA's CPU
    transpose cost a third of the enriched sampler's time).
    """
    n, k = matrix.shape
    out: np.ndarray = np.empty((k, n), dtype)
    for lo in range(0, n, _TRANSPOSE_BLOCK):
        out[:, lo : lo + _TRANSPOSE_BLOCK] = matrix[lo : lo + _TRANSPOSE_BLOCK].T
    return out


def _unit_columns(units: np.ndarray) -> list[pa.Array]:
    """Split an (n, k) matrix of counts into k int32 Arrow columns."""
    return [pa.array(column) for column in _column_major(units, np.int32)]


def _dollar_columns(cents: np.ndarray) -> list[pa.Array]:
    """Split an (n, k) matrix of cents into k float64 Arrow columns of dollars."""
    dollars = _column_major(cents, np.float64)
    dollars /= 100.0
    return [pa.array(column) for column in dollars]


def _dollars(cents: np.ndarray) -> np.ndarray:
    return np.asarray(cents, dtype=np.float64) / 100.0


def basic_batch(
    chunk: CustomerChunk, layout: TableLayout, segment_names: Sequence[str], as_of: dt.date
) -> pa.RecordBatch:
    """Build the basic table's rows of one chunk."""
    c = chunk.core
    n_orders = c["n_orders"].astype(np.int64)
    cents = c["revenue_cents"].astype(np.int64)
    lifetime_months = np.round(c["lifetime_days"] / DAYS_PER_MONTH, 2)
    aov_cents = (2 * cents + n_orders) // (2 * n_orders)  # round half up, exact integers
    frequency = np.round(n_orders / (c["lifetime_days"] / DAYS_PER_MONTH), 4)
    signup = np.datetime64(as_of, "D") - c["lifetime_days"].astype("timedelta64[D]")
    segments = pa.array(list(segment_names)).take(pa.array(c["segment"]))
    columns = [
        customer_ids(c["customer_index"]),
        pa.array(c["n_orders"], pa.int32()),
        pa.array(_dollars(cents)),
        pa.array(_dollars(aov_cents)),
        pa.array(c["recency_days"], pa.int32()),
        pa.array(frequency),
        pa.array(lifetime_months),
        pa.array(np.round(c["returned_cents"] / cents, 4)),
        segments,
        pa.array(signup, pa.date32()),
    ]
    columns += _dollar_columns(c["department_cents"])
    columns += _unit_columns(c["department_units"])
    return pa.RecordBatch.from_arrays(columns, schema=layout.basic_schema)


def enriched_batch(
    basic: pa.RecordBatch,
    chunk: CustomerChunk,
    layout: TableLayout,
    persona_names: Sequence[str],
    locale: str,
) -> pa.RecordBatch:
    """Build the enriched table's rows of one chunk, starting from its basic rows."""
    d = chunk.details
    gender = pa.array(["female", "male"]).take(pa.array(d["gender"]))
    profile = draw_profiles(d["profile_draws"], d["gender"], chunk.core["customer_index"], locale)
    columns = list(basic.columns)
    columns += [
        pa.array(list(persona_names)).take(pa.array(chunk.core["persona"])),
        pa.array(d["age"], pa.int32()),
        gender,
        *(profile[name] for name in PROFILE_COLUMNS),
    ]
    columns += _dollar_columns(d["class_cents"])
    columns += _unit_columns(d["class_units"])
    columns += [pa.array(d["baby_units"], pa.int32()), pa.array(d["child_units"], pa.int32())]
    columns += _unit_columns(d["adult_size_units"])
    return pa.RecordBatch.from_arrays(columns, schema=layout.enriched_schema)
