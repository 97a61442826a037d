"""Forward sampling and the written data sets: invariants, statistics, reproducibility."""

from __future__ import annotations

import datetime as dt
import json
from importlib.metadata import version

import jax
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from personagen import ParameterError, load_config
from personagen.config import build_prior_arrays, build_structure
from personagen.sample import SampleRequest, iter_customer_chunks, run_keys, sample_to_files
from personagen.sample._identities import _locale_data
from personagen.story import draw_population, mean_population

AS_OF = dt.date(2026, 1, 1)
# Statistical tests use N_STAT customers; every tolerance is 4 standard errors
# (two-sided false-alarm rate about 6e-5 per comparison).
N_STAT = 10_000
SE_TOLERANCE = 4.0


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def run(config, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    request = SampleRequest(out_dir=out, n_customers=N_STAT, seed=11, chunk_size=4096, as_of=AS_OF)
    summary = sample_to_files(config, request)
    basic = pd.read_parquet(out / "customer_sales_data_basic.parquet")
    enriched = pd.read_parquet(out / "customer_sales_data_enriched.parquet")
    return out, summary, basic, enriched


def cents(x):
    return np.round(np.asarray(x, dtype=np.float64) * 100).astype(np.int64)


def cols(df, prefix):
    return [c for c in df.columns if c.startswith(prefix)]


def test_table_shapes_and_files(run, config):
    out, _, basic, enriched = run
    assert basic.shape == (N_STAT, 52)
    assert enriched.shape == (N_STAT, 52 + 3 + 9 + 2 * 394 + 7)
    assert len(set(enriched.columns)) == enriched.shape[1]
    dictionary = pd.read_csv(out / "data_dictionary.csv")
    assert list(dictionary["column"]) == list(enriched.columns)
    assert set(dictionary.columns) == {"column", "meaning", "unit", "dtype", "table"}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 11 and meta["rows"] == N_STAT
    assert meta["config_hash"] == config.config_hash()
    assert meta["personagen_version"] == version("personagen")
    # The data depend on the jax version and on the backend (CPU and GPU round some
    # transcendental functions differently, docs/sampling.md): both are recorded.
    assert meta["jax_version"] == version("jax")
    assert meta["jax_backend"] == jax.default_backend()


def test_basic_is_enriched_restricted(run):
    _, _, basic, enriched = run
    pd.testing.assert_frame_equal(basic, enriched[basic.columns])


def test_exact_invariants(run, config):
    _, _, basic, enriched = run
    h = config.hierarchy
    total = cents(basic["total_revenue"])
    dept_value = cents(basic[cols(basic, "dept_total_value_")])
    dept_units = basic[cols(basic, "dept_total_units_")].to_numpy()
    assert np.array_equal(dept_value.sum(1), total)
    class_value = cents(enriched[cols(enriched, "class_total_value_")])
    class_units = enriched[cols(enriched, "class_total_units_")].to_numpy()
    for d in range(h.n_departments):
        lo, hi = h.department_offsets[d], h.department_offsets[d + 1]
        assert np.array_equal(class_value[:, lo:hi].sum(1), dept_value[:, d])
        assert np.array_equal(class_units[:, lo:hi].sum(1), dept_units[:, d])
    # nothing bought, nothing spent (the price split gives shares only where units are)
    assert np.all(dept_value[dept_units == 0] == 0)
    assert np.all(class_value[class_units == 0] == 0)
    n = basic["total_purchases"].to_numpy()
    assert np.all(n >= 1) and np.all(dept_units.sum(1) >= n)
    assert np.all(np.abs(cents(basic["avg_order_value"]) - total / n) <= 0.5)
    kids = [h.department_index[d] for d in config.personas.population.kids_departments]
    adult = [h.department_index[d] for d in config.personas.population.adult_apparel_departments]
    assert np.array_equal(
        enriched[["count_Baby", "count_Child"]].sum(axis=1), dept_units[:, kids].sum(1)
    )
    sizes = enriched[[f"count_size_{s}" for s in ("XS", "S", "M", "L", "XL")]].sum(axis=1)
    assert np.array_equal(sizes, dept_units[:, adult].sum(1))
    lifetime_days = np.round(basic["customer_lifetime_months"] * 30.4375)
    assert np.all(basic["recency_days"] >= 0)
    assert np.all(basic["recency_days"] <= lifetime_days)
    signup = pd.to_datetime(basic["signup_date"])
    days = (pd.Timestamp(AS_OF) - signup).dt.days
    # the purchase process: a one-order customer's last order is its first
    one = n == 1
    assert one.any() and np.array_equal(basic["recency_days"][one], days[one])
    # frequency is the orders over the lifetime (4 decimals written)
    months = days / 30.4375
    assert np.allclose(basic["frequency_per_month"], n / months, atol=5e-5 + 1e-9)
    labels = set(config.segments.labels)
    assert set(basic["true_segment"]) <= labels and "churned_inactive" in set(basic["true_segment"])
    # lifetime months are written with 2 decimals: at most 0.005 months (0.15 days) off
    assert np.all(
        np.abs(days - basic["customer_lifetime_months"] * 30.4375) <= 0.005 * 30.4375 + 1e-9
    )
    assert np.all((basic["return_rate"] >= 0) & (basic["return_rate"] <= 1))


def test_persona_shares_within_four_standard_errors(run, config):
    _, _, _, enriched = run
    for name, spec in config.personas.personas.items():
        w = spec.weight
        share = (enriched["persona_type"] == name).mean()
        assert abs(share - w) < SE_TOLERANCE * np.sqrt(w * (1 - w) / N_STAT), name


def test_department_shares_per_persona_match_priors(run, config):
    _, _, basic, enriched = run
    priors = build_prior_arrays(config)
    units = basic[cols(basic, "dept_total_units_")].to_numpy()
    shares = units / units.sum(1, keepdims=True)
    for p, name in enumerate(config.persona_names):
        rows = shares[enriched["persona_type"].to_numpy() == name]
        se = rows.std(0, ddof=1) / np.sqrt(len(rows)) + 1e-6
        assert np.all(np.abs(rows.mean(0) - priors.department_probs[p]) < SE_TOLERANCE * se), name


def test_value_shares_follow_units_times_prices(run, config):
    """Given its units, a customer's department value shares average units x price levels."""
    _, _, basic, enriched = run
    priors = build_prior_arrays(config)
    units = basic[cols(basic, "dept_total_units_")].to_numpy().astype(np.float64)
    value = basic[cols(basic, "dept_total_value_")].to_numpy()
    shares = value / value.sum(1, keepdims=True)
    persona = pd.Categorical(enriched["persona_type"], categories=config.persona_names).codes
    price = np.exp(priors.department_log_price[None, :] + priors.persona_log_price[persona])
    expected = units * price / (units * price).sum(1, keepdims=True)  # the Dirichlet's mean
    diff = shares - expected
    se = diff.std(0, ddof=1) / np.sqrt(len(diff)) + 1e-4  # 1e-4: cent rounding of shares
    assert np.all(np.abs(diff.mean(0)) < SE_TOLERANCE * se)
    # and the prices matter: Ladies Clothing (11) takes more of the value than of the units
    d = config.hierarchy.department_index["Ladies Clothing"]
    h = config.hierarchy.department_index["Ladies Hosiery"]
    unit_shares = units / units.sum(1, keepdims=True)
    assert shares[:, d].mean() > 1.2 * unit_shares[:, d].mean()
    assert shares[:, h].mean() < 0.8 * unit_shares[:, h].mean()


def test_order_values_follow_the_lognormal_ranges(run, config):
    _, _, basic, enriched = run
    priors = build_prior_arrays(config)
    n = basic["total_purchases"].to_numpy()
    log_aov = np.log(basic["total_revenue"].to_numpy() / n)
    for p, name in enumerate(config.persona_names):
        mask = enriched["persona_type"].to_numpy() == name
        s_o = priors.log_order_value_sd_order[p]
        b2 = np.log1p(np.expm1(s_o**2) / n[mask])
        expected = priors.log_order_value_loc[p] + s_o**2 / 2 - b2.mean() / 2
        se = log_aov[mask].std(ddof=1) / np.sqrt(mask.sum())
        assert abs(log_aov[mask].mean() - expected) < SE_TOLERANCE * se, name
        sd_expected = np.sqrt(priors.log_order_value_sd_customer[p] ** 2 + b2.mean())
        # 10%: the sample sd of ~1,000 customers has a 2-3% standard error, and the
        # Fenton-Wilkinson variance of a sum of lognormals is itself approximate
        assert log_aov[mask].std() == pytest.approx(sd_expected, rel=0.1), name


def test_class_preference_share_is_visible(run, config):
    _, _, _, enriched = run
    h = config.hierarchy
    spec = config.personas.personas["teenage_girl"]
    preferred = spec.class_preferences["Ladies Clothing"]
    mask = enriched["persona_type"].to_numpy() == "teenage_girl"
    units = enriched.loc[mask, cols(enriched, "class_total_units_")].to_numpy()
    lo, hi = (
        h.department_offsets[h.department_index["Ladies Clothing"]],
        h.department_offsets[h.department_index["Ladies Clothing"] + 1],
    )
    idx = [h.flat_index("Ladies Clothing", c) for c in preferred]
    dept_total = units[:, lo:hi].sum(1)
    keep = dept_total > 0
    share = units[keep][:, idx].sum(1) / dept_total[keep]
    expected = 0.8 + 0.2 * len(idx) / (hi - lo)
    se = share.std(ddof=1) / np.sqrt(keep.sum())
    assert abs(share.mean() - expected) < SE_TOLERANCE * se


def test_profiles_are_consistent(run, config):
    _, _, _, e = run
    assert e["email"].is_unique
    data = _locale_data("en_US")
    female = set(data.first_female.to_pylist())
    male = set(data.first_male.to_pylist())
    assert e.loc[e["gender"] == "female", "first_name"].isin(female).all()
    assert e.loc[e["gender"] == "male", "first_name"].isin(male).all()
    for name, spec in config.personas.personas.items():
        ages = e.loc[e["persona_type"] == name, "age"]
        lo, hi = spec.demographics.age_range
        assert ages.between(lo, hi).all(), name
    ranges = dict(
        zip(data.regions.to_pylist(), zip(data.zip_lo, data.zip_hi, strict=True), strict=True)
    )
    zips = e["zip_code"].astype(int)
    lo = e["state"].map(lambda s: ranges[s][0])
    hi = e["state"].map(lambda s: ranges[s][1])
    assert ((zips >= lo) & (zips <= hi)).all()
    assert (e["zip_code"].str.len() == 5).all()
    city_per_zip = e.groupby("zip_code")["city"].nunique()
    assert (city_per_zip == 1).all()


def test_chunk_size_does_not_change_customers(config):
    priors, structure = build_prior_arrays(config), build_structure(config)
    pop = mean_population(priors, structure)
    _, key = run_keys(5)
    # chunks of 2,500 and 4,096 customers: the compiled shapes of the transactions tests,
    # which share them through the persistent compilation cache
    n = 4_500

    def draw(chunk_size):
        chunks = list(
            iter_customer_chunks(
                pop, priors, structure, key=key, n_customers=n, chunk_size=chunk_size, enriched=True
            )
        )
        return {k: np.concatenate([c.core[k] for c in chunks]) for k in chunks[0].core} | {
            k: np.concatenate([c.details[k] for c in chunks]) for k in chunks[0].details
        }

    # the last chunk of each short (2,000 and 404 customers, padded to its chunk's shape)
    a, b = draw(2_500), draw(4_096)
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_same_seed_same_bytes_and_other_seed_differs(config, tmp_path):
    def write(seed, fmt, name):
        req = SampleRequest(
            out_dir=tmp_path / name,
            n_customers=1_500,
            seed=seed,
            chunk_size=1_000,
            file_format=fmt,
            basic_only=True,
        )
        sample_to_files(config, req)
        ext = "csv" if fmt == "csv" else "parquet"
        return (tmp_path / name / f"customer_sales_data_basic.{ext}").read_bytes()

    assert write(1, "csv", "a") == write(1, "csv", "b")
    assert write(1, "parquet", "c") == write(1, "parquet", "d")
    assert write(1, "csv", "e") != write(2, "csv", "f")


def test_conditional_generation_gives_exact_counts(config, tmp_path):
    req = SampleRequest(
        out_dir=tmp_path,
        n_customers=0,
        seed=3,
        chunk_size=1_000,
        persona_counts={"teenage_girl": 700, "budget_shopper": 300},
    )
    sample_to_files(config, req)
    e = pd.read_parquet(tmp_path / "customer_sales_data_enriched.parquet")
    assert e["persona_type"].value_counts().to_dict() == {
        "teenage_girl": 700,
        "budget_shopper": 300,
    }


def test_existing_output_is_not_overwritten(config, tmp_path):
    target = tmp_path / "customer_sales_data_basic.parquet"
    target.write_text("precious")
    req = SampleRequest(out_dir=tmp_path, n_customers=10, seed=0, basic_only=True)
    with pytest.raises(ParameterError, match=r"overwrite: .* exists; it is replaced only if"):
        sample_to_files(config, req)
    assert target.read_text() == "precious"


def test_failed_run_leaves_no_complete_looking_file(config, tmp_path):
    req = SampleRequest(
        out_dir=tmp_path, n_customers=3_000, seed=0, chunk_size=1_000, basic_only=True
    )

    def boom(_n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sample_to_files(config, req, progress=boom)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("n_customers", [1_000, 3_000])  # last chunk, and mid-run
@pytest.mark.parametrize("failing", ["enriched", "both"])
def test_encoding_error_stops_the_run_and_leaves_no_file(
    config, tmp_path, monkeypatch, n_customers, failing
):
    # Each file is encoded in a thread of its own: its error must reach the caller,
    # and the other file, even if complete, must not be left behind either.
    original = pq.ParquetWriter.write_batch

    def write_batch(self, batch, *args, **kwargs):
        if failing == "both" or batch.num_columns > 100:
            raise OSError("disk full")
        return original(self, batch, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", write_batch)
    req = SampleRequest(out_dir=tmp_path, n_customers=n_customers, seed=0, chunk_size=1_000)
    with pytest.raises(OSError, match="disk full"):
        sample_to_files(config, req)
    assert list(tmp_path.iterdir()) == []


def test_draw_population_moves_weights_near_the_yaml(config, tmp_path):
    req = SampleRequest(
        out_dir=tmp_path,
        n_customers=100,
        seed=4,
        chunk_size=128,
        basic_only=True,
        draw_population=True,
    )
    sample_to_files(config, req)
    meta = json.loads((tmp_path / "metadata.json").read_text())
    assert meta["population"] == "drawn"
    priors = build_prior_arrays(config)
    pop = draw_population(priors, build_structure(config), key=run_keys(4)[0])
    w = np.asarray(pop.persona_weights)
    assert not np.allclose(w, priors.weights)
    # Dirichlet(200 w): sd sqrt(w(1 - w)/201); 5 sd covers every weight
    assert np.all(
        np.abs(w - priors.weights) < 5 * np.sqrt(priors.weights * (1 - priors.weights) / 201)
    )


def test_too_many_units_for_exact_money_stops_the_run(config):
    priors, structure = build_prior_arrays(config), build_structure(config)
    huge = priors._replace(log_extra_units_loc=np.full_like(priors.log_extra_units_loc, 8.0))
    _, key = run_keys(0)
    with pytest.raises(ValueError, match="exact int32 money arithmetic allows at most 46340"):
        list(
            iter_customer_chunks(
                mean_population(huge, structure),
                huge,
                structure,
                key=key,
                n_customers=64,
                chunk_size=64,
                enriched=False,
            )
        )
