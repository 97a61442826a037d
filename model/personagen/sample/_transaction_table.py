"""Line items -> the transactions table (one row per line) and its data dictionary."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from personagen.config import ProductHierarchy
from personagen.sample._baskets import SIZE_CODES, LineItems
from personagen.sample._tables import ColumnInfo, arrow_dtype_name, customer_ids

__all__ = ["ORDER_ID_BASE", "transaction_dictionary", "transaction_schema", "transactions_batch"]

#: ``order_id = customer index * ORDER_ID_BASE + order number``: unique in a run, and
#: a customer has fewer orders than units (at most ``MAX_UNITS - 1``, 46,340).
ORDER_ID_BASE = 1_000_000

_LABELS = pa.dictionary(pa.int32(), pa.string())
_COLUMNS: tuple[tuple[str, pa.DataType, str, str], ...] = (
    ("customer_id", pa.string(), "Customer identifier, as in the customer tables", ""),
    ("order_id", pa.int64(), "customer index x 1,000,000 + order_number: unique in a run", ""),
    ("order_number", pa.int32(), "The order's number among its customer's, 1 = first", ""),
    ("line", pa.int32(), "Line number inside the order, from 1", ""),
    ("timestamp", pa.timestamp("s"), "Local store time of the order (time zone: metadata)", ""),
    ("department", _LABELS, "Department of the line's class", ""),
    ("class", _LABELS, "Product class (the hierarchy's name)", ""),
    ("units", pa.int32(), "Units on the line (>= 1)", "units"),
    ("value", pa.float64(), "Value of the line: units x its unit price, to the cent", "USD"),
    ("size", _LABELS, "Baby, Child (kids' departments), XS-XL (adult apparel), else null", ""),
    ("returned_units", pa.int32(), "Units of the line returned (0 to units)", "units"),
    (
        "returned_value",
        pa.float64(),
        "Value of the line refunded (0 to value; a partial refund rounds units up)",
        "USD",
    ),
)


def transaction_schema() -> pa.Schema:
    """Return the transactions table's columns and types."""
    return pa.schema([(name, kind) for name, kind, _, _ in _COLUMNS])


def transaction_dictionary() -> tuple[ColumnInfo, ...]:
    """Data-dictionary rows of the transactions table."""
    return tuple(
        ColumnInfo(name, meaning, unit, arrow_dtype_name(kind), "transactions")
        for name, kind, meaning, unit in _COLUMNS
    )


def transactions_batch(
    lines: LineItems, customer_index: np.ndarray, hierarchy: ProductHierarchy
) -> pa.RecordBatch:
    """Build the transactions table's rows of one chunk."""
    orders = lines.orders
    class_department = np.repeat(
        np.arange(hierarchy.n_departments, dtype=np.int32),
        [len(hierarchy.classes_of(d)) for d in hierarchy.departments],
    )
    class_names = [c for d in hierarchy.departments for c in hierarchy.classes_of(d)]
    klass = lines.klass.astype(np.int32)
    size = lines.size.astype(np.int32)
    owners = customer_index[lines.owner]
    number = orders.number[lines.order_row]
    columns = [
        customer_ids(customer_index).take(pa.array(lines.owner)),
        pa.array(owners * ORDER_ID_BASE + number, pa.int64()),
        pa.array(number, pa.int32()),
        pa.array(lines.line, pa.int32()),
        pa.array(orders.timestamp[lines.order_row], pa.timestamp("s")),
        pa.DictionaryArray.from_arrays(
            pa.array(class_department[klass]), pa.array(list(hierarchy.departments))
        ),
        pa.DictionaryArray.from_arrays(pa.array(klass), pa.array(class_names)),
        pa.array(lines.units, pa.int32()),
        pa.array(lines.cents / 100.0),
        pa.DictionaryArray.from_arrays(pa.array(size, mask=size == 0), pa.array(list(SIZE_CODES))),
        pa.array(lines.returned_units, pa.int32()),
        pa.array(lines.returned_cents / 100.0),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=transaction_schema())
