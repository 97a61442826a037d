"""What a sample run is asked for: :class:`SampleRequest` and its checks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from personagen.config import PersonagenConfig
from personagen.errors import bad_argument
from personagen.sample._identities import check_locale
from personagen.sample._sinks import FileFormat
from personagen.sample._summary import check_persona_counts
from personagen.story import Population

__all__ = ["DEFAULT_AS_OF", "SampleRequest", "check_request"]

#: The date a sample describes unless told otherwise (signup dates are counted back from it).
DEFAULT_AS_OF = dt.date(2026, 1, 1)


@dataclass(frozen=True)
class SampleRequest:
    """What to sample and where to write it.

    Attributes
    ----------
    out_dir : Path or str
        Directory of the output files (created if missing).
    n_customers : int
        Customers to draw; ignored when ``persona_counts`` is given.
    seed : int
        Run seed: customer ``i`` draws from ``fold_in(key(seed), i)``; recorded in metadata.
    chunk_size : int, optional
        Customers per compiled batch (does not change the data); by default
        :data:`BASIC_CHUNK`, or :data:`ENRICHED_CHUNK` with the enriched table.
    file_format : {"parquet", "csv"}
        Format of the two tables.
    locale : str
        Locale of the fake profiles (``en_US``, ``en_GB``, ``en_IE``).
    as_of : datetime.date
        Date the data describe: signup dates are ``as_of`` minus the lifetime.
    basic_only : bool
        Write only the basic table (the basic rows are identical either way).
    transactions : bool
        Also write the line items (``transactions.parquet`` or ``.csv``); the customer
        tables are identical either way.
    draw_population : bool
        Draw the population (weights, profiles) from its prior instead of using its means.
    persona_counts : mapping of str to int, optional
        Exact customers per persona (conditional generation), in this order.
    population : Population, optional
        A given population (e.g. a fitted model's posterior means,
        :meth:`personagen.infer.FittedModel.mean_population`) instead of the prior's.
    population_source : str
        Where ``population`` came from, for the metadata.
    overwrite : bool
        Replace existing output files (never done otherwise).
    command : str
        The command line that made the run, for the metadata.
    """

    out_dir: Path | str
    n_customers: int
    seed: int
    chunk_size: int | None = None
    file_format: FileFormat = "parquet"
    locale: str = "en_US"
    as_of: dt.date = DEFAULT_AS_OF
    basic_only: bool = False
    transactions: bool = False
    draw_population: bool = False
    persona_counts: Mapping[str, int] | None = None
    population: Population | None = None
    population_source: str = ""
    overwrite: bool = False
    command: str = ""


def check_request(request: SampleRequest, config: PersonagenConfig) -> None:
    """Raise a :class:`~personagen.errors.ParameterError` for an impossible request."""
    if request.draw_population and request.population is not None:
        raise bad_argument("population", "a given population cannot be combined with drawing one")
    if request.persona_counts is not None:
        check_persona_counts(request.persona_counts, config.persona_names)
    elif request.n_customers < 0:
        raise bad_argument("n_customers", f"expected a count >= 0, got {request.n_customers}")
    if request.chunk_size is not None and request.chunk_size < 1:
        raise bad_argument("chunk_size", f"expected a positive integer, got {request.chunk_size}")
    if request.file_format not in ("csv", "parquet"):
        raise bad_argument(
            "file_format", f"expected 'csv' or 'parquet', got {request.file_format!r}"
        )
    check_locale(request.locale)
