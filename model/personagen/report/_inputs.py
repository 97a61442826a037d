"""Read a run directory for its report: which kind of run, and its summaries.

A sample run is recognised by ``metadata.json`` and reported from it and
``summary.json`` (the run digest) alone; a fit by ``posterior.nc`` with its
``memberships.csv``. Anything else, or a run with a file missing, is a
:class:`~personagen.errors.DataError` naming the directory and the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from personagen.config import PersonagenConfig, config_from_dict
from personagen.errors import ConfigError, DataError, Problem
from personagen.sample import BASIC_STEM, DIGEST_FILE

if TYPE_CHECKING:  # ArviZ and the inference package load only to report a fit
    import arviz as az

    from personagen.infer import FittedModel

__all__ = ["MAX_ROWS", "FitRun", "SampleRun", "read_basic_rows", "read_run"]

#: Rows read from a memberships or look-alike table, at most (the first ones).
MAX_ROWS = 100_000
_METADATA = "metadata.json"
_POSTERIOR = "posterior.nc"
_MEMBERSHIPS = "memberships.csv"
#: Keys of metadata.json the report reads.
_METADATA_KEYS = ("seed", "config_hash", "personagen_version", "rows", "config", "format")


@dataclass(frozen=True)
class SampleRun:
    """A ``personagen sample`` output directory, read for its report.

    Attributes
    ----------
    directory : Path
    metadata : dict
        ``metadata.json``.
    digest : dict
        ``summary.json`` (:class:`personagen.sample.RunDigest`).
    config : PersonagenConfig
        The configuration recorded in ``metadata.json``.
    """

    directory: Path
    metadata: dict[str, Any]
    digest: dict[str, Any]
    config: PersonagenConfig


@dataclass(frozen=True)
class FitRun:
    """A ``personagen fit`` output directory, read for its report.

    Attributes
    ----------
    directory : Path
    idata : arviz.InferenceData
        ``posterior.nc``.
    fitted : FittedModel
        The fitted model it holds (its recorded configuration).
    memberships : pandas.DataFrame
        The first :data:`MAX_ROWS` rows of ``memberships.csv``.
    """

    directory: Path
    idata: az.InferenceData
    fitted: FittedModel
    memberships: pd.DataFrame


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError([Problem(str(path), "", f"not readable JSON ({exc})")]) from None
    if not isinstance(data, dict):
        raise DataError([Problem(str(path), "", "expected a JSON object")])
    return data


def _read_sample(directory: Path) -> SampleRun:
    metadata = _json(directory / _METADATA)
    missing = [k for k in _METADATA_KEYS if k not in metadata]
    if missing:
        raise DataError(
            [
                Problem(
                    str(directory / _METADATA), k, "missing key (not written by personagen sample?)"
                )
                for k in missing
            ]
        )
    digest_path = directory / DIGEST_FILE
    if not digest_path.is_file():
        raise DataError(
            [
                Problem(
                    str(digest_path),
                    "",
                    "missing: the run is incomplete or was written by an earlier personagen; "
                    "sample it again to report it",
                )
            ]
        )
    digest = _json(digest_path)
    if (
        digest.get("config_hash") != metadata["config_hash"]
        or digest.get("seed") != metadata["seed"]
    ):
        raise DataError(
            [
                Problem(
                    str(digest_path), "config_hash", "does not belong to this run's metadata.json"
                )
            ]
        )
    config = config_from_dict(metadata["config"], source=str(directory / _METADATA))
    return SampleRun(directory=directory, metadata=metadata, digest=digest, config=config)


def _read_fit(directory: Path) -> FitRun:
    from personagen.infer import fitted_from_posterior, open_posterior

    path = directory / _POSTERIOR
    memberships_path = directory / _MEMBERSHIPS
    if not memberships_path.is_file():
        raise DataError(
            [Problem(str(memberships_path), "", "missing: the fit is incomplete; fit it again")]
        )
    idata = open_posterior(path)
    try:
        fitted = fitted_from_posterior(idata, source=str(path))
    except ConfigError as exc:
        raise DataError(exc.problems) from None
    try:
        memberships = pd.read_csv(memberships_path, nrows=MAX_ROWS)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError([Problem(str(memberships_path), "", f"not readable ({exc})")]) from None
    expected = [f"p_{name}" for name in fitted.persona_names] + ["most_likely_persona"]
    absent = [c for c in expected if c not in memberships.columns]
    if absent:
        raise DataError(
            [Problem(str(memberships_path), absent[0], "missing column (not from this fit?)")]
        )
    return FitRun(directory=directory, idata=idata, fitted=fitted, memberships=memberships)


def read_run(directory: str | Path) -> SampleRun | FitRun:
    """Read a sample or fit output directory for its report.

    Raises
    ------
    DataError
        If ``directory`` is not a directory, holds neither ``metadata.json`` (sample)
        nor ``posterior.nc`` (fit), or a file the report needs is missing or unreadable.
    """
    d = Path(directory)
    if not d.is_dir():
        state = "is a file" if d.exists() else "does not exist"
        raise DataError([Problem(str(d), "", f"{state}; expected a personagen output directory")])
    if (d / _METADATA).is_file():
        return _read_sample(d)
    if (d / _POSTERIOR).is_file():
        return _read_fit(d)
    raise DataError(
        [
            Problem(
                str(d),
                "",
                "not a personagen output: expected metadata.json (from personagen sample) "
                "or posterior.nc (from personagen fit)",
            )
        ]
    )


def read_basic_rows(run: SampleRun, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """Return the first ``max_rows`` rows of a sample run's basic table."""
    ext = "csv" if run.metadata["format"] == "csv" else "parquet"
    path = run.directory / f"{BASIC_STEM}.{ext}"
    if not path.is_file():
        raise DataError([Problem(str(path), "", "missing: the sample run is incomplete")])
    if ext == "csv":
        return pd.read_csv(path, nrows=max_rows)
    batches, n = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=min(max_rows, 65_536)):
        batches.append(batch.to_pandas())
        n += batch.num_rows
        if n >= max_rows:
            break
    return pd.concat(batches, ignore_index=True).head(max_rows)
