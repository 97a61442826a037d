"""Request bodies: customers as JSON records, CSV or Parquet; every failure a clear 4xx."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

__all__ = ["BodyError", "customers_frame"]

#: Content types the customer endpoints read.
JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv",)
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")


class BodyError(ValueError):
    """A request body that cannot be read; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _records(body: bytes) -> pd.DataFrame:
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BodyError(400, f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and "customers" in data:
        data = data["customers"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise BodyError(
            422, 'expected a JSON list of customer records (objects), or {"customers": [...]}'
        )
    return pd.DataFrame.from_records(data)


def customers_frame(body: bytes, content_type: str) -> pd.DataFrame:
    """Parse a request body into a customer table in the basic schema.

    Raises
    ------
    BodyError
        400 for a body that does not parse, 415 for an unsupported content type,
        422 for a body of the wrong shape or with no customers.
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind in JSON_TYPES or kind == "":
        table = _records(body)
    elif kind in CSV_TYPES:
        try:
            table = pd.read_csv(io.BytesIO(body), encoding="utf-8")
        except Exception as exc:  # pandas raises many types for unreadable CSV
            raise BodyError(400, f"body is not a readable CSV table: {exc}") from None
    elif kind in PARQUET_TYPES:
        try:
            table = pd.read_parquet(io.BytesIO(body))
        except Exception as exc:  # pyarrow raises many types for unreadable Parquet
            raise BodyError(400, f"body is not a readable Parquet table: {exc}") from None
    else:
        supported = ", ".join((*JSON_TYPES, *CSV_TYPES, *PARQUET_TYPES))
        raise BodyError(415, f"unsupported content type {kind!r}; expected one of {supported}")
    if table.empty:
        raise BodyError(422, "the request holds no customers")
    return table
