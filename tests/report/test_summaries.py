"""The numbers behind every chart, checked against the customer tables (not pixels)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from personagen.config import department_value_columns
from personagen.infer import open_posterior, read_posterior
from personagen.report import _fit_summaries as fs
from personagen.report import _sample_summaries as ss
from personagen.report import read_run
from personagen.sample import HISTOGRAM_EDGES, SampleRequest, sample_to_files

from tests.report.runs import N_FIT, N_SAMPLE, PREDICTIVE_DRAWS


def cents(x) -> np.ndarray:
    return np.round(np.asarray(x, np.float64) * 100).astype(np.int64)


@pytest.fixture(scope="module")
def enriched(sample_dir) -> pd.DataFrame:
    return pd.read_parquet(sample_dir / "customer_sales_data_enriched.parquet")


@pytest.fixture(scope="module")
def digest(sample_dir) -> dict:
    return json.loads((sample_dir / "summary.json").read_text())


def test_the_digest_counts_customers_by_persona_and_segment(digest, enriched):
    table = pd.crosstab(enriched["persona_type"], enriched["true_segment"])
    table = table.reindex(index=digest["personas"], columns=digest["segments"], fill_value=0)
    assert np.array_equal(np.asarray(digest["persona_segment"]), table.to_numpy())
    assert digest["customers"] == N_SAMPLE


def test_the_digest_sums_value_per_persona_to_the_cent(digest, enriched, config):
    dept = enriched[department_value_columns(config.hierarchy)]
    by_persona = (
        pd.DataFrame(cents(dept), index=enriched["persona_type"]).groupby(level=0).sum()
    ).reindex(digest["personas"], fill_value=0)
    assert np.array_equal(np.asarray(digest["department_cents"]), by_persona.to_numpy())
    classes = [c for c in enriched.columns if c.startswith("class_total_value_")]
    assert len(classes) == len(digest["classes"]) == config.hierarchy.n_classes
    by_class = (
        pd.DataFrame(cents(enriched[classes]), index=enriched["persona_type"])
        .groupby(level=0)
        .sum()
        .reindex(digest["personas"], fill_value=0)
    )
    assert np.array_equal(np.asarray(digest["class_cents"]), by_class.to_numpy())


def test_the_digest_histograms_bin_every_customer(digest, enriched):
    persona = enriched["persona_type"].map({p: i for i, p in enumerate(digest["personas"])})
    for name, edges in HISTOGRAM_EDGES.items():
        for p in range(len(digest["personas"])):
            x = enriched.loc[persona == p, name].to_numpy()
            expected, _ = np.histogram(np.clip(x, edges[0], edges[-1]), edges)
            assert np.array_equal(digest["histograms"][name][p], expected), name


def test_the_digest_is_the_same_whatever_the_chunk_size(tmp_path, config, digest):
    request = SampleRequest(out_dir=tmp_path, n_customers=N_SAMPLE, seed=4, chunk_size=N_SAMPLE)
    sample_to_files(config, request)
    again = json.loads((tmp_path / "summary.json").read_text())
    for key in ("persona_segment", "department_cents", "class_cents", "histograms", "outside"):
        assert again[key] == digest[key], key
    # float64 share sums: equal up to the order of addition
    assert np.allclose(again["department_share_sum"], digest["department_share_sum"], rtol=1e-12)


def test_persona_shares_and_their_configured_weights(sample_dir, enriched, config):
    run = read_run(sample_dir)
    shares = ss.persona_shares(run.digest, config, run.metadata)
    counts = enriched["persona_type"].value_counts().reindex(config.persona_names, fill_value=0)
    assert shares["customers"].tolist() == counts.tolist()
    assert shares["share"].sum() == pytest.approx(1.0)
    assert (shares["low"] <= shares["share"]).all() and (shares["share"] <= shares["high"]).all()
    weights = [s.weight for s in config.personas.personas.values()]
    assert shares["configured"].tolist() == weights
    exact = {**run.metadata, "persona_counts": {config.persona_names[0]: 30, "budget_shopper": 10}}
    asked = ss.persona_shares(run.digest, config, exact)["configured"]
    assert asked.iloc[0] == 0.75 and asked["budget_shopper"] == 0.25 and asked.sum() == 1.0


def test_department_value_shares_are_the_mean_customer_share(sample_dir, enriched, config):
    run = read_run(sample_dir)
    heat = ss.department_value_shares(run.digest)
    values = enriched[department_value_columns(config.hierarchy)].to_numpy()
    share = values / np.maximum(values.sum(1, keepdims=True), 1e-12)
    for name in config.persona_names:
        mine = (enriched["persona_type"] == name).to_numpy()
        # cents vs rounded dollars: shares agree to well within 1e-6
        assert np.allclose(heat.loc[name].to_numpy(), share[mine].mean(0), atol=1e-6)


def test_spending_ranges_count_customers_outside_exactly(sample_dir, enriched, config):
    run = read_run(sample_dir)
    ranges = ss.spending_ranges(run.digest, config)
    for name, spec in config.personas.personas.items():
        mine = enriched[enriched["persona_type"] == name]
        lo, hi = spec.spending_profile.avg_order_value
        aov = mine["avg_order_value"]
        row = ranges.loc[("avg_order_value", name)]
        assert row["outside"] == pytest.approx(((aov < lo) | (aov > hi)).mean())
        # quantiles from the histogram lie within one bin of the exact ones (log bins)
        step = np.log(HISTOGRAM_EDGES["avg_order_value"][1] / HISTOGRAM_EDGES["avg_order_value"][0])
        assert abs(np.log(row["q50"] / aov.median())) <= step + 1e-9
        regular = mine[mine["true_segment"] == "medium_value_regular"]
        assert ranges.loc[("frequency_per_month", name), "customers"] == len(regular)


def test_histogram_quantiles_are_within_one_bin():
    rng = np.random.default_rng(0)
    x = rng.lognormal(3.0, 1.0, size=20_000)
    edges = HISTOGRAM_EDGES["avg_order_value"]
    counts, _ = np.histogram(np.clip(x, edges[0], edges[-1]), edges)
    q = ss.histogram_quantiles(counts, edges, ss.QUANTILES)
    exact = np.quantile(x, ss.QUANTILES)
    assert np.all(np.abs(np.log(q / exact)) <= np.log(edges[1] / edges[0]))
    assert np.isnan(ss.histogram_quantiles(np.zeros(80), edges, [0.5])).all()


def test_top_classes_are_each_personas_largest(sample_dir, enriched, config):
    top = ss.top_classes(read_run(sample_dir).digest, k=3)
    classes = [c for c in enriched.columns if c.startswith("class_total_value_")]
    for name in config.persona_names:
        mine = enriched.loc[enriched["persona_type"] == name, classes].sum()
        rows = top[top["persona"] == name]
        assert rows["share"].is_monotonic_decreasing and len(rows) == 3
        assert rows["share"].iloc[0] == pytest.approx(mine.max() / mine.sum(), rel=1e-6)


def test_rfm_histograms_hold_every_customer(sample_dir):
    for table in ss.rfm_histograms(read_run(sample_dir).digest).values():
        assert table["customers"].sum() == N_SAMPLE
        assert (table["left"] < table["right"]).all()


def test_weight_intervals_are_the_draws_quantiles(fit_dir):
    fitted = read_posterior(fit_dir / "posterior.nc")
    w = fs.weight_intervals(fitted)
    draws = fitted.weights.reshape(-1, fitted.weights.shape[-1])
    assert np.allclose(w["mean"], draws.mean(0))
    assert np.allclose(w["q05"], np.quantile(draws, 0.05, axis=0))
    assert (w["q05"] <= w["mean"]).all() and (w["mean"] <= w["q95"]).all()
    assert not fs.department_profiles(fitted).learned  # a weights fit: the YAML profiles
    assert np.allclose(fs.department_profiles(fitted).shares.sum(axis=1), 1.0, atol=1e-5)


def test_the_diagnostics_flag_divergences(config):
    from tests.helpers import dominant_weights, fake_fit

    fitted = fake_fit(config, dominant_weights())
    assert "warning" not in fs.diagnostics_table(fitted).loc["divergent transitions"].tolist()
    stats = dict(fitted.diagnostics.sample_stats)
    stats["diverging"] = stats["diverging"].copy()
    stats["diverging"][0, :3] = True
    diverged = fs.diagnostics_table(
        type(fitted)(**{**fitted.__dict__, "diagnostics": type(fitted.diagnostics)(stats)})
    )
    assert diverged.loc["divergent transitions"].tolist() == ["3", "0", "warning"]


def test_predictive_checks_compare_data_with_replicates(fit_dir):
    idata = open_posterior(fit_dir / "posterior.nc")
    stats = fs.ppc_statistics(idata)
    observed = idata["observed_data"]["n_orders"].values
    assert stats.loc["mean purchases per customer", "observed"] == pytest.approx(observed.mean())
    assert ((stats["low"] <= stats["replicated_median"]) & (stats["p_value"] <= 1)).all()
    # the joint law of frequency and recency: Spearman's rank correlation of the data
    recency = idata["observed_data"]["recency_days"].values
    rho = spearmanr(observed, recency).statistic
    assert stats.loc["rank correlation of purchases and recency", "observed"] == pytest.approx(rho)
    assert stats.loc["median recency (days)", "observed"] == np.median(recency)
    counts = fs.ppc_count_histogram(idata)
    assert counts["observed"].sum() == pytest.approx(1.0)
    shares = fs.ppc_department_shares(idata)
    assert shares["observed"].sum() == pytest.approx(1.0)
    # replacing the data by one replicated data set puts it inside every interval's span
    replicated = idata["posterior_predictive"]["n_orders"].values[0, 0]
    idata["observed_data"]["n_orders"].values[:] = replicated * 10
    far = fs.ppc_statistics(idata)
    assert far.loc["mean purchases per customer", "status"] == "warning"
    assert far.loc["mean purchases per customer", "p_value"] == 2 / (PREDICTIVE_DRAWS + 1)
    assert idata["posterior_predictive"]["n_orders"].shape[1] == PREDICTIVE_DRAWS


def test_membership_confidence_counts_every_customer(fit_dir):
    run = read_run(fit_dir)
    table = fs.membership_confidence(run.memberships, list(run.fitted.persona_names))
    assert table["customers"].sum() == N_FIT
    assert ((table["confident"] >= 0) & (table["confident"] <= 1) | table["confident"].isna()).all()


def test_lookalike_scores_are_one_for_the_same_customers(fit_dir):
    idata = open_posterior(fit_dir / "posterior.nc")
    obs = idata["observed_data"]
    same = pd.DataFrame(
        {
            "total_purchases": obs["n_orders"].values,
            "total_revenue": obs["revenue"].values,
            "recency_days": obs["recency_days"].values,
            "customer_lifetime_months": obs["lifetime_months"].values,
            "return_rate": obs["return_rate"].values,
        }
    )
    units = obs["department_units"].values
    for j in range(units.shape[1]):
        same[f"dept_total_units_{j}"] = units[:, j]
    scores = fs.lookalike_scores(idata, same)
    assert np.allclose(scores["score"], 1.0)
    shifted = same.assign(total_revenue=same["total_revenue"] * 3)
    assert fs.lookalike_scores(idata, shifted).loc["total_revenue", "score"] < 0.9


def test_a_profiles_fit_by_svi_shows_its_learned_profiles_and_loss(config):
    from personagen.infer import Diagnostics, fitted_model

    rng = np.random.default_rng(1)
    p, d = len(config.persona_names), config.hierarchy.n_departments
    profile = rng.dirichlet(np.ones(d), size=(1, 40, p))
    draws = {
        "persona_weights": rng.dirichlet(np.ones(p), size=(1, 40)),
        "department_profile": profile,
    }
    settled = Diagnostics(sample_stats={}, svi_loss_change=0.0, svi_loss_se=0.001)
    fitted = fitted_model(config, draws, mode="profiles", method="svi", diagnostics=settled)
    summary = fs.department_profiles(fitted)
    assert summary.learned
    assert np.allclose(summary.shares.to_numpy(), profile[0].mean(0))
    table = fs.diagnostics_table(fitted)
    assert table["status"].tolist() == ["pass"] and "SVI" in table.index[0]
    moving = Diagnostics(sample_stats={}, svi_loss_change=5.0, svi_loss_se=0.001)
    unsettled = fitted_model(config, draws, mode="profiles", method="svi", diagnostics=moving)
    assert fs.diagnostics_table(unsettled)["status"].tolist() == ["warning"]


#: Calibration of the predictive p-value: trials, replicated draws per trial, and the
#: tolerance on the false-alarm rate, 4 binomial standard errors at the nominal 5%.
P_TRIALS = 4_000
P_DRAWS = 99
P_TOLERANCE = 4 * np.sqrt(0.05 * 0.95 / P_TRIALS)


def test_the_predictive_p_value_flags_a_calibrated_model_at_most_5_percent():
    rng = np.random.default_rng(3)
    draws = rng.normal(size=(P_TRIALS, P_DRAWS + 1))  # observed and replicated exchangeable
    p = np.array([fs.predictive_p_value(d[0], d[1:]) for d in draws])
    # exact rate: p = 2 (k + 1) / 100 < 0.05 for k + 1 <= 2 on either side, so the
    # observed is one of the 2 largest or 2 smallest of 100 exchangeable values: 4 / 100
    expected = 2 * np.floor(0.05 * (P_DRAWS + 1) / 2) / (P_DRAWS + 1)
    assert expected == 0.04 and abs((p < 0.05).mean() - expected) <= P_TOLERANCE
    assert fs.predictive_p_value(10.0, rng.normal(size=P_DRAWS)) == 2 / (P_DRAWS + 1)
    assert fs.predictive_p_value(0.0, np.zeros(5)) == 1.0
