"""The personagen command, run in-process."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pytest

from personagen.cli import main
from personagen.config import format_hierarchy_text, load_hierarchy

from tests.helpers import (
    DATA,
    LEGACY_HIERARCHY,
    LEGACY_PRIORS,
    ROOT,
    dominant_weights,
    edit,
    fake_fit,
    write_posterior,
)


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
    assert "--overwrite: " in capsys.readouterr().err
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
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "300 customers"
    # the printed persona counts are those of the file, and add up to the run
    import pandas as pd

    enriched = pd.read_csv(out / "customer_sales_data_enriched.csv")
    start = printed.index("persona shares:") + 1
    shown = {
        line.split()[0]: int(line.split()[1].replace(",", "")) for line in printed[start:][:10]
    }
    assert shown == enriched["persona_type"].value_counts().reindex(list(shown)).to_dict()
    assert sum(shown.values()) == 300
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "customer_sales_data_basic.csv",
        "customer_sales_data_enriched.csv",
        "data_dictionary.csv",
        "metadata.json",
        "summary.json",
    ]
    text = (out / "customer_sales_data_enriched.csv").read_text()
    assert "Ireland" in text


def test_the_progress_bar_says_it_is_compiling_first(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sample", "--n", "40", "--out", str(out), "--basic-only"]) == 0
    err = capsys.readouterr().err
    # tqdm redraws the bar: the first state names the compilation, the last the sampling
    assert err.index("compiling") < err.rindex("sampling: 100%")


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
    assert "--overwrite: " in capsys.readouterr().err
    assert main([*args, "--overwrite", "--seed", "9"]) == 0
    assert (tmp_path / "customer_sales_data_basic.parquet").read_bytes() != before


def test_sample_bad_persona_count_exits_2(tmp_path, capsys):
    code = main(["sample", "--personas", "teenage_gril=5", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--personas: 'teenage_gril': unknown persona; did you mean 'teenage_girl'?" in err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def customers(tmp_path_factory):
    """400 basic customers sampled by the CLI."""
    data = tmp_path_factory.mktemp("customers")
    args = ["sample", "--n", "400", "--out", str(data), "--basic-only", "--quiet"]
    assert main([*args, "--chunk-size", "512"]) == 0
    return data / "customer_sales_data_basic.parquet"


@pytest.fixture(scope="module")
def fake_posterior(tmp_path_factory, customers):
    """A posterior.nc of a fake weights-mode fit (no NUTS run), and the fit itself."""
    from personagen import load_config

    fitted = fake_fit(load_config(), dominant_weights())  # teenage_girl dominates, 0.5
    path = tmp_path_factory.mktemp("posterior") / "posterior.nc"
    obs = write_posterior(fitted, customers, path)
    return path, fitted, obs


def test_fit_writes_the_posterior_files(tmp_path, capsys, customers):
    import arviz as az
    import pandas as pd

    fit_dir = tmp_path / "fit"
    # short chains: this tests the command's files, not the posterior (tests/infer does)
    args = ["fit", str(customers), "--out", str(fit_dir), "--quiet", "--seed", "3"]
    short = ["--num-warmup", "50", "--num-samples", "50", "--predictive", "2", "--report"]
    assert main([*args, *short]) == 0
    out = capsys.readouterr().out
    assert "400 customers, mode weights, method nuts" in out
    idata = az.from_netcdf(str(fit_dir / "posterior.nc"))
    assert idata.attrs["seed"] == 3 and idata.attrs["mode"] == "weights"
    assert json.loads(idata.attrs["key_data"]) == [0, 3]
    assert "teenage_girl" in idata.attrs["config"]
    assert idata.log_likelihood["customer_log_lik"].shape == (2, 50, 400)
    for group in (idata.prior_predictive, idata.posterior_predictive):
        assert group["n_orders"].shape == (1, 2, 400)
        assert group["department_units"].shape == (1, 2, 400, 21)
    summary = pd.read_csv(fit_dir / "summary.csv")
    assert {"mean", "sd", "hdi_5%", "hdi_95%", "r_hat", "ess_bulk"} <= set(summary.columns)
    means = idata.posterior["persona_weights"].values.mean((0, 1))
    assert np.allclose(summary["mean"].to_numpy()[:10], means, atol=5e-4)  # csv rounds to 3 dp
    members = pd.read_csv(fit_dir / "memberships.csv")
    assert len(members) == 400 and members["customer_id"].is_unique
    assert np.allclose(members.filter(like="p_").sum(axis=1), 1.0, atol=1e-5)
    # the printed weights are the posterior means
    girl = next(line for line in out.splitlines() if line.strip().startswith("teenage_girl"))
    assert float(girl.split()[1]) == pytest.approx(means[0], abs=5e-4)
    # --report: the page of this fit, with its predictive checks
    assert f"report: {fit_dir / 'report.html'}" in out
    assert 'data-chart="ppc-purchases"' in (fit_dir / "report.html").read_text()


def test_assign_equals_the_fits_memberships(tmp_path, fake_posterior, customers):
    import pandas as pd

    from personagen.infer import assign_personas

    path, fitted, obs = fake_posterior
    out = tmp_path / "assigned.csv"
    assert main(["assign", str(customers), "--posterior", str(path), "--out", str(out)]) == 0
    got = pd.read_csv(out)
    ids = [f"C{i:010d}" for i in range(400)]
    want = assign_personas(fitted, obs, ids)
    assert list(got.columns) == list(want.columns)
    assert (got["customer_id"] == want["customer_id"]).all()
    assert (got["most_likely_persona"] == want["most_likely_persona"]).all()
    # float32 probabilities written as text and read back: equal to the last bit
    p = [c for c in want.columns if c.startswith(("p_", "q05_", "q95_"))]
    assert np.array_equal(got[p].to_numpy(np.float32), want[p].to_numpy(np.float32))
    low, high = (got.filter(like=q).to_numpy() for q in ("q05_", "q95_"))
    assert (low <= high).all() and (high <= 1.0).all()


def test_assign_refuses_another_configuration(tmp_path, capsys, fake_posterior, customers):
    path, _, _ = fake_posterior
    legacy = [
        "--priors",
        str(ROOT / "priors/legacy.yml"),
        "--hierarchy",
        str(ROOT / "priors/legacy_hierarchy.yml"),
    ]
    args = ["assign", str(customers), "--posterior", str(path), "--out", str(tmp_path / "a.csv")]
    assert main([*args, *legacy]) == 2
    err = capsys.readouterr().err
    assert "fitted with another configuration" in err and "Traceback" not in err
    assert not (tmp_path / "a.csv").exists()


def test_sample_from_a_posterior(tmp_path, capsys, fake_posterior):
    path, fitted, _ = fake_posterior
    out = tmp_path / "out"
    args = ["sample", "--n", "2000", "--out", str(out), "--posterior", str(path), "--quiet"]
    assert main([*args, "--chunk-size", "1024", "--basic-only"]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    weights = fitted.posterior_means()["persona_weights"]
    assert meta["population_values"]["persona_weights"] == pytest.approx(weights.tolist())
    assert meta["rows"] == 2000
    # the printed persona shares follow the posterior mean weights: teenage_girl ~0.5,
    # within 4 binomial standard errors of 2,000 customers
    line = next(x for x in capsys.readouterr().out.splitlines() if "teenage_girl" in x)
    share = float(line.split()[-1].rstrip("%")) / 100
    assert abs(share - weights[0]) < 4 * np.sqrt(weights[0] * (1 - weights[0]) / 2000)


def test_look_alike_transactions_from_a_posterior(tmp_path, fake_posterior):
    """sample --posterior --transactions: the fit's lines roll up to its basic table."""
    import pandas as pd

    from personagen import load_config
    from personagen.data import TransactionColumns, transactions_to_customers

    path, _, _ = fake_posterior
    out = tmp_path / "out"
    args = ["sample", "--n", "500", "--out", str(out), "--posterior", str(path), "--quiet"]
    assert main([*args, "--basic-only", "--transactions", "--as-of", "2025-06-30"]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["transactions"] and meta["population"].endswith(f"of {path}")
    lines = pd.read_parquet(out / "transactions.parquet")
    basic = pd.read_parquet(out / "customer_sales_data_basic.parquet")
    as_of = dt.date.fromisoformat(meta["as_of"])
    rolled = transactions_to_customers(
        lines, load_config().hierarchy, columns=TransactionColumns(date="timestamp"), as_of=as_of
    )
    assert as_of == dt.date(2025, 6, 30)
    assert lines["timestamp"].dt.normalize().max() <= pd.Timestamp(as_of)
    assert list(rolled["customer_id"]) == list(basic["customer_id"])
    for column in rolled.columns:
        assert np.array_equal(rolled[column].to_numpy(), basic[column].to_numpy()), column


def test_learn_mode_needs_k_and_round_trips_a_posterior(tmp_path, capsys, customers):
    """fit --mode learn without K is refused; sample and assign read a learn posterior."""
    from personagen import load_config
    from personagen.infer import exchangeable_config, fitted_model

    legacy = ["--hierarchy", str(LEGACY_HIERARCHY)]
    template_args = [*legacy, "--priors", str(DATA / "learn_template.yml")]
    fit = ["fit", str(customers), "--out", str(tmp_path / "fit"), "--quiet", "--mode", "learn"]
    assert main([*fit, *template_args]) == 2
    assert "--n-personas: required in learn mode" in capsys.readouterr().err
    template = load_config(priors=DATA / "learn_template.yml", hierarchy=LEGACY_HIERARCHY)
    expanded = exchangeable_config(template, 2)
    base = fake_fit(expanded, np.array([0.7, 0.3]))
    learn = fitted_model(
        expanded, base.draws, mode="learn", method="nuts", diagnostics=base.diagnostics
    )
    legacy_data = tmp_path / "legacy"
    sample = ["sample", "--n", "300", "--out", str(legacy_data), "--basic-only", "--quiet"]
    assert main([*sample, *legacy, "--priors", str(LEGACY_PRIORS)]) == 0
    customers = legacy_data / "customer_sales_data_basic.parquet"
    posterior = tmp_path / "posterior.nc"
    write_posterior(learn, customers, posterior)
    look = ["sample", "--n", "200", "--out", str(tmp_path / "look"), "--posterior", str(posterior)]
    assert main([*look, "--quiet", "--basic-only", *template_args]) == 0
    assert "persona_2" in capsys.readouterr().out
    assign = ["assign", str(customers), "--posterior", str(posterior), "--out"]
    assert main([*assign, str(tmp_path / "x.csv"), *legacy, "--priors", str(LEGACY_PRIORS)]) == 2
    assert "pass its one-persona template" in capsys.readouterr().err
    assert main([*assign, str(tmp_path / "a.csv"), *template_args]) == 0
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == (
        "customer_id,p_persona_1,p_persona_2,most_likely_persona,"
        "q05_persona_1,q05_persona_2,q95_persona_1,q95_persona_2"
    )


def test_deprecated_personas_flag_of_fit_still_works(capsys):
    from personagen.cli import build_parser

    args = build_parser().parse_args(["fit", "x.csv", "--out", "o", "--personas", "3"])
    assert args.n_personas == 3
    assert "--personas K is deprecated" in capsys.readouterr().err
    assert build_parser().parse_args(["fit", "x.csv", "--out", "o", "-k", "4"]).n_personas == 4


def test_library_errors_name_parameters_and_the_cli_prints_flags(capsys):
    from personagen import ParameterError, load_config
    from personagen.infer import fit_customers

    with pytest.raises(ParameterError, match=r"mode: unknown mode 'lern'.*did you mean 'learn'"):
        fit_customers(load_config(), None, mode="lern", key=None)  # type: ignore[arg-type]
    code = main(["fit", "x.csv", "--out", "o", "--mode", "learn", "--n-personas", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "x.csv" in err and "Traceback" not in err  # the missing file is reported first


def test_fit_refuses_existing_outputs_before_fitting(tmp_path, capsys, customers, monkeypatch):
    import personagen.infer

    def no_fit(*args, **kwargs):
        raise AssertionError("the fit ran although its outputs could not be written")

    monkeypatch.setattr(personagen.infer, "fit_customers", no_fit)
    (tmp_path / "memberships.csv").write_text("keep me")
    assert main(["fit", str(customers), "--out", str(tmp_path), "-q"]) == 2
    assert "--overwrite: " in capsys.readouterr().err
    assert (tmp_path / "memberships.csv").read_text() == "keep me"


def test_an_output_directory_that_is_a_file_is_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["sample", "--n", "5", "--out", str(blocker / "sub"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "--out: cannot write" in err and "Traceback" not in err
