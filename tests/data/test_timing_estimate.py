"""estimate_timing: weekday, hour and seasonal profiles recovered from line items."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personagen import load_config
from personagen.checks import pair_lift, transaction_profile
from personagen.config import DAY_NAMES, TimingSpec, build_timing, with_timing
from personagen.data import DepartmentMapping, estimate_timing, map_departments
from personagen.errors import ConfigError, DataError, ParameterError

#: 40,000 orders drawn from known profiles; every estimated share within 4.5 binomial
#: standard errors of the truth (two-sided false alarm about 7e-6 per comparison,
#: 31 comparisons).
N_ORDERS = 40_000
Z = 4.5
SEED = 3
WEEK = np.array([0.10, 0.12, 0.13, 0.14, 0.16, 0.20, 0.15])
HOURS = np.r_[np.zeros(7), np.full(14, 1.0 / 14), np.zeros(3)]


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def lines():
    """Orders of 2,000 customers over 2024 with known weekday and hour profiles; one to
    three lines each; Xmas Shop lines only in December."""
    rng = np.random.default_rng(SEED)
    days = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    weekday_weight = WEEK[days.day_of_week] / np.bincount(days.day_of_week)[days.day_of_week]
    day = rng.choice(len(days), N_ORDERS, p=weekday_weight / weekday_weight.sum())
    hour = rng.choice(24, N_ORDERS, p=HOURS)
    stamp = (
        days[day]
        + pd.to_timedelta(hour, "h")
        + pd.to_timedelta(rng.integers(0, 3600, N_ORDERS), "s")
    )
    n_lines = rng.integers(1, 4, N_ORDERS)
    order = np.repeat(np.arange(N_ORDERS), n_lines)
    department = np.where(rng.random(len(order)) < 0.5, "Ladies Clothing", "Home")
    december = stamp.month[order] == 12
    department[december & (rng.random(len(order)) < 0.3)] = "Xmas Shop"
    return pd.DataFrame(
        {
            "customer_id": (order % 2000).astype(str),
            "order_id": order.astype(str),
            "date": stamp[order],
            "department": department,
            "value": 1.0,
        }
    )


def test_weekday_and_hour_shares_are_the_orders(lines, config):
    spec = estimate_timing(lines, config.hierarchy, smoothing=0.0)
    week = np.array([spec.day_of_week[d] for d in DAY_NAMES])
    assert np.all(np.abs(week - WEEK) < Z * np.sqrt(WEEK * (1 - WEEK) / N_ORDERS))
    hours = np.array(spec.hour_of_day)
    se = np.sqrt(HOURS * (1 - HOURS) / N_ORDERS)
    assert np.all(np.abs(hours - HOURS) <= Z * se + 1e-5)  # zero hours stay exactly zero
    assert "40,000 orders" in spec.note and "2024-01-01 to 2024-12-31" in spec.note


def test_smoothing_keeps_every_hour_possible(lines, config):
    spec = estimate_timing(lines, config.hierarchy, smoothing=1.0)
    assert min(spec.hour_of_day) > 0 and abs(sum(spec.hour_of_day) - 1) < 1e-3


#: Home's monthly lines per day: about 3,300 lines a month (relative se 1.7%), and the
#: months' weekday mix moves the rate by up to 3% (weekday shares 0.10-0.20): 0.1 is
#: about 4.5 of those combined.
HOME_FLAT = 0.1


def test_seasonal_departments_and_flat_ones(lines, config):
    spec = estimate_timing(lines, config.hierarchy, smoothing=0.0)
    # every Christmas line is in December: the whole mean-1 year's intensity, exactly
    assert spec.seasonality["Xmas Shop"] == [0.0] * 11 + [12.0]
    # Home sells at the same daily rate all year but for December, when the Christmas
    # aisle takes 30% of the lines (a dip of 30%)
    home = np.array(spec.seasonality["Home"])
    assert np.all(np.abs(home[:11] - home[:11].mean()) < HOME_FLAT)
    assert home[11] < home[:11].mean() * (1 - 0.3 + HOME_FLAT)
    assert "Kids Clothing" not in spec.seasonality  # no lines: left flat
    smoothed = estimate_timing(lines, config.hierarchy, smoothing=1.0).seasonality["Xmas Shop"]
    # 12 pseudo-lines spread over the year by the store's pattern: every month > 0
    assert min(smoothed) > 0 and smoothed[11] < 12.0


def test_the_estimate_drives_the_sampler_calendar(lines, config):
    store = config.personas.population.timing
    spec = estimate_timing(lines, config.hierarchy, base=store)
    assert spec.time_zone == store.time_zone == "Europe/London"  # the base's zone is kept
    assert spec.basket_size_sd == store.basket_size_sd
    timed = with_timing(config, spec, source="lines.parquet")
    arrays = build_timing(timed)
    persona_without_own = config.persona_names.index("budget_shopper")
    se = np.sqrt(WEEK * (1 - WEEK) / N_ORDERS)
    assert np.all(np.abs(arrays.day_of_week[persona_without_own] - WEEK) < Z * se)
    assert ("timing", "lines.parquet") in timed.sources
    assert timed.config_hash() != config.config_hash()


def test_dates_without_clock_times_keep_the_default_hours(lines, config):
    spec = estimate_timing(lines.assign(date=lines["date"].dt.normalize()), config.hierarchy)
    assert spec.hour_of_day == TimingSpec().hour_of_day
    assert "no clock times" in spec.note


def test_mapped_department_names(config):
    table = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_id": ["1", "1", "2"],
            "date": pd.to_datetime(["2024-03-01 10:00", "2024-03-01 10:00", "2024-06-02 12:30"]),
            "department": ["XMAS", "HOMEWARE", "XMAS"],
        }
    )
    mapping = DepartmentMapping(departments={"XMAS": "Xmas Shop"}, other="Home")
    mapped = map_departments(table, config.hierarchy, mapping=mapping, unmapped="other")
    assert mapped["department"].tolist() == ["Xmas Shop", "Home", "Xmas Shop"]
    assert table["department"].tolist()[0] == "XMAS"  # the input is not changed
    spec = estimate_timing(table, config.hierarchy, mapping=mapping, unmapped="other")
    assert set(spec.seasonality) == {"Xmas Shop", "Home"}
    with pytest.raises(DataError, match="'HOMEWARE' \\(1 rows\\)"):
        estimate_timing(table, config.hierarchy, mapping=mapping)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="date"), "missing date column"),
        (lambda t: t.rename(columns={"order_id": "order_ids"}), "did you mean 'order_ids'"),
        (lambda t: t.assign(date="soon"), "dates that do not parse at rows 0, 1, 2"),
        (lambda t: t.iloc[:0], "the table has no rows"),
    ],
)
def test_bad_tables_are_named(lines, config, change, message):
    with pytest.raises(DataError, match=message):
        estimate_timing(change(lines.head(50)), config.hierarchy, source="lines.csv")


def test_bad_settings_are_named(lines, config):
    with pytest.raises(ParameterError, match=r"smoothing.*expected a number >= 0, got -1"):
        estimate_timing(lines.head(50), config.hierarchy, smoothing=-1)
    with pytest.raises(ParameterError, match="unknown time zone 'Mars/Olympus'"):
        estimate_timing(lines.head(50), config.hierarchy, time_zone="Mars/Olympus")
    spec = estimate_timing(lines.head(50), config.hierarchy)
    alien = spec.model_copy(update={"seasonality": {"Xmas Shopp": [1.0] * 12}})
    with pytest.raises(ConfigError, match="did you mean 'Xmas Shop'"):
        with_timing(config, alien)
    short = spec.model_copy(update={"seasonality": {"Xmas Shop": [1.0] * 11}})
    with pytest.raises(ConfigError, match=r"seasonality\.Xmas Shop"):
        with_timing(config, short)  # model_copy skipped the 12-month check: caught here


def test_zoned_and_mixed_timestamps(lines, config):
    zoned = lines.head(500).assign(date=lines["date"].head(500).dt.tz_localize("Europe/Paris"))
    spec = estimate_timing(zoned, config.hierarchy, smoothing=0.0)
    # wall-clock hours are kept: none before 7 am, as in the naive data
    assert sum(spec.hour_of_day[:7]) == 0
    mixed = lines.head(2).assign(date=["2024-01-01T10:00+01:00", "2024-06-01T10:00+02:00"])
    with pytest.raises(DataError, match="mixed UTC offsets"):
        estimate_timing(mixed, config.hierarchy)


def test_transaction_profile_of_known_baskets(lines):
    profile = transaction_profile(lines)
    assert profile.n_orders == N_ORDERS and profile.n_lines == len(lines)
    assert profile.n_customers == 2000
    per_order = np.bincount(lines["order_id"].astype(int))
    assert np.array_equal(np.sort(profile.lines_per_order), np.sort(per_order))
    se = np.sqrt(WEEK * (1 - WEEK) / N_ORDERS)
    assert np.all(np.abs(profile.weekday - WEEK) < Z * se)
    assert profile.hour[:7].sum() == 0 and profile.hour[21:].sum() == 0
    assert profile.monthly_value.sum() == pytest.approx(len(lines))
    assert len(profile.inter_purchase_days) == N_ORDERS - 2000
    # two departments (three in December) and one to three lines per order
    assert profile.departments_per_order.max() == 3
    assert (profile.departments_per_order <= profile.lines_per_order).all()


def test_transaction_profile_counts_orders_per_customer_and_exposure_days():
    """Order ids repeat across customers; exposure counts days from first to last order."""
    table = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "order_id": ["1", "1", "2", "1"],  # b's order 1 is not a's
            "date": pd.to_datetime(
                ["2024-01-30 09:00", "2024-01-30 09:05", "2024-02-02 18:00", "2024-02-10 12:00"]
            ),
            "department": ["Home", "Beauty", "Home", "Home"],
            "value": [1.0, 2.0, 3.0, 4.0],
        }
    )
    profile = transaction_profile(table)
    assert profile.n_orders == 3 and profile.n_customers == 2
    assert sorted(profile.lines_per_order) == [1, 1, 2]
    assert sorted(profile.departments_per_order) == [1, 1, 2]
    assert profile.inter_purchase_days.tolist() == pytest.approx([3 + 9 / 24])  # from 09:00
    assert profile.monthly_value.tolist() == [3.0, 7.0]
    # a: 30-31 January and 1-2 February; b: 10 February
    assert profile.monthly_exposure.tolist() == [2, 3]
    assert profile.hour[[9, 18, 12]].tolist() == pytest.approx([1 / 3] * 3)
    with pytest.raises(DataError, match="missing value column"):
        transaction_profile(table.drop(columns="value"))
    with pytest.raises(DataError, match="non-numeric, missing or negative values at rows 1"):
        transaction_profile(table.assign(value=[1.0, -2.0, 3.0, 4.0]))
    with pytest.raises(DataError, match="the table has no rows"):
        transaction_profile(table.iloc[:0])


def test_pair_lift_is_one_for_independent_departments_and_high_for_bundles():
    """20,000 baskets, each with E: A and B each in half of them independently, C always
    with D."""
    rng = np.random.default_rng(SEED)
    n = 20_000
    has = {"A": rng.random(n) < 0.5, "B": rng.random(n) < 0.5}
    has["C"] = has["D"] = rng.random(n) < 0.1
    has["E"] = np.ones(n, bool)
    order = np.concatenate([np.flatnonzero(v) for v in has.values()])
    dept = np.concatenate([np.full(v.sum(), k) for k, v in has.items()])
    table = pair_lift(order, dept).set_index(["department_a", "department_b"])
    # delta method, independent A and B: var(lift) = (1 - pA)(1 - pB) / (n pA pB) = 1 / n
    assert abs(table.loc[("A", "B"), "lift"] - 1) < Z * np.sqrt(1 / n)
    # C and D always together: support = P(C) = P(D), so lift = 1 / P(C), exactly
    assert table.loc[("C", "D"), "lift"] == pytest.approx(n / has["C"].sum())
    assert np.allclose(table.xs("E", level="department_b")["lift"], 1.0)
    # a department on two lines of one basket counts once
    twice = pair_lift(np.r_[order, order[:1]], np.r_[dept, dept[:1]])
    assert np.allclose(twice["lift"], table["lift"].to_numpy())
