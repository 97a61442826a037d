"""Shopping missions: focused trips in their months, nothing else changed."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from personagen import load_config
from personagen.errors import ConfigError
from personagen.sample import SampleRequest, sample_to_files

from tests.helpers import edit

N = 3_000
SEED = 8
AS_OF = dt.date(2026, 1, 1)
#: A mission order puts almost all of its units in the mission's departments (their
#: weight x 10, the others' / 10): "focused" orders have at least 80% of their units there.
FOCUSED = 0.8
#: Shipped shares: 0.4 of woman_young_family's August-September orders, 0.3 of
#: mature_shopper's November-December ones. Measured (seed 8, 4,687 and 2,734 orders):
#: the focused share rises from 0.31 to 0.51 and from 0.20 to 0.31 (not every mission
#: order can focus: a customer may own few units of the mission's departments). The bound,
#: a quarter of the mission share (0.10 and 0.075), is more than 2 binomial se (about
#: 0.012 for the second, unpaired) below both; the runs share their seed and orders.
MIN_RISE = 0.25
MISSIONS = (
    ("woman_young_family", ["Kids Clothing", "Kids Accessories"], (8, 9), 0.4),
    ("mature_shopper", ["Xmas Shop", "Gift Cards", "Accessories"], (11, 12), 0.3),
)


def _run(config, out):
    request = SampleRequest(out_dir=out, n_customers=N, seed=SEED, as_of=AS_OF, transactions=True)
    sample_to_files(config, request)
    enriched = pd.read_parquet(
        out / "customer_sales_data_enriched.parquet", columns=["customer_id", "persona_type"]
    )
    return {
        "basic": pd.read_parquet(out / "customer_sales_data_basic.parquet"),
        "lines": pd.read_parquet(out / "transactions.parquet"),
        "persona_of": dict(zip(enriched["customer_id"], enriched["persona_type"], strict=True)),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The shipped priors, and a copy whose personas have no mission (same seed)."""
    import shutil

    from tests.helpers import ROOT

    root = tmp_path_factory.mktemp("missions")
    plain = root / "personas.yml"
    shutil.copy(ROOT / "priors" / "personas.yml", plain)
    edit(plain, "        missions: {back_to_school: 0.4}\n", "")
    edit(plain, "        missions: {christmas_gifts: 0.3}\n", "")
    shipped = load_config()
    return {
        "config": shipped,
        "with": _run(shipped, root / "with"),
        "without": _run(load_config(priors=plain), root / "without"),
    }


def _focused_share(lines, persona_of, persona, departments, months):
    own = lines[lines["customer_id"].map(persona_of) == persona]
    own = own[own["timestamp"].dt.month.isin(months)]
    inside = own["department"].isin(departments)
    units = own.groupby("order_id")["units"].sum()
    mission_units = (
        own[inside].groupby("order_id")["units"].sum().reindex(units.index, fill_value=0)
    )
    return float((mission_units / units >= FOCUSED).mean()), len(units)


def test_missions_change_only_the_baskets_of_their_personas(runs):
    # the customer tables (their files differ only in the recorded configuration)
    pd.testing.assert_frame_equal(runs["with"]["basic"], runs["without"]["basic"])
    a, b = runs["with"]["lines"], runs["without"]["lines"]
    # the same orders at the same times; only which units go to which order changes
    orders = ["customer_id", "order_id", "timestamp"]
    pd.testing.assert_frame_equal(
        a[orders].drop_duplicates().reset_index(drop=True),
        b[orders].drop_duplicates().reset_index(drop=True),
    )
    persona_of = runs["with"]["persona_of"]
    assert persona_of == runs["without"]["persona_of"]
    affected = {name for name, *_ in MISSIONS}
    others_a = a[~a["customer_id"].map(persona_of).isin(affected)].reset_index(drop=True)
    others_b = b[~b["customer_id"].map(persona_of).isin(affected)].reset_index(drop=True)
    pd.testing.assert_frame_equal(others_a, others_b, check_categorical=False)


def test_mission_orders_focus_on_their_departments_in_their_months(runs):
    persona_of = runs["with"]["persona_of"]
    for persona, departments, months, share in MISSIONS:
        got, n_with = _focused_share(
            runs["with"]["lines"], persona_of, persona, departments, months
        )
        base, n_without = _focused_share(
            runs["without"]["lines"], persona_of, persona, departments, months
        )
        assert n_with == n_without > 500, (persona, n_with)
        assert got - base > MIN_RISE * share, (persona, got, base)
        # the rest of the year gives units to the trips (a customer's totals are fixed)
        other = [m for m in range(1, 13) if m not in months]
        later, _ = _focused_share(runs["with"]["lines"], persona_of, persona, departments, other)
        before, _ = _focused_share(
            runs["without"]["lines"], persona_of, persona, departments, other
        )
        assert later <= before


def test_shares_of_missions_in_the_same_month_sum_to_at_most_one(shipped):
    # the two trips in different months may take 0.7 and 0.5 of a persona's orders...
    both = "{back_to_school: 0.7, christmas_gifts: 0.5}"
    edit(shipped["priors"], "{back_to_school: 0.4}", both)
    load_config(priors=shipped["priors"])
    # ...not when they share September
    edit(shipped["priors"], "months: [11, 12]", "months: [9, 11, 12]")
    with pytest.raises(ConfigError, match=r"month 9 sum to 1\.2 .*expected at most 1"):
        load_config(priors=shipped["priors"])


def test_an_estimated_calendar_keeps_the_missions(shipped):
    from personagen.config import TimingSpec, build_timing, with_timing

    config = load_config()
    timed = with_timing(config, TimingSpec(), source="estimate")
    assert np.array_equal(build_timing(timed).mission_share, build_timing(config).mission_share)


def test_unknown_missions_and_departments_are_named(shipped):
    edit(shipped["priors"], "missions: {back_to_school: 0.4}", "missions: {back_to_scool: 0.4}")
    edit(
        shipped["priors"],
        "departments: [Xmas Shop, Gift Cards",
        "departments: [Xmas Shopp, Gift Cards",
    )
    with pytest.raises(ConfigError) as err:
        load_config(priors=shipped["priors"])
    text = str(err.value)
    assert "personas.woman_young_family.knobs.timing.missions.back_to_scool" in text
    assert "did you mean 'back_to_school'" in text
    assert "population.timing.missions.christmas_gifts.departments[0]" in text
    assert "did you mean 'Xmas Shop'" in text


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("months: [8, 9]", "months: [8, 13]", "less than or equal to 12"),
        ("months: [8, 9]", "months: []", "expected at least one month"),
        (
            "focus: 10\n        note: >-",
            "focus: 0.5\n        note: >-",
            "greater than or equal to 1",
        ),
        ("{back_to_school: 0.4}", "{back_to_school: 1.4}", "less than or equal to 1"),
        (
            "departments: [Kids Clothing, Kids Accessories]\n        months",
            "departments: [Kids Clothing, Kids Clothing]\n        months",
            "each entry once",
        ),
    ],
)
def test_bad_mission_values_are_named(shipped, old, new, message):
    edit(shipped["priors"], old, new)
    with pytest.raises(ConfigError, match=message):
        load_config(priors=shipped["priors"])


#: 20,000 one-order customers: the mission rate within 4.5 binomial se of its share.
N_RATE = 20_000
Z = 4.5


def test_the_mission_rate_is_the_personas_share_in_the_missions_months():
    from personagen.config import build_timing
    from personagen.sample._baskets import _order_missions
    from personagen.sample._order_times import SECONDS_PER_DAY, OrderTimes, month_of

    config = load_config()
    timing = build_timing(config)
    family = config.persona_names.index("woman_young_family")
    kids = config.hierarchy.department_index["Kids Clothing"]
    units = np.zeros((N_RATE, config.hierarchy.n_departments), np.int64)
    units[: N_RATE // 2, kids] = 3  # half the customers bought kids' clothing

    def missions(day: str) -> np.ndarray:
        stamp = np.full(N_RATE, np.datetime64(day, "D").astype(np.int64) * SECONDS_PER_DAY)
        orders = OrderTimes(
            owner=np.arange(N_RATE),
            number=np.ones(N_RATE, np.int64),
            timestamp=stamp,
            offsets=np.arange(N_RATE + 1),
        )
        persona = np.full(N_RATE, family)
        month = month_of(orders.day)
        return _order_missions(orders, month, np.arange(N_RATE), persona, units, timing, word=7)

    august = missions("2025-08-20")
    rate = float((august[: N_RATE // 2] == 0).mean())  # mission 0: back_to_school
    assert abs(rate - 0.4) < Z * np.sqrt(0.4 * 0.6 / (N_RATE // 2))
    assert (august[N_RATE // 2 :] == -1).all()  # no kids' units: never the school trip
    assert (missions("2025-10-20") == -1).all()  # October: no mission of this persona
