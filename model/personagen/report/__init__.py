"""Reports: one self-contained HTML page per sample or fit run.

The last stage of the data flow beside the checks (``docs/architecture.md``): it
reads what a run wrote (a sample run's digest, a fit's ``posterior.nc`` and
memberships), summarises it in small tables (:mod:`._sample_summaries`,
:mod:`._fit_summaries`), draws each with matplotlib as inline SVG
(:mod:`._charts`) and renders the page with Jinja2 (``templates/``). Nothing
else imports it.
"""

from personagen.report._build import REPORT_FILE, render_report, write_report
from personagen.report._inputs import MAX_ROWS, FitRun, SampleRun, read_run

__all__ = [
    "MAX_ROWS",
    "REPORT_FILE",
    "FitRun",
    "SampleRun",
    "read_run",
    "render_report",
    "write_report",
]
