"""Sample a synthetic customer base to files: tables, data dictionary, metadata.

Sampling (JAX) and writing (Arrow) run as a pipeline: the main thread samples
chunk ``k + 1`` while a writer thread builds the Arrow batches of chunk ``k``
and each output file encodes its batches in a thread of its own
(:mod:`personagen.sample._sinks`); JAX and Arrow release the GIL for their
heavy work. Memory is bounded by a few chunks whatever the number of
customers. Every file is written under a temporary name and renamed when
complete; ``metadata.json`` is written last.
"""

from __future__ import annotations

import json
import platform
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from personagen._io import atomic_path, check_writable, write_text_atomic
from personagen.config import PersonagenConfig, Structure, TimingArrays, build_timing
from personagen.sample._baskets import draw_line_items
from personagen.sample._digest import DIGEST_FILE, RunDigest
from personagen.sample._plan import plan_run
from personagen.sample._request import SampleRequest, check_request
from personagen.sample._simulate import CustomerChunk
from personagen.sample._sinks import Sink, close_sinks
from personagen.sample._summary import SampleSummary
from personagen.sample._tables import (
    ColumnInfo,
    TableLayout,
    basic_batch,
    enriched_batch,
    table_layout,
)
from personagen.sample._transaction_table import (
    transaction_dictionary,
    transaction_schema,
    transactions_batch,
)
from personagen.story import FITTED_SITES

__all__ = [
    "BASIC_CHUNK",
    "BASIC_STEM",
    "ENRICHED_CHUNK",
    "ENRICHED_STEM",
    "TRANSACTIONS_STEM",
    "output_paths",
    "sample_to_files",
]

BASIC_STEM = "customer_sales_data_basic"
ENRICHED_STEM = "customer_sales_data_enriched"
TRANSACTIONS_STEM = "transactions"
#: Default customers per chunk. A chunk is one compiled batch and one Parquet row
#: group; an enriched chunk (859 columns) holds about 8 KB per customer while it
#: is converted, so its default is smaller (peak memory, docs/benchmarks.md).
BASIC_CHUNK = 100_000
ENRICHED_CHUNK = 10_000
#: Customers whose line items are expanded at a time: each part's arrays stay small
#: (peak memory) and two parts expand at once (NumPy releases the GIL in its loops).
LINES_PART = 2_000
LINE_THREADS = 2
#: Population fields recorded in metadata.json when a run samples a given population
#: (the class profiles are always the YAML's: no fit learns them).
_RECORDED_SITES = FITTED_SITES


def output_paths(request: SampleRequest) -> dict[str, Path]:
    """Return every file a sample run writes, keyed by role."""
    ext = "csv" if request.file_format == "csv" else "parquet"
    paths = {"basic": Path(request.out_dir) / f"{BASIC_STEM}.{ext}"}
    if not request.basic_only:
        paths["enriched"] = Path(request.out_dir) / f"{ENRICHED_STEM}.{ext}"
    if request.transactions:
        paths["transactions"] = Path(request.out_dir) / f"{TRANSACTIONS_STEM}.{ext}"
    paths["dictionary"] = Path(request.out_dir) / "data_dictionary.csv"
    paths["summary"] = Path(request.out_dir) / DIGEST_FILE
    paths["metadata"] = Path(request.out_dir) / "metadata.json"
    return paths


def _population_record(request: SampleRequest) -> tuple[str, dict[str, Any] | None]:
    if request.draw_population:
        return "drawn", None
    if request.population is None:
        return "prior means", None
    values = {k: np.asarray(getattr(request.population, k)).tolist() for k in _RECORDED_SITES}
    return f"{', '.join(_RECORDED_SITES)} from {request.population_source}", values


def _metadata(request: SampleRequest, config: PersonagenConfig, n: int) -> dict[str, Any]:
    population, values = _population_record(request)
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
        "transactions": request.transactions,
        # timestamps of the transactions are local times of this zone, without an offset
        "time_zone": config.personas.population.timing.time_zone,
        "population": population,
        "population_values": values,
        "persona_counts": dict(request.persona_counts) if request.persona_counts else None,
        "command": request.command,
        "sources": dict(config.sources),
        "config": config.to_dict(),
    }


def _line_batches(
    pool: ThreadPoolExecutor,
    chunk: CustomerChunk,
    config: PersonagenConfig,
    structure: Structure,
    timing: TimingArrays,
    profile: np.ndarray,
    *,
    as_of_day: int,
    word: int,
) -> Iterator[tuple[pa.RecordBatch, int]]:
    """Yield the chunk's transactions batches (and their order counts), part by part."""

    def expand(lo: int) -> tuple[pa.RecordBatch, int]:
        part = chunk.rows(lo, min(lo + LINES_PART, chunk.n))
        lines = draw_line_items(part, structure, timing, profile, as_of_day=as_of_day, word=word)
        batch = transactions_batch(lines, part.core["customer_index"], config.hierarchy)
        return batch, int(lines.orders.owner.size)

    yield from pool.map(expand, range(0, chunk.n, LINES_PART))


def _open_sinks(
    paths: Mapping[str, Path], layout: TableLayout, request: SampleRequest, meta: dict[str, str]
) -> dict[str, Sink]:
    sinks: dict[str, Sink] = {}
    try:
        sinks["basic"] = Sink(paths["basic"], layout.basic_schema, request.file_format, meta)
        if "enriched" in paths:
            sinks["enriched"] = Sink(
                paths["enriched"], layout.enriched_schema, request.file_format, meta
            )
        if "transactions" in paths:
            sinks["transactions"] = Sink(
                paths["transactions"], transaction_schema(), request.file_format, meta
            )
    except BaseException as exc:
        close_sinks(sinks.values(), exc)
        raise
    return sinks


def _write_chunks(
    chunks: Callable[[], Any],
    sinks: Mapping[str, Sink],
    write_chunk: Callable[[CustomerChunk], None],
) -> None:
    """Feed the chunks to a writer thread; keep all files or none."""
    work: queue.Queue[CustomerChunk | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            while (chunk := work.get()) is not None:
                write_chunk(chunk)
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)
            while work.get() is not None:
                pass

    thread = threading.Thread(target=writer, name="personagen-writer", daemon=True)
    thread.start()
    error: BaseException | None = None
    try:
        for chunk in chunks():
            if failure:
                break
            work.put(chunk)
    except BaseException as exc:
        error = exc
    finally:
        work.put(None)
        thread.join()
    error = error or (failure[0] if failure else None)
    error = close_sinks(sinks.values(), error)
    if error is not None:
        raise error


def sample_to_files(
    config: PersonagenConfig,
    request: SampleRequest,
    *,
    progress: Callable[[int], None] | None = None,
) -> SampleSummary:
    """Sample customers and write the tables, the data dictionary and metadata.json.

    Parameters
    ----------
    config : PersonagenConfig
        Validated configuration (for a look-alike sample, the fitted model's ``config``).
    request : SampleRequest
        Size, seed, output directory and format.
    progress : callable, optional
        Called with the number of customers written after each chunk.

    Returns
    -------
    SampleSummary

    Raises
    ------
    ParameterError
        If an output exists and ``overwrite`` is false, or the request is invalid
        (naming the field: ``persona_counts``, ``locale``, ``chunk_size``, ...).
    """
    check_request(request, config)
    paths = output_paths(request)
    check_writable(list(paths.values()), overwrite=request.overwrite)
    run = plan_run(config, request)
    names = config.persona_names
    layout = table_layout(config.hierarchy)
    segments = list(config.segments.labels)
    meta = {
        "personagen.seed": str(request.seed),
        "personagen.config_hash": config.config_hash(),
        "personagen.version": version("personagen"),
        "personagen.as_of": request.as_of.isoformat(),
    }
    summary = SampleSummary(names, config.hierarchy.departments)
    digest = RunDigest(config)
    timing = build_timing(config) if request.transactions else None
    profile = np.asarray(run.population.department_profile, np.float64)
    as_of_day = int(np.datetime64(request.as_of, "D").astype(np.int64))
    word = run.line_word
    sinks = _open_sinks(paths, layout, request, meta)

    def write_chunk(chunk: CustomerChunk) -> None:
        basic = basic_batch(chunk, layout, segments, request.as_of)
        sinks["basic"].write(basic)
        if "enriched" in sinks:
            sinks["enriched"].write(enriched_batch(basic, chunk, layout, names, request.locale))
        if timing is not None:
            for batch, n_orders in _line_batches(
                pool, chunk, config, run.structure, timing, profile, as_of_day=as_of_day, word=word
            ):
                sinks["transactions"].write(batch)
                summary.add_lines(batch.num_rows, n_orders)
        summary.update(chunk, basic)
        digest.update(chunk, basic)
        if progress is not None:
            progress(chunk.n)

    def chunks() -> Any:
        # the line items need the enriched details (class units, sizes), and so the
        # enriched chunk size that bounds memory; the core is identical either way
        enriched = not request.basic_only or request.transactions
        chunk_size = request.chunk_size or (ENRICHED_CHUNK if enriched else BASIC_CHUNK)
        return run.chunks(chunk_size=chunk_size, enriched=enriched)

    # one pool for the run: threads made per chunk would each take a malloc arena of
    # their own, and the freed memory of those arenas is not handed back (peak memory)
    with ThreadPoolExecutor(LINE_THREADS, thread_name_prefix="personagen-lines") as pool:
        _write_chunks(chunks, sinks, write_chunk)
    _write_dictionary(paths["dictionary"], layout, request)
    metadata = _metadata(request, config, run.n_customers)
    digest_data = digest.to_dict(metadata)
    write_text_atomic(paths["summary"], json.dumps(digest_data, separators=(",", ":")) + "\n")
    write_text_atomic(paths["metadata"], json.dumps(metadata, indent=2) + "\n")
    summary.files = [str(p) for p in paths.values()]
    return summary


def _write_dictionary(path: Path, layout: TableLayout, request: SampleRequest) -> None:
    rows: list[ColumnInfo] = [
        c for c in layout.dictionary if not (request.basic_only and c.table == "enriched")
    ]
    if request.transactions:
        rows += transaction_dictionary()
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
