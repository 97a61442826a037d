"""The sections of a fit's report: weights, profiles, diagnostics, checks, memberships.

Imported only for a fit (ArviZ and the inference package load with it), so a sample
run's report starts quickly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from markupsafe import Markup

from personagen.config import persona_colours
from personagen.report import _charts as charts
from personagen.report import _fit_summaries as fs
from personagen.report._inputs import FitRun
from personagen.report._sections import Section, percent, table_view, two_decimals, worst

__all__ = ["fit_sections"]


def _fit_core(run: FitRun) -> list[Section]:
    fitted = run.fitted
    colours = persona_colours(fitted.config)
    weights = fs.weight_intervals(fitted)
    profiles = fs.department_profiles(fitted)
    diagnostics = fs.diagnostics_table(fitted)
    source = "posterior mean" if profiles.learned else "fixed by the priors (weights mode)"
    return [
        Section(
            "weights",
            "Persona weights",
            "Posterior mean and 90% interval of each persona's share of the customer base.",
            Markup(charts.weights_chart(weights, colours)),
            f"Mode {fitted.mode}, method {fitted.method}.",
            table_view(
                weights,
                {"mean": percent, "q05": percent, "q95": percent, "prior": percent},
                "persona",
            ),
        ),
        Section(
            "profiles",
            "Persona department profiles",
            f"Share of each persona's units in each department ({source}).",
            Markup(charts.heatmap_chart(profiles.shares, "share of a persona's units")),
            "Rows sum to 100%.",
        ),
        Section(
            "diagnostics",
            "Diagnostics",
            "Whether the fit can be trusted: the same checks as the command line's warnings.",
            table=table_view(
                diagnostics, {"value": str, "threshold": str, "status": str}, "diagnostic"
            ),
            status=worst(diagnostics["status"]),
        ),
    ]


def _predictive_sections(run: FitRun) -> list[Section]:
    if "posterior_predictive" not in run.idata.groups():
        return [
            Section(
                "ppc",
                "Posterior predictive checks",
                "This fit has no posterior predictive draws: fit with --predictive N "
                "(or --report) to see them.",
                status="info",
            )
        ]
    n_draws = run.idata["posterior_predictive"].sizes["draw"]
    resolution = (
        f" With {n_draws} replicated data sets no statistic can be flagged (p >= "
        f"{2 / (n_draws + 1):.2f}); fit with --predictive 50 or more."
        if 2 / (n_draws + 1) >= 1 - fs.PPC_LEVEL
        else ""
    )
    departments = fs.ppc_department_shares(run.idata)
    stats = fs.ppc_statistics(run.idata)
    counts = fs.ppc_count_histogram(run.idata)
    return [
        Section(
            "ppc-departments",
            "Posterior predictive check: department shares",
            "Observed share of units per department (dots; red outside) against data "
            "sets replicated from the posterior (95% bars).",
            Markup(charts.ppc_department_chart(departments)),
            f"{(departments['status'] == 'warning').sum()} of {len(departments)} departments "
            "outside their interval.",
            status=worst(departments["status"]),
        ),
        Section(
            "ppc-purchases",
            "Posterior predictive check: purchases and order values",
            "Each statistic of the real customers against its replicated 95% interval; "
            "p is the two-sided predictive p-value." + resolution,
            Markup(charts.ppc_count_chart(counts)),
            "Share of customers by number of purchases.",
            table_view(
                stats,
                {
                    "observed": two_decimals,
                    "low": two_decimals,
                    "high": two_decimals,
                    "p_value": lambda x: f"{x:.2f}",
                    "status": str,
                },
                "statistic",
            ),
            worst(stats["status"]),
        ),
    ]


def fit_sections(run: FitRun, lookalike: pd.DataFrame | None) -> list[Section]:
    """Return the sections of a fit's report (look-alike scores when a sample is given)."""
    fitted = run.fitted
    colours = persona_colours(fitted.config)
    confidence = fs.membership_confidence(run.memberships, list(fitted.persona_names))
    sections = _fit_core(run) + _predictive_sections(run)
    sections.append(
        Section(
            "memberships",
            "Membership confidence",
            "Customers per most likely persona; the solid part has a membership "
            "probability above 0.9.",
            Markup(charts.membership_chart(confidence, colours)),
            f"The first {len(run.memberships):,} customers of memberships.csv.",
            table_view(
                confidence,
                {
                    "customers": lambda x: f"{int(x):,}",
                    "confident": percent,
                    "median_probability": lambda x: "" if np.isnan(x) else f"{x:.2f}",
                },
                "persona",
            ),
        )
    )
    if lookalike is not None:
        scores = fs.lookalike_scores(run.idata, lookalike)
        sections.append(
            Section(
                "lookalike",
                "Look-alike customers against the real ones",
                "Score 1 means the synthetic distribution equals the real one "
                "(1 - Kolmogorov-Smirnov statistic; for the department mix, 1 - total variation).",
                table=table_view(
                    scores,
                    {
                        "real_median": two_decimals,
                        "synthetic_median": two_decimals,
                        "score": two_decimals,
                    },
                    "measure",
                ),
            )
        )
    return sections
