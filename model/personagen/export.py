"""Sample a synthetic customer base to files: tables, data dictionary, metadata.

Sampling (JAX) and writing (Arrow) run as a pipeline: the main thread samples
chunk ``k + 1`` while a writer thread builds the Arrow batches of chunk ``k``
and each output file encodes its batches in a thread of its own; JAX and Arrow
release the GIL for their heavy work. Memory is bounded by a few chunks
whatever the number of customers. Every file is written under a
temporary name and renamed when complete; ``metadata.json`` is written last.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from personagen._io import atomic_path, check_writable, write_text_atomic
from personagen.config import PersonagenConfig
from personagen.errors import ConfigError, Problem, close_match_hint
from personagen.priors import build_prior_arrays
from personagen.simulate import (
    CustomerChunk,
    draw_population,
    iter_customer_chunks,
    mean_population,
    run_keys,
)
from personagen.tables import basic_batch, enriched_batch, table_layout

__all__ = [
    "BASIC_CHUNK",
    "BASIC_STEM",
    "ENRICHED_CHUNK",
    "ENRICHED_STEM",
    "SampleRequest",
    "SampleSummary",
    "persona_counts",
    "sample_to_files",
]

BASIC_STEM = "customer_sales_data_basic"
ENRICHED_STEM = "customer_sales_data_enriched"
Format = Literal["csv", "parquet"]
#: Default customers per chunk. A chunk is one compiled batch and one Parquet row
#: group; an enriched chunk (859 columns) holds about 8 KB per customer while it
#: is converted, so its default is smaller (peak memory, docs/benchmarks.md).
BASIC_CHUNK = 100_000
ENRICHED_CHUNK = 10_000
#: Quartiles in the summary come from the first customers of the run (an iid sample).
SUMMARY_SAMPLE = 100_000


@dataclass(frozen=True)
class SampleRequest:
    """What to sample and where to write it.

    ``chunk_size`` (customers per batch) does not change the data; by default
    :data:`BASIC_CHUNK` or, with the enriched table, :data:`ENRICHED_CHUNK`.
    ``population`` replaces population sites (``persona_weights``,
    ``department_profile``, ``order_value_loc``, ``purchase_rate_loc``) by given
    values, e.g. posterior means; ``population_source`` says where they came from.
    """

    out_dir: Path | str
    n_customers: int
    seed: int
    chunk_size: int | None = None
    file_format: Format = "parquet"
    locale: str = "en_US"
    as_of: dt.date = dt.date(2026, 1, 1)
    basic_only: bool = False
    draw_population: bool = False
    persona_counts: Mapping[str, int] | None = None
    population: Mapping[str, np.ndarray] | None = None
    population_source: str = ""
    overwrite: bool = False
    command: str = ""


@dataclass
class SampleSummary:
    """Streaming summary of a run: persona shares, department values, RFM statistics."""

    persona_names: Sequence[str]
    department_names: Sequence[str]
    n: int = 0
    persona_count: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    department_cents: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rfm_sample: dict[str, list[np.ndarray]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

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


def persona_counts(
    spec: str, persona_names: Sequence[str], source: str = "--personas"
) -> dict[str, int]:
    """Parse ``name=count,name=count`` into exact persona counts.

    Raises
    ------
    ConfigError
        For a malformed item, a non-positive count or an unknown persona.
    """
    counts: dict[str, int] = {}
    problems = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, count = item.partition("=")
        name = name.strip()
        if not sep or not count.strip().isdigit() or int(count) <= 0:
            problems.append(Problem(source, item, "expected name=COUNT with a positive integer"))
        elif name not in persona_names:
            hint = close_match_hint(name, persona_names)
            problems.append(Problem(source, name, f"unknown persona{hint}"))
        elif name in counts:
            problems.append(Problem(source, name, "persona given twice"))
        else:
            counts[name] = int(count)
    if not counts and not problems:
        problems.append(Problem(source, "", "expected at least one name=COUNT"))
    if problems:
        raise ConfigError(problems)
    return counts


class _Sink:
    """A streaming CSV or Parquet writer onto a temporary path, in its own thread.

    ``write`` hands the batch to the sink's thread and returns as soon as that
    thread has taken it, so the two files are encoded at the same time as each
    other and as the next chunk's batches (Arrow releases the GIL while it
    encodes), and a sink holds at most the batch it encodes: memory stays that
    of two batches per file. An encoding error is raised by the next ``write``
    or by ``finish``.
    """

    def __init__(self, path: Path, schema: pa.Schema, fmt: Format, meta: dict[str, str]):
        self.path = path
        self._ctx = atomic_path(path)
        tmp = self._ctx.__enter__()
        if fmt == "parquet":
            # Dictionary encoding only pays for the string columns; skipping it
            # for the hundreds of numeric columns writes 25% faster. Version 2
            # data pages write the 859-column table about 20% faster
            # (docs/benchmarks.md); every current Parquet reader reads them.
            strings = [f.name for f in schema if pa.types.is_string(f.type)]
            self._writer: Any = pq.ParquetWriter(
                tmp,
                schema.with_metadata(meta),
                compression="snappy",
                use_dictionary=strings,
                data_page_version="2.0",
            )
        else:
            self._writer = pacsv.CSVWriter(tmp, schema)
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=1)
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, name=f"personagen-{path.name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            self._queue.task_done()  # taken: the writer may build the next batch
            if self._failure:
                continue  # drain; the error is reported by write or finish
            try:
                self._writer.write_batch(batch)
            except BaseException as exc:
                self._failure.append(exc)

    def write(self, batch: pa.RecordBatch) -> None:
        """Queue one batch; raise an earlier encoding error of this sink."""
        if self._failure:
            raise self._failure[0]
        self._queue.put(batch)
        self._queue.join()

    def finish(self) -> BaseException | None:
        """Write what is queued and the file's footer; return this sink's error, if any."""
        self._queue.put(None)
        self._thread.join()
        try:
            self._writer.close()
        except BaseException as exc:
            self._failure.append(exc)
        return self._failure[0] if self._failure else None

    def commit(self, error: BaseException | None) -> None:
        """Rename the finished file into place, or remove it if the run failed."""
        if error is None:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(type(error), error, error.__traceback__)


def _close_sinks(sinks: Iterable[_Sink], error: BaseException | None) -> BaseException | None:
    """Finish every sink, then keep all files or none; return the run's first error."""
    sinks = list(sinks)
    for sink in sinks:
        own = sink.finish()  # always: it joins the sink's thread
        error = error or own
    for sink in sinks:
        sink.commit(error)
    return error


def output_paths(request: SampleRequest) -> dict[str, Path]:
    """Return every file a sample run writes."""
    ext = "csv" if request.file_format == "csv" else "parquet"
    paths = {"basic": Path(request.out_dir) / f"{BASIC_STEM}.{ext}"}
    if not request.basic_only:
        paths["enriched"] = Path(request.out_dir) / f"{ENRICHED_STEM}.{ext}"
    paths["dictionary"] = Path(request.out_dir) / "data_dictionary.csv"
    paths["metadata"] = Path(request.out_dir) / "metadata.json"
    return paths


def _metadata(request: SampleRequest, config: PersonagenConfig, n: int) -> dict[str, Any]:
    return {
        "personagen_version": version("personagen"),
        "jax_version": version("jax"),
        "jaxlib_version": version("jaxlib"),
        # The same seed gives other draws on a GPU than on the CPU (docs/sampling.md).
        "jax_backend": jax.default_backend(),
        "device": jax.devices()[0].device_kind,
        "numpyro_version": version("numpyro"),
        "faker_version": version("faker"),
        "python_version": platform.python_version(),
        "seed": request.seed,
        "config_hash": config.config_hash(),
        "rows": n,
        "as_of": request.as_of.isoformat(),
        "format": request.file_format,
        "locale": request.locale,
        "basic_only": request.basic_only,
        "population": (
            "drawn"
            if request.draw_population
            else f"{', '.join(request.population)} from {request.population_source}"
            if request.population
            else "prior means"
        ),
        "population_values": (
            {k: np.asarray(v).tolist() for k, v in request.population.items()}
            if request.population
            else None
        ),
        "persona_counts": dict(request.persona_counts) if request.persona_counts else None,
        "command": request.command,
        "sources": dict(config.sources),
        "config": config.to_dict(),
    }


def sample_to_files(
    config: PersonagenConfig,
    request: SampleRequest,
    *,
    progress: Callable[[int], None] | None = None,
) -> SampleSummary:
    """Sample ``request.n_customers`` customers and write the tables.

    Parameters
    ----------
    config : PersonagenConfig
        Validated configuration.
    request : SampleRequest
        Size, seed, output directory and format.
    progress : callable, optional
        Called with the number of customers written after each chunk.

    Returns
    -------
    SampleSummary

    Raises
    ------
    ConfigError
        If an output exists and ``overwrite`` is false, or persona counts are invalid.
    """
    paths = output_paths(request)
    check_writable(list(paths.values()), overwrite=request.overwrite)
    priors = build_prior_arrays(config)
    names = config.persona_names
    personas = None
    n = request.n_customers
    if request.persona_counts:
        personas = np.concatenate(
            [np.full(k, names.index(p), np.int32) for p, k in request.persona_counts.items()]
        )
        n = int(personas.shape[0])
    pop_key, customer_key = run_keys(request.seed)
    if request.draw_population and request.population:
        raise ConfigError([Problem("--posterior", "", "cannot be combined with --draw-population")])
    pop = (
        draw_population(priors, key=pop_key) if request.draw_population else mean_population(priors)
    )
    if request.population:
        pop = pop._replace(
            **{k: jnp.asarray(v, jnp.float32) for k, v in request.population.items()}
        )
    layout = table_layout(config.hierarchy)
    segments = list(config.segments.segments)
    meta = {
        "personagen.seed": str(request.seed),
        "personagen.config_hash": config.config_hash(),
        "personagen.version": version("personagen"),
        "personagen.as_of": request.as_of.isoformat(),
    }
    summary = SampleSummary(names, config.hierarchy.departments)
    sinks: dict[str, _Sink] = {}
    try:
        sinks["basic"] = _Sink(paths["basic"], layout.basic_schema, request.file_format, meta)
        if not request.basic_only:
            sinks["enriched"] = _Sink(
                paths["enriched"], layout.enriched_schema, request.file_format, meta
            )
    except BaseException as exc:
        _close_sinks(sinks.values(), exc)
        raise
    work: queue.Queue[CustomerChunk | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            while (chunk := work.get()) is not None:
                basic = basic_batch(chunk, layout, segments, request.as_of)
                sinks["basic"].write(basic)
                if "enriched" in sinks:
                    sinks["enriched"].write(
                        enriched_batch(basic, chunk, layout, names, request.locale)
                    )
                summary.update(chunk, basic)
                if progress is not None:
                    progress(chunk.n)
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)
            while work.get() is not None:
                pass

    thread = threading.Thread(target=writer, name="personagen-writer", daemon=True)
    thread.start()
    error: BaseException | None = None
    try:
        for chunk in iter_customer_chunks(
            pop,
            priors,
            key=customer_key,
            n_customers=n,
            chunk_size=request.chunk_size
            or (BASIC_CHUNK if request.basic_only else ENRICHED_CHUNK),
            enriched=not request.basic_only,
            personas=personas,
        ):
            if failure:
                break
            work.put(chunk)
    except BaseException as exc:
        error = exc
    finally:
        work.put(None)
        thread.join()
    error = error or (failure[0] if failure else None)
    error = _close_sinks(sinks.values(), error)
    if error is not None:
        raise error
    _write_dictionary(paths["dictionary"], layout, request.basic_only)
    write_text_atomic(paths["metadata"], json.dumps(_metadata(request, config, n), indent=2) + "\n")
    summary.files = [str(p) for p in paths.values()]
    return summary


def _write_dictionary(path: Path, layout, basic_only: bool) -> None:
    rows = [c for c in layout.dictionary if not (basic_only and c.table == "enriched")]
    table = pa.table(
        {
            "column": [c.column for c in rows],
            "meaning": [c.meaning for c in rows],
            "unit": [c.unit for c in rows],
            "dtype": [c.dtype for c in rows],
            "table": [c.table for c in rows],
        }
    )
    with atomic_path(path) as tmp:
        pacsv.write_csv(table, tmp)
