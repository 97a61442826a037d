"""Render a run directory's report and write it as ``report.html``.

The page is one self-contained file: the styles are inlined by the template and
every chart is inline SVG, so it opens from a ``file://`` URL with no network.
"""

from __future__ import annotations

import datetime as dt
from importlib.metadata import version
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from personagen._io import check_writable, write_text_atomic
from personagen.errors import DataError, Problem
from personagen.report._inputs import FitRun, SampleRun, read_basic_rows, read_run
from personagen.report._sample_summaries import run_facts
from personagen.report._sections import Section, sample_sections

__all__ = ["REPORT_FILE", "render_report", "write_report"]

REPORT_FILE = "report.html"


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("personagen.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _fit_facts(run: FitRun) -> list[tuple[str, str]]:
    attrs, fitted = run.idata.attrs, run.fitted
    n = run.idata["observed_data"]["n_orders"].shape[0]
    return [
        ("customers", f"{n:,}"),
        ("mode", fitted.mode),
        ("method", fitted.method),
        ("personas", str(len(fitted.persona_names))),
        ("seed", str(attrs.get("seed", "?"))),
        ("config hash", str(attrs.get("config_hash", "?"))[:16]),
        ("personagen", str(attrs.get("personagen_version", "?"))),
        ("command", str(attrs.get("command", "library call"))),
    ]


def _lookalike_rows(path: str | Path) -> pd.DataFrame:
    run = read_run(path)
    if not isinstance(run, SampleRun):
        raise DataError([Problem(str(path), "", "expected a sample run (metadata.json)")])
    return read_basic_rows(run)


def render_report(directory: str | Path, *, lookalike: str | Path | None = None) -> str:
    """Return the HTML report of a sample or fit output directory.

    Parameters
    ----------
    directory : str or Path
        Output of ``personagen sample`` or ``personagen fit``.
    lookalike : str or Path, optional
        For a fit: a sample directory of look-alike customers (``sample --posterior``),
        scored against the customers the fit saw.

    Raises
    ------
    DataError
        If a directory is not a personagen output, or is incomplete.
    """
    run = read_run(directory)
    sections: list[Section]
    if isinstance(run, SampleRun):
        title = "personagen sample run"
        n_personas = len(run.config.persona_names)
        lede = f"{run.metadata['rows']:,} synthetic customers of {n_personas} personas."
        facts = run_facts(run.metadata)
        sections = sample_sections(run)
    else:
        from personagen.report._fit_sections import fit_sections

        if lookalike is not None:
            synthetic = _lookalike_rows(lookalike)
        else:
            synthetic = None
        title = "personagen fit"
        lede = (
            f"Posterior of {len(run.fitted.persona_names)} persona weights"
            + (" and profiles" if run.fitted.mode != "weights" else "")
            + " given real customers."
        )
        facts = _fit_facts(run)
        sections = fit_sections(run, synthetic)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            lede=lede,
            facts=facts,
            sections=sections,
            version=version("personagen"),
            made_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            directory=str(directory),
        )
    )


def write_report(
    directory: str | Path, *, lookalike: str | Path | None = None, overwrite: bool = False
) -> Path:
    """Write ``directory/report.html`` (atomically) and return its path.

    Raises
    ------
    ParameterError
        If the report exists and ``overwrite`` is false.
    DataError
        As :func:`render_report`.
    """
    path = Path(directory) / REPORT_FILE
    check_writable([path], overwrite=overwrite)
    html = render_report(directory, lookalike=lookalike)
    write_text_atomic(path, html)
    return path
