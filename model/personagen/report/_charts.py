"""Charts of the report: small tables -> inline SVG, with matplotlib.

Each function draws one summary of :mod:`._sample_summaries` or :mod:`._fit_summaries`
on its own :class:`~matplotlib.figure.Figure` (no pyplot state, so reports can be
built in threads) and returns the SVG markup. Text stays text (``svg.fonttype:
none``), so the page prints sharply and the labels can be searched. Personas keep
the colours of the notebooks (:func:`personagen.config.persona_colours`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "heatmap_chart",
    "membership_chart",
    "ppc_count_chart",
    "ppc_department_chart",
    "range_chart",
    "rfm_chart",
    "share_chart",
    "weights_chart",
]

#: matplotlib settings of every chart (typed Any: rc_context wants its literal key type)
_STYLE: Any = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
}
_WARN = "#c0392b"
_WIDTH = 7.5  # inches: the page's text width


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with mpl.rc_context(_STYLE):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    # inline markup: no XML prolog, and no RDF metadata block (creator URLs, a date)
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.S)


def _figure(height: float, width: float = _WIDTH) -> Figure:
    with mpl.rc_context(_STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _label(name: str) -> str:
    return name.replace("_", " ")


def _persona_axes(n: int) -> tuple[Figure, Any]:
    """Return a figure with one horizontal row per persona, and its axes."""
    fig = _figure(0.35 * n + 0.9)
    return fig, fig.add_subplot()


def _finish_persona_rows(ax: Any, personas: pd.Index, xlabel: str) -> None:
    """Label the persona rows (first at the top), the x axis, and place the legend."""
    ax.set_yticks(range(len(personas)), [_label(p) for p in personas])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", frameon=False)


def share_chart(shares: pd.DataFrame, colours: Mapping[str, str]) -> str:
    """Persona shares (bars, 95% intervals) against the configured weights (diamonds)."""
    with mpl.rc_context(_STYLE):
        fig, ax = _persona_axes(len(shares))
        y = np.arange(len(shares))
        err = np.vstack([shares["share"] - shares["low"], shares["high"] - shares["share"]])
        ax.barh(y, shares["share"], xerr=err, color=[colours[p] for p in shares.index])
        ax.scatter(shares["configured"], y, marker="D", color="black", zorder=3, label="configured")
        _finish_persona_rows(ax, shares.index, "share of customers")
        return _svg(fig)


def heatmap_chart(table: pd.DataFrame, colour_label: str) -> str:
    """Draw a persona x department table of shares as a heatmap annotated in percent."""
    with mpl.rc_context(_STYLE):
        fig = _figure(0.32 * len(table) + 2.2)
        ax = fig.add_subplot()
        image = ax.imshow(table.to_numpy(), cmap="Blues", aspect="auto", vmin=0)
        for (i, j), v in np.ndenumerate(table.to_numpy()):
            if v >= 0.005:
                dark = v > 0.6 * table.to_numpy().max()
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")  # fmt: skip
        ax.set_xticks(range(table.shape[1]), table.columns, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(table)), [_label(p) for p in table.index])
        ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=ax, label=colour_label, shrink=0.8, format="{x:.0%}")
        return _svg(fig)


def range_chart(ranges: pd.DataFrame, colours: Mapping[str, str], unit: str) -> str:
    """Per persona: 5-95% whiskers, 25-75% box and median against the YAML range (band)."""
    with mpl.rc_context(_STYLE):
        fig, ax = _persona_axes(len(ranges))
        for y, (persona, row) in enumerate(ranges.iterrows()):
            ax.barh(y, row["hi"] - row["lo"], left=row["lo"], height=0.8, color="#dddddd",
                    label="YAML range" if y == 0 else None)  # fmt: skip
            ax.plot([row["q05"], row["q95"]], [y, y], color=colours[persona], lw=1)
            ax.barh(y, row["q75"] - row["q25"], left=row["q25"], height=0.4,
                    color=colours[persona])  # fmt: skip
            ax.plot([row["q50"]] * 2, [y - 0.25, y + 0.25], color="black", lw=1.5)
        ax.set_xscale("log")
        _finish_persona_rows(ax, ranges.index, unit)
        return _svg(fig)


_RFM_LABELS = {
    "recency_days": ("days since the last purchase", False),
    "frequency_per_month": ("purchases per month", True),
    "total_revenue": ("revenue per customer (USD)", True),
    "total_purchases": ("purchases per customer", True),
}


def rfm_chart(histograms: Mapping[str, pd.DataFrame]) -> str:
    """Binned recency, frequency, monetary value and purchase counts of all customers."""
    with mpl.rc_context(_STYLE):
        fig = _figure(4.2)
        axes = fig.subplots(2, 2)
        for ax, (name, (xlabel, log)) in zip(axes.flat, _RFM_LABELS.items(), strict=True):
            h = histograms[name]
            share = h["customers"] / max(h["customers"].sum(), 1)
            ax.stairs(share, np.append(h["left"], h["right"].iloc[-1]), fill=True, color="#4c72b0")
            if log:
                ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("share of customers")
        return _svg(fig)


def weights_chart(weights: pd.DataFrame, colours: Mapping[str, str]) -> str:
    """Posterior mean and 90% interval of each persona weight, YAML weight as a diamond."""
    with mpl.rc_context(_STYLE):
        fig, ax = _persona_axes(len(weights))
        y = np.arange(len(weights))
        err = np.vstack([weights["mean"] - weights["q05"], weights["q95"] - weights["mean"]])
        for i, persona in enumerate(weights.index):
            ax.errorbar(weights["mean"].iloc[i], y[i], xerr=err[:, i : i + 1], fmt="o",
                        color=colours[persona], capsize=3)  # fmt: skip
        ax.scatter(weights["prior"], y, marker="D", facecolor="none", edgecolor="black",
                   label="YAML weight (prior centre)")  # fmt: skip
        _finish_persona_rows(ax, weights.index, "persona weight (posterior mean, 90% interval)")
        return _svg(fig)


def ppc_department_chart(shares: pd.DataFrame) -> str:
    """Observed department unit shares (dots) inside their replicated intervals (bars)."""
    with mpl.rc_context(_STYLE):
        fig = _figure(3.0)
        ax = fig.add_subplot()
        x = np.arange(len(shares))
        warn = (shares["status"] == "warning").to_numpy()
        ax.vlines(x, shares["low"], shares["high"], color="#999999", lw=4, label="replicated 95%")
        ax.scatter(x, shares["observed"], color=np.where(warn, _WARN, "black"), zorder=3,
                   s=14, label="observed")  # fmt: skip
        ax.set_xticks(x, shares.index, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("share of units")
        ax.legend(frameon=False)
        return _svg(fig)


def ppc_count_chart(counts: pd.DataFrame) -> str:
    """Draw the share of customers per purchase-count bin: observed bars, replicated 95%."""
    with mpl.rc_context(_STYLE):
        fig = _figure(2.6)
        ax = fig.add_subplot()
        x = np.arange(len(counts))
        ax.bar(x, counts["observed"], color="#bbbbbb", label="observed")
        err = np.vstack([counts["median"] - counts["low"], counts["high"] - counts["median"]])
        ax.errorbar(x, counts["median"], yerr=err, fmt="_", color="#4c72b0", capsize=4,
                    label="replicated 95%")  # fmt: skip
        ax.set_xticks(x, counts.index)
        ax.set_xlabel("purchases per customer")
        ax.set_ylabel("share of customers")
        ax.legend(frameon=False)
        return _svg(fig)


def membership_chart(confidence: pd.DataFrame, colours: Mapping[str, str]) -> str:
    """Draw customers per most likely persona; the solid part is assigned with p > 0.9."""
    with mpl.rc_context(_STYLE):
        fig, ax = _persona_axes(len(confidence))
        y = np.arange(len(confidence))
        total = confidence["customers"].to_numpy()
        sure = total * np.nan_to_num(confidence["confident"].to_numpy())
        c = [colours[p] for p in confidence.index]
        ax.barh(y, total, color=c, alpha=0.35)
        ax.barh(y, sure, color=c)
        ax.barh([], [], color="#777777", alpha=0.35, label="most likely persona")
        ax.barh([], [], color="#777777", label="probability above 0.9")
        _finish_persona_rows(ax, confidence.index, "customers")
        return _svg(fig)
