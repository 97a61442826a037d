"""The page: what it holds, what it refuses, and the command line around it."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from personagen.cli import main
from personagen.errors import DataError, ParameterError
from personagen.report import render_report, write_report

#: Charts of each report, by their data-chart names.
SAMPLE_CHARTS = {"persona-shares", "department-values", "avg-order-value", "frequency-per-month",
                 "rfm"}  # fmt: skip
FIT_CHARTS = {"weights", "profiles", "ppc-departments", "ppc-purchases", "memberships"}


def charts(html: str) -> set[str]:
    return set(re.findall(r'<figure class="chart" data-chart="([^"]+)">\s*<svg', html))


def test_a_sample_report_has_every_chart_and_the_run_metadata(sample_dir):
    html = render_report(sample_dir)
    assert charts(html) == SAMPLE_CHARTS
    meta = json.loads((sample_dir / "metadata.json").read_text())
    assert f"<td>{meta['seed']}</td>" in html
    assert meta["config_hash"][:16] in html and meta["personagen_version"] in html
    assert "Top classes per persona" in html and "Segments per persona" in html


def test_a_report_loads_nothing_from_the_network(sample_dir, fit_dir):
    for html in (render_report(sample_dir), render_report(fit_dir)):
        assert "<script" not in html and "<link" not in html and "<img" not in html
        # the only URLs are XML namespaces of the inline SVG, which are not requests
        urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls


def test_a_fit_report_has_diagnostics_checks_and_lookalike_scores(fit_dir, sample_dir):
    html = render_report(fit_dir)
    assert charts(html) == FIT_CHARTS
    assert "Diagnostics" in html and "largest r_hat" in html
    assert "share of one-time buyers" in html
    assert "Look-alike" not in html
    with_lookalike = render_report(fit_dir, lookalike=sample_dir)
    assert "Look-alike customers against the real ones" in with_lookalike
    assert "department unit mix" in with_lookalike


def test_a_fit_without_predictive_draws_says_how_to_get_them(fit_dir, tmp_path):
    import arviz as az

    idata = az.from_netcdf(str(fit_dir / "posterior.nc"))
    del idata.posterior_predictive
    idata.to_netcdf(str(tmp_path / "posterior.nc"))
    shutil.copy(fit_dir / "memberships.csv", tmp_path)
    html = render_report(tmp_path)
    assert "fit with --predictive N" in html
    assert charts(html) == FIT_CHARTS - {"ppc-departments", "ppc-purchases"}


def test_the_report_is_written_once_unless_overwritten(sample_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(sample_dir, run)
    path = write_report(run)
    assert path == run / "report.html" and path.stat().st_size > 10_000
    with pytest.raises(ParameterError, match="overwrite"):
        write_report(run)
    assert write_report(run, overwrite=True) == path
    assert not list(run.glob("*.tmp*"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("nothing", "not a personagen output"),
        ("no-summary", "(?s)summary.json.*missing: the run is incomplete"),
        ("foreign-summary", "does not belong to this run"),
        ("bad-metadata", "not readable JSON"),
        ("metadata-keys", "(?s)seed.*missing key"),
    ],
)
def test_a_directory_that_is_not_a_complete_run_is_refused(sample_dir, tmp_path, damage, message):
    run = tmp_path / "run"
    shutil.copytree(sample_dir, run)
    meta = json.loads((run / "metadata.json").read_text())
    if damage == "nothing":
        for f in run.iterdir():
            f.unlink()
        (run / "notes.txt").write_text("hello")
    elif damage == "no-summary":
        (run / "summary.json").unlink()
    elif damage == "foreign-summary":
        digest = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**digest, "seed": digest["seed"] + 1}))
    elif damage == "bad-metadata":
        (run / "metadata.json").write_text("{not json")
    else:
        del meta["seed"]
        (run / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=message):
        render_report(run)


def test_a_fit_missing_its_memberships_is_refused(fit_dir, tmp_path):
    shutil.copy(fit_dir / "posterior.nc", tmp_path)
    with pytest.raises(DataError, match=r"(?s)memberships\.csv.*the fit is incomplete"):
        render_report(tmp_path)
    (tmp_path / "memberships.csv").write_text("customer_id,p_x\nC1,1.0\n")
    with pytest.raises(DataError, match=r"(?s)p_teenage_girl.*missing column"):
        render_report(tmp_path)


def test_the_cli_reports_exit_2_without_a_traceback(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a personagen output" in err and "Traceback" not in err
    assert main(["report", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_cli_lookalike_must_be_a_sample(fit_dir, capsys):
    assert main(["report", str(fit_dir), "--lookalike", str(fit_dir)]) == 2
    assert "expected a sample run" in capsys.readouterr().err


def test_sample_report_writes_the_page_with_the_tables(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["sample", "--n", "300", "--out", str(out), "--basic-only", "-q", "--report"]
    assert main(args) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert charts(html) == SAMPLE_CHARTS
    assert "Top classes per persona" not in html  # a basic-only run has no class totals
    # an existing report stops the run before it samples anything
    (out / "customer_sales_data_basic.parquet").unlink()
    assert main([*args[:-1], "--report"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert not (out / "customer_sales_data_basic.parquet").exists()
