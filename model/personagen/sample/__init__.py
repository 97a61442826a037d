"""Sampling: chunked, deterministic simulation of customers, their tables and files.

The third stage of the data flow on the sampling side (``docs/architecture.md``):
the story's customers, drawn chunk by chunk (:func:`iter_customer_chunks`), become
Arrow tables (:func:`basic_batch`, :func:`enriched_batch`, with fake identities)
and files (:func:`sample_to_files`). Customer ``i`` of a run depends only on the
configuration, the seed and ``i``.
"""

from personagen.sample._digest import DIGEST_FILE, HISTOGRAM_EDGES, RunDigest
from personagen.sample._identities import PROFILE_COLUMNS, SUPPORTED_LOCALES, draw_profiles
from personagen.sample._job import (
    BASIC_CHUNK,
    BASIC_STEM,
    ENRICHED_CHUNK,
    ENRICHED_STEM,
    output_paths,
    sample_to_files,
)
from personagen.sample._plan import RunPlan, plan_run, sample_table
from personagen.sample._request import DEFAULT_AS_OF, SampleRequest
from personagen.sample._simulate import MIN_BATCH, CustomerChunk, iter_customer_chunks, run_keys
from personagen.sample._sinks import FileFormat
from personagen.sample._summary import SampleSummary, persona_counts
from personagen.sample._tables import (
    ColumnInfo,
    TableLayout,
    basic_batch,
    customer_ids,
    enriched_batch,
    table_layout,
)

__all__ = [
    "BASIC_CHUNK",
    "BASIC_STEM",
    "DEFAULT_AS_OF",
    "DIGEST_FILE",
    "ENRICHED_CHUNK",
    "ENRICHED_STEM",
    "HISTOGRAM_EDGES",
    "MIN_BATCH",
    "PROFILE_COLUMNS",
    "SUPPORTED_LOCALES",
    "ColumnInfo",
    "CustomerChunk",
    "FileFormat",
    "RunDigest",
    "RunPlan",
    "SampleRequest",
    "SampleSummary",
    "TableLayout",
    "basic_batch",
    "customer_ids",
    "draw_profiles",
    "enriched_batch",
    "iter_customer_chunks",
    "output_paths",
    "persona_counts",
    "plan_run",
    "run_keys",
    "sample_table",
    "sample_to_files",
    "table_layout",
]
