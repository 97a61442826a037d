"""Line items: the exact roll-up to the customer tables, invariance, the calendar, baskets."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from personagen import load_config
from personagen.checks import transaction_profile
from personagen.config import build_timing
from personagen.data import transactions_to_customers
from personagen.sample import SampleRequest, sample_to_files

AS_OF = dt.date(2026, 1, 1)
N = 10_000
SEED = 5
#: Every statistical comparison below is within 4.5 standard errors (two-sided
#: false-alarm rate about 7e-6 each; about 60 comparisons in this module).
Z = 4.5


def _run(config, out, *, transactions, chunk_size):
    request = SampleRequest(
        out_dir=out,
        n_customers=N,
        seed=SEED,
        chunk_size=chunk_size,
        as_of=AS_OF,
        transactions=transactions,
    )
    sample_to_files(config, request)
    tables = {
        name: pd.read_parquet(out / f"{stem}.parquet")
        for name, stem in (
            ("basic", "customer_sales_data_basic"),
            ("enriched", "customer_sales_data_enriched"),
        )
    }
    if transactions:
        tables["lines"] = pd.read_parquet(out / "transactions.parquet")
    tables["dir"] = out
    return tables


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def runs(config, tmp_path_factory):
    """The same 10,000 customers three ways: with lines in 4,096- and 2,500-customer
    chunks, and without lines (4,096 per chunk: the same Parquet row groups, same bytes)."""
    return {
        "lines": _run(config, tmp_path_factory.mktemp("a"), transactions=True, chunk_size=4096),
        "chunks": _run(config, tmp_path_factory.mktemp("b"), transactions=True, chunk_size=2500),
        "plain": _run(config, tmp_path_factory.mktemp("c"), transactions=False, chunk_size=4096),
    }


def test_customer_tables_do_not_depend_on_the_lines_or_the_chunks(runs):
    for name in ("basic", "enriched"):
        pd.testing.assert_frame_equal(runs["lines"][name], runs["plain"][name])
        pd.testing.assert_frame_equal(runs["lines"][name], runs["chunks"][name])
        a, b = (runs[r]["dir"] / f"customer_sales_data_{name}.parquet" for r in ("lines", "plain"))
        assert a.read_bytes() == b.read_bytes()
        pd.testing.assert_frame_equal(runs["lines"][name], runs["chunks"][name])
    pd.testing.assert_frame_equal(runs["lines"]["lines"], runs["chunks"]["lines"])


def test_the_basic_table_is_the_roll_up_of_the_lines(runs, config):
    lines, basic = runs["lines"]["lines"], runs["lines"]["basic"]
    rolled = transactions_to_customers(
        lines, config.hierarchy, columns=_columns(), as_of=AS_OF, source="transactions.parquet"
    )
    assert list(rolled["customer_id"]) == list(basic["customer_id"])
    for column in rolled.columns:
        assert np.array_equal(rolled[column].to_numpy(), basic[column].to_numpy()), column


def _columns():
    from personagen.data import TransactionColumns

    return TransactionColumns(date="timestamp")


def test_class_values_units_and_sizes_roll_up_exactly(runs, config):
    lines, enriched = runs["lines"]["lines"], runs["lines"]["enriched"]
    hierarchy = config.hierarchy
    slug = dict(
        zip(
            [(d, c) for d in hierarchy.departments for c in hierarchy.classes_of(d)],
            hierarchy.class_slugs,
            strict=True,
        )
    )
    cents = np.round(lines["value"].to_numpy() * 100).astype(np.int64)
    frame = lines.assign(
        cents=cents, key=[slug[k] for k in zip(lines.department, lines["class"], strict=True)]
    )
    row = {cid: i for i, cid in enumerate(enriched["customer_id"])}
    at = frame["customer_id"].map(row).to_numpy()
    for what, prefix, scale in (
        ("cents", "class_total_value_", 100),
        ("units", "class_total_units_", 1),
    ):
        want = np.round(enriched[[prefix + s for s in hierarchy.class_slugs]].to_numpy() * scale)
        got = np.zeros_like(want)
        np.add.at(got, (at, [hierarchy.class_slugs.index(k) for k in frame["key"]]), frame[what])
        assert np.array_equal(got, want), what
    sizes = (
        lines.groupby(["customer_id", "size"], observed=True)["units"].sum().unstack(fill_value=0)
    )
    sizes = sizes.reindex(index=enriched["customer_id"], fill_value=0)
    for label, column in [("Baby", "count_Baby"), ("Child", "count_Child")] + [
        (s, f"count_size_{s}") for s in ("XS", "S", "M", "L", "XL")
    ]:
        assert np.array_equal(sizes.get(label, 0) * np.ones(N), enriched[column].to_numpy()), label


def test_line_invariants(runs, config):
    lines, basic = runs["lines"]["lines"], runs["lines"]["basic"]
    assert (lines["units"] >= 1).all()
    assert ((lines["returned_units"] >= 0) & (lines["returned_units"] <= lines["units"])).all()
    assert ((lines["returned_value"] >= 0) & (lines["returned_value"] <= lines["value"])).all()
    # a refund of part of a line's value returns at least one unit, and nothing returns nothing
    refunded = lines["returned_value"] > 0
    assert ((lines["returned_units"] > 0) == refunded).all()
    # lines of an order share its timestamp, numbered 1..k; orders in time order
    by_order = lines.groupby("order_id")
    assert (by_order["timestamp"].nunique() == 1).all()
    assert (by_order["line"].max() == by_order.size()).all()
    first = lines.groupby("customer_id")["timestamp"].min().dt.normalize()
    signup = pd.to_datetime(basic.set_index("customer_id")["signup_date"])
    assert (first == signup.reindex(first.index)).all()
    assert lines["timestamp"].max() < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    stamps = lines.drop_duplicates("order_id")
    assert (stamps.groupby("customer_id")["timestamp"].diff().dropna() >= pd.Timedelta(0)).all()
    # the zone is recorded, and every local time exists in it (the shipped zone skips
    # an hour each March; pandas raises for a time inside it)
    metadata = json.loads((runs["lines"]["dir"] / "metadata.json").read_text())
    assert metadata["time_zone"] == config.personas.population.timing.time_zone
    stamps["timestamp"].dt.tz_localize(metadata["time_zone"], ambiguous="NaT", nonexistent="raise")
    # the data dictionary documents every column of the line items, in order
    dictionary = pd.read_csv(runs["lines"]["dir"] / "data_dictionary.csv")
    documented = dictionary.loc[dictionary["table"] == "transactions", "column"]
    assert documented.tolist() == lines.columns.tolist()


def _inner_weekday_law(config, basic, enriched):
    """Each customer's exact law of the weekday of an inner order, shape (N, 7).

    Inner orders (all but the one on the signup day and the one on the last order's
    day) fall on days of ``[signup, last]`` with intensity season x week.
    """
    from personagen.config import build_prior_arrays, build_structure
    from personagen.sample._order_times import month_of, weekday_of
    from personagen.story import mean_population

    timing = build_timing(config)
    priors, structure = build_prior_arrays(config), build_structure(config)
    profile = np.asarray(mean_population(priors, structure).department_profile, np.float64)
    as_of_day = int(np.datetime64(AS_OF, "D").astype(np.int64))
    signup = pd.to_datetime(basic["signup_date"]).to_numpy().astype("datetime64[D]").astype(int)
    last = as_of_day - basic["recency_days"].to_numpy()
    start = int(signup.min())
    days = np.arange(start, as_of_day + 1)
    weekday = weekday_of(days)
    intensity = (profile @ timing.seasonality)[:, month_of(days)]
    intensity = intensity * timing.day_of_week[:, weekday]
    cum = np.zeros((intensity.shape[0], 7, days.size + 1))
    for w in range(7):
        np.cumsum(np.where(weekday == w, intensity, 0.0), axis=1, out=cum[:, w, 1:])
    persona = enriched["persona_type"].map(config.persona_names.index).to_numpy()[:, None]
    week = np.arange(7)[None, :]
    mass = (
        cum[persona, week, (last - start + 1)[:, None]]
        - cum[persona, week, (signup - start)[:, None]]
    )
    return mass / mass.sum(axis=1, keepdims=True), signup, last, timing


def test_weekdays_and_hours_follow_the_profiles(runs, config):
    basic, enriched, lines = (runs["lines"][k] for k in ("basic", "enriched", "lines"))
    orders = lines.drop_duplicates("order_id")
    p, signup, last, timing = _inner_weekday_law(config, basic, enriched)
    n_orders = basic["total_purchases"].to_numpy()
    # the inner orders' weekdays: every order's, less one signup day per customer and
    # one last day per customer with two orders or more (a multiset identity)
    observed = np.bincount(orders["timestamp"].dt.day_of_week, minlength=7)
    observed -= np.bincount((signup + 3) % 7, minlength=7)
    observed -= np.bincount(((last + 3) % 7)[n_orders >= 2], minlength=7)
    inner = np.clip(n_orders - 2, 0, None)[:, None]
    expected = (inner * p).sum(axis=0)
    se = np.sqrt((inner * p * (1 - p)).sum(axis=0))  # independent categorical draws
    assert np.all(np.abs(observed - expected) < Z * se), (observed, expected, se)
    # the profile itself, not only its law: Saturday is the busiest day of inner orders
    assert observed.argmax() == 5
    persona = enriched.set_index("customer_id")["persona_type"]
    for name in ("teenage_girl", "mature_shopper", "budget_shopper"):
        own = orders[orders["customer_id"].map(persona) == name]
        share = np.bincount(own["timestamp"].dt.hour, minlength=24) / len(own)
        want = timing.hour_of_day[config.persona_names.index(name)]
        assert np.all(np.abs(share - want) < Z * np.sqrt(want * (1 - want) / len(own))), name


def _departments(lines, config):
    return lines["department"].map(config.hierarchy.department_index).to_numpy()


def _ratio_and_se(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """A ratio of sums over customers and its standard error, customers as clusters.

    Orders of one customer are not independent (one persona, one mix), so the error
    of ``sum(num) / sum(den)`` is taken over customers (the linearised ratio estimator);
    ``num`` and ``den`` hold one entry per customer with ``den > 0``.
    """
    ratio = num.sum() / den.sum()
    n = den.size
    se = np.sqrt(((num - ratio * den) ** 2).sum() / (n * (n - 1))) / den.mean()
    return float(ratio), float(se)


def _per_customer(
    customer: np.ndarray, num: np.ndarray, den: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``num`` and ``den`` per customer code, for the customers with ``den > 0``."""
    n = int(customer.max()) + 1
    num, den = np.bincount(customer, num, n), np.bincount(customer, den, n)
    return num[den > 0], den[den > 0]


def test_seasonal_departments_sell_in_their_months(runs, config):
    lines = runs["lines"]["lines"]
    month = lines["timestamp"].dt.month.to_numpy()
    units = lines["units"].to_numpy().astype(np.float64)
    customer = pd.factorize(lines["customer_id"])[0]
    department = lines["department"].to_numpy()
    store = np.bincount(month, weights=units, minlength=13)[1:] / units.sum()
    seasonality = config.personas.population.timing.seasonality
    assert len(seasonality) >= 5  # Christmas, gifts, back to school, summer, January sales
    for dept, intensity in seasonality.items():
        # each department sells more of its units in its peak month than the store does,
        # by more than Z standard errors of its share (measured: 5 to 49 at N = 10,000)
        peak = int(np.argmax(intensity)) + 1
        sel = department == dept
        in_peak = units[sel] * (month[sel] == peak)
        share, se = _ratio_and_se(*_per_customer(customer[sel], in_peak, units[sel]))
        assert share - store[peak - 1] > Z * se, (dept, peak, share, store[peak - 1], se)


#: Basket statistics of the shipped priors as docs/transactions.md states them, measured on
#: 2,000 customers: 2.95 lines and 1.80 departments per order, median pair lift 1.58.
DOCUMENTED_LINES_PER_ORDER = 2.95
DOCUMENTED_DEPARTMENTS_PER_ORDER = 1.80
DOCUMENTED_CUSTOMERS = 2_000
#: The median lift is a median over ~50 department pairs, without a simple standard
#: error: it must stay well above 1 (measured 1.55 at N = 10,000; 1.0 means independent).
MIN_MEDIAN_LIFT = 1.4


def test_baskets_have_several_lines_and_correlated_departments(runs, config):
    lines = runs["lines"]["lines"]
    order = pd.factorize(lines["order_id"])[0].astype(np.int64)
    n_departments = len(config.hierarchy.departments)
    pairs = np.unique(order * n_departments + _departments(lines, config))  # (order, dept)
    customer = pd.factorize(lines["customer_id"])[0][np.unique(order, return_index=True)[1]]
    per_order = {
        "lines": np.bincount(order).astype(np.float64),
        "departments": np.bincount(pairs // n_departments).astype(np.float64),
    }
    ones = np.ones(customer.size)
    for column, documented in (
        ("lines", DOCUMENTED_LINES_PER_ORDER),
        ("departments", DOCUMENTED_DEPARTMENTS_PER_ORDER),
    ):
        num, den = _per_customer(customer, per_order[column], ones)
        mean, se = _ratio_and_se(num, den)
        # the documented figure has its own sampling error, at DOCUMENTED_CUSTOMERS
        se_documented = se * np.sqrt(den.size / DOCUMENTED_CUSTOMERS)
        assert abs(mean - documented) < Z * np.hypot(se, se_documented), (column, mean, se)
    profile = transaction_profile(lines, columns=_columns())
    assert np.median(profile.pair_lift["lift"]) > MIN_MEDIAN_LIFT


#: The round trip's weights: each realised persona share in its 99% posterior interval
#: (10 weights: a 90% familywise level by Bonferroni, as tests/infer/test_weights.py).
ROUND_TRIP_INTERVAL = (0.005, 0.995)
#: Posterior sds of the weights at N_ROUND_TRIP are at most about 0.008 (0.006 at 5,000
#: customers, tests/infer/test_weights.py, times sqrt(5/3)); the posterior mean must lie
#: within about 3 of them of the realised share.
ROUND_TRIP_MAX_ABS_ERROR = 0.025
#: The round trip fits the lines of the first 3,000 customers: the fit's cost grows with
#: the customers, and the interval check holds at any size (the intervals widen).
N_ROUND_TRIP = 3_000


def test_fitting_the_lines_recovers_the_persona_weights(runs, config, tmp_path, capsys):
    import arviz as az

    from personagen.cli import main

    lines = runs["lines"]["lines"]
    first = runs["lines"]["basic"]["customer_id"].iloc[:N_ROUND_TRIP]
    subset = tmp_path / "lines.parquet"
    lines[lines["customer_id"].isin(first)].to_parquet(subset)
    fit = tmp_path / "fit"
    args = ["fit", str(subset), "--transactions", "--as-of", AS_OF.isoformat(), "--out", str(fit)]
    short = ["--num-warmup", "200", "--num-samples", "200", "--quiet", "--seed", "1"]
    assert main([*args, *short]) == 0
    assert f"{N_ROUND_TRIP:,} customers, mode weights" in capsys.readouterr().out
    idata = az.from_netcdf(str(fit / "posterior.nc"))
    weights = idata.posterior["persona_weights"].values.reshape(-1, len(config.persona_names))
    lo, hi = np.quantile(weights, ROUND_TRIP_INTERVAL, axis=0)
    personas = runs["lines"]["enriched"]["persona_type"].iloc[:N_ROUND_TRIP]
    share = personas.value_counts(normalize=True).reindex(config.persona_names).to_numpy()
    assert np.all((lo < share) & (share < hi)), (lo, share, hi)
    assert np.abs(weights.mean(0) - share).max() < ROUND_TRIP_MAX_ABS_ERROR
    assert int(idata.sample_stats["diverging"].sum()) == 0
    # the fit rolled the lines up to exactly these customers, in the basic table's order
    memberships = pd.read_csv(fit / "memberships.csv")
    assert memberships["customer_id"].tolist() == first.tolist()
