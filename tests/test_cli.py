"""The personagen command, run in-process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from personagen.cli import main
from personagen.config import load_hierarchy
from personagen.hierarchy import format_hierarchy_text

from conftest import ROOT, edit


def test_validate_shipped_files(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "10 personas:" in out
    assert "21 departments, 394 classes" in out
    assert "teenage_girl" in out and "weight 0.10" in out
    assert "configuration OK" in out


def test_validate_broken_copy_exits_2_without_traceback(shipped, capsys):
    edit(shipped["priors"], "Ladies Clothing: 0.35", "Ladies Clothin: 0.35")
    code = main(
        [
            "validate",
            "--priors",
            str(shipped["priors"]),
            "--hierarchy",
            str(shipped["hierarchy"]),
            "--segments",
            str(shipped["segments"]),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "did you mean 'Ladies Clothing'?" in err
    assert "Traceback" not in err


def test_module_entry_point_exits_2_on_missing_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "personagen", "validate", "--priors", str(tmp_path / "x.yml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert "x.yml:\n  file does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_hierarchy_parse_round_trip_and_no_overwrite(tmp_path, capsys):
    export = tmp_path / "export.txt"
    export.write_text(format_hierarchy_text(load_hierarchy(ROOT / "hierarchy_parsed.yml")))
    out = tmp_path / "h.yml"
    assert main(["hierarchy", "parse", str(export), "-o", str(out)]) == 0
    assert out.read_text() == (ROOT / "hierarchy_parsed.yml").read_text()
    assert "21 departments, 394 classes" in capsys.readouterr().out
    out.write_text("keep me")
    assert main(["hierarchy", "parse", str(export), "-o", str(out)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "keep me"
    assert main(["hierarchy", "parse", str(export), "-o", str(out), "--overwrite"]) == 0
    assert out.read_text().startswith("# Product hierarchy")
    assert not list(tmp_path.glob(".*.tmp"))


def test_hierarchy_parse_bad_line(tmp_path, capsys):
    export = tmp_path / "export.txt"
    export.write_text("Home | Candles\nbroken\n")
    assert main(["hierarchy", "parse", str(export), "-o", str(tmp_path / "h.yml")]) == 2
    assert "line 2:" in capsys.readouterr().err
    assert not (tmp_path / "h.yml").exists()


def test_sample_command_writes_files_and_summary(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "sample",
            "--n",
            "300",
            "--out",
            str(out),
            "--format",
            "csv",
            "--seed",
            "4",
            "--chunk-size",
            "256",
            "--quiet",
            "--locale",
            "en_IE",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "300 customers" in printed and "persona shares:" in printed
    assert "top departments by value:" in printed and "RFM statistics" in printed
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "customer_sales_data_basic.csv",
        "customer_sales_data_enriched.csv",
        "data_dictionary.csv",
        "metadata.json",
    ]
    text = (out / "customer_sales_data_enriched.csv").read_text()
    assert "Ireland" in text


def test_sample_refuses_to_overwrite_then_overwrites(tmp_path, capsys):
    args = [
        "sample",
        "--n",
        "50",
        "--out",
        str(tmp_path),
        "--basic-only",
        "--quiet",
        "--chunk-size",
        "256",
    ]
    assert main(args) == 0
    before = (tmp_path / "customer_sales_data_basic.parquet").read_bytes()
    assert main(args) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--seed", "9"]) == 0
    assert (tmp_path / "customer_sales_data_basic.parquet").read_bytes() != before


def test_sample_bad_persona_count_exits_2(tmp_path, capsys):
    code = main(["sample", "--personas", "teenage_gril=5", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown persona; did you mean 'teenage_girl'?" in err
    assert "Traceback" not in err


def test_fit_and_assign(tmp_path, capsys):
    data = tmp_path / "data"
    assert (
        main(
            [
                "sample",
                "--n",
                "400",
                "--out",
                str(data),
                "--basic-only",
                "--quiet",
                "--chunk-size",
                "512",
            ]
        )
        == 0
    )
    table = data / "customer_sales_data_basic.parquet"
    fit_dir = tmp_path / "fit"
    assert (
        main(
            [
                "fit",
                str(table),
                "--out",
                str(fit_dir),
                "--quiet",
                "--num-warmup",
                "200",
                "--num-samples",
                "200",
                "--seed",
                "3",
                "--predictive",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "persona weights (mean, 90% interval)" in out
    import arviz as az
    import pandas as pd

    idata = az.from_netcdf(str(fit_dir / "posterior.nc"))
    assert idata.attrs["seed"] == 3 and idata.attrs["mode"] == "weights"
    assert "teenage_girl" in idata.attrs["config"]
    assert idata.log_likelihood["customer_log_lik"].shape == (2, 200, 400)
    for group in (idata.prior_predictive, idata.posterior_predictive):
        assert group["n_orders"].shape == (1, 2, 400)
        assert group["department_units"].shape == (1, 2, 400, 21)
    summary = pd.read_csv(fit_dir / "summary.csv")
    assert {"mean", "sd", "hdi_5%", "hdi_95%", "r_hat", "ess_bulk"} <= set(summary.columns)
    members = pd.read_csv(fit_dir / "memberships.csv")
    assert len(members) == 400 and members["customer_id"].is_unique
    assigned = tmp_path / "assigned.csv"
    assign = [
        "assign",
        str(table),
        "--posterior",
        str(fit_dir / "posterior.nc"),
        "--out",
        str(assigned),
    ]
    assert main(assign) == 0
    again = pd.read_csv(assigned)
    assert list(again.columns) == list(members.columns)
    legacy = [
        "--priors",
        str(ROOT / "priors/legacy.yml"),
        "--hierarchy",
        str(ROOT / "priors/legacy_hierarchy.yml"),
    ]
    assert main([*assign, *legacy]) == 2
    assert "fitted with another configuration" in capsys.readouterr().err


def test_sample_from_a_posterior(tmp_path, capsys):
    import json

    import arviz as az
    import numpy as np

    from personagen import load_config

    config = load_config()
    weights = np.full((1, 4, 10), 0.02)
    weights[..., 0] = 0.82  # teenage_girl dominates the fitted population
    idata = az.from_dict(posterior={"persona_weights": weights})
    idata.attrs["config_hash"] = config.config_hash()
    post = tmp_path / "posterior.nc"
    idata.to_netcdf(str(post))
    out = tmp_path / "out"
    assert (
        main(
            [
                "sample",
                "--n",
                "500",
                "--out",
                str(out),
                "--posterior",
                str(post),
                "--quiet",
                "--chunk-size",
                "512",
                "--basic-only",
            ]
        )
        == 0
    )
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["population_values"]["persona_weights"][0] == pytest.approx(0.82)
    assert "teenage_girl" in capsys.readouterr().out
    counts = meta["rows"]
    assert counts == 500


def test_learn_mode_round_trip(tmp_path, capsys):
    """fit --mode learn, then sample and assign from its posterior with the template."""
    from conftest import DATA

    legacy = [
        "--hierarchy",
        str(ROOT / "priors" / "legacy_hierarchy.yml"),
        "--priors",
    ]
    data = tmp_path / "data"
    sample = ["sample", "--n", "300", "--out", str(data), "--basic-only", "--quiet"]
    assert main([*sample, *legacy, str(ROOT / "priors" / "legacy.yml")]) == 0
    table = str(data / "customer_sales_data_basic.parquet")
    template = [*legacy, str(DATA / "learn_template.yml")]
    fit = ["fit", table, "--out", str(tmp_path / "fit"), "--quiet", "--mode", "learn"]
    assert main([*fit, *template]) == 2  # K missing
    assert "learn mode needs --personas K" in capsys.readouterr().err
    short = ["--num-warmup", "50", "--num-samples", "50", "--personas", "2"]
    assert main([*fit, *short, *template]) == 0
    out = capsys.readouterr().out
    assert "persona_1" in out and "label switching fixed in" in out
    posterior = str(tmp_path / "fit" / "posterior.nc")
    look = ["sample", "--n", "200", "--out", str(tmp_path / "look"), "--posterior", posterior]
    assert main([*look, "--quiet", "--basic-only", *template]) == 0
    assert "persona_2" in capsys.readouterr().out
    assign = ["assign", table, "--posterior", posterior, "--out", str(tmp_path / "a.csv")]
    assert main([*assign, *legacy, str(ROOT / "priors" / "legacy.yml")]) == 2
    assert "pass its one-persona template" in capsys.readouterr().err
    assert main([*assign, *template]) == 0
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == "customer_id,p_persona_1,p_persona_2,most_likely_persona"
