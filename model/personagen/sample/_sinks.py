"""Streaming file sinks: one CSV or Parquet file per sink, encoded in a thread of its own.

Each sink writes onto a temporary name beside its file and renames it only when
the whole run succeeded (:func:`close_sinks`): a failed run leaves no file that
looks complete, and keeps none of its files.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from personagen._io import atomic_path

__all__ = ["FileFormat", "Sink", "close_sinks"]

FileFormat = Literal["csv", "parquet"]


class Sink:
    """A streaming CSV or Parquet writer onto a temporary path, in its own thread.

    ``write`` hands the batch to the sink's thread and returns as soon as that
    thread has taken it, so the two files are encoded at the same time as each
    other and as the next chunk's batches (Arrow releases the GIL while it
    encodes), and a sink holds at most the batch it encodes: memory stays that
    of two batches per file. An encoding error is raised by the next ``write``
    or by ``finish``.
    """

    def __init__(self, path: Path, schema: pa.Schema, fmt: FileFormat, meta: dict[str, str]):
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


def close_sinks(sinks: Iterable[Sink], error: BaseException | None) -> BaseException | None:
    """Finish every sink, then keep all files or none; return the run's first error."""
    sinks = list(sinks)
    for sink in sinks:
        own = sink.finish()  # always: it joins the sink's thread
        error = error or own
    for sink in sinks:
        sink.commit(error)
    return error
