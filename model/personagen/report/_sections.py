"""The sections of a report: a title, a chart, a table and a status each.

:func:`sample_sections` and :func:`fit_sections` turn a run into the list the
template renders; numbers are formatted here, markup is the template's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd
from markupsafe import Markup

from personagen.config import persona_colours
from personagen.report import _charts as charts
from personagen.report import _sample_summaries as ss
from personagen.report._inputs import SampleRun

__all__ = [
    "Section",
    "TableView",
    "percent",
    "sample_sections",
    "table_view",
    "two_decimals",
    "worst",
]


@dataclass(frozen=True)
class TableView:
    """A table as the page shows it: column headers and rows of formatted cells."""

    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Section:
    """One section of the page.

    Attributes
    ----------
    anchor : str
        HTML id, and the ``data-chart`` name of its chart.
    title : str
    text : str
        A sentence or two saying how to read it.
    chart : Markup or None
        Inline SVG.
    caption : str
    table : TableView or None
    status : str
        ``pass``, ``warning``, ``info`` or ``""`` (no badge).
    """

    anchor: str
    title: str
    text: str = ""
    chart: Markup | None = None
    caption: str = ""
    table: TableView | None = None
    status: str = ""


def percent(x: float) -> str:
    return "" if pd.isna(x) else f"{x:.1%}"


def two_decimals(x: float) -> str:
    return "" if pd.isna(x) else f"{x:,.2f}"


def table_view(
    table: pd.DataFrame, formats: Mapping[str, Callable[[float], str]], index: str
) -> TableView:
    """Format ``table`` (index first, as column ``index``) with one formatter per column."""
    columns = [index, *formats]
    rows = []
    for key, row in table.iterrows():
        label = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        rows.append([label] + [f(row[c]) for c, f in formats.items()])
    return TableView(columns=columns, rows=rows)


def worst(statuses: pd.Series) -> str:
    return "warning" if (statuses == "warning").any() else "pass"


def sample_sections(run: SampleRun) -> list[Section]:
    """Return the sections of a sample run's report."""
    d, config = run.digest, run.config
    colours = persona_colours(config)
    shares = ss.persona_shares(d, config, run.metadata)
    ranges = ss.spending_ranges(d, config)
    heat = ss.department_value_shares(d)
    sections = [
        Section(
            "persona-shares",
            "Persona shares",
            "Customers per persona (bars, with 95% intervals) against the weights the "
            "configuration asks for (diamonds).",
            Markup(charts.share_chart(shares, colours)),
            f"{int(shares['customers'].sum()):,} customers.",
            table_view(
                shares,
                {"customers": lambda x: f"{int(x):,}", "share": percent, "configured": percent},
                "persona",
            ),
        ),
        Section(
            "department-values",
            "What each persona buys",
            "Mean share of a customer's spend in each department, per persona (percent).",
            Markup(charts.heatmap_chart(heat, "share of a customer's value")),
            "Rows sum to 100%.",
        ),
    ]
    for measure, unit, title in (
        ("avg_order_value", "average order value (USD)", "Order value against the priors"),
        (
            "frequency_per_month",
            "purchases per month (medium_value_regular customers)",
            "Purchase frequency against the priors",
        ),
    ):
        part = ranges.loc[measure]
        sections.append(
            Section(
                measure.replace("_", "-"),
                title,
                "Grey band: the persona's YAML range (a central 90% interval); box: "
                "the middle half of its customers; whiskers: 5% to 95%; black tick: median.",
                Markup(charts.range_chart(part, colours, unit)),
                "Quantiles from the run digest's histograms (within one bin, 1/20 decade).",
                table_view(
                    part,
                    {
                        "lo": two_decimals,
                        "hi": two_decimals,
                        "q50": two_decimals,
                        "outside": percent,
                    },
                    "persona",
                ),
            )
        )
    sections.append(
        Section(
            "rfm",
            "Recency, frequency and monetary value",
            "Distributions over all customers.",
            Markup(charts.rfm_chart(ss.rfm_histograms(d))),
            "Values beyond the plotted range are counted in the end bins.",
        )
    )
    segments = ss.segment_shares(d)
    sections.append(
        Section(
            "segments",
            "Segments per persona",
            "Share of each persona's customers in each lifecycle segment.",
            table=table_view(segments, {s: percent for s in segments.columns}, "persona"),
        )
    )
    top = ss.top_classes(d)
    if top is not None:
        wide = top.assign(
            label=[f"{c} ({s:.0%})" for c, s in zip(top["class"], top["share"], strict=True)]
        )
        wide = wide.pivot(index="persona", columns="rank", values="label").loc[list(d["personas"])]
        sections.append(
            Section(
                "top-classes",
                "Top classes per persona",
                "The five classes with the most value per persona, with their share of it.",
                table=table_view(wide, {r: str for r in wide.columns}, "persona"),
            )
        )
    return sections
