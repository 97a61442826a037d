"""Configuration validation: one test per rule, each asserting the message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from personagen import ConfigError, load_config
from personagen.config import SUM_TOLERANCE, load_hierarchy

from tests.helpers import ROOT, edit


def load(paths: dict[str, Path]):
    return load_config(
        priors=paths["priors"], hierarchy=paths["hierarchy"], segments=paths["segments"]
    )


def test_shipped_config_is_valid():
    config = load_config()
    assert len(config.persona_names) == 10
    assert config.hierarchy.n_departments == 21
    assert config.hierarchy.n_classes == 394
    weights = [p.weight for p in config.personas.personas.values()]
    assert abs(sum(weights) - 1) <= SUM_TOLERANCE
    assert set(config.segments.segments) == {
        "high_value_frequent",
        "medium_value_regular",
        "low_value_occasional",
    }
    assert config.segments.labels[-1] == "churned_inactive"


def test_shipped_legacy_config_is_valid():
    config = load_config(ROOT / "priors/legacy.yml", ROOT / "priors/legacy_hierarchy.yml")
    assert config.persona_names == (
        "high_value_frequent",
        "medium_value_regular",
        "low_value_occasional",
        "churned_inactive",
    )
    assert config.hierarchy.n_departments == 3


def test_persona_weights_must_sum_to_one(shipped):
    edit(shipped["priors"], "teenage_girl:\n    weight: 0.10", "teenage_girl:\n    weight: 0.15")
    with pytest.raises(ConfigError, match=r"personas: persona weights must sum to 1 .*got 1\.05"):
        load(shipped)


def test_share_outside_unit_interval(shipped):
    edit(shipped["priors"], "Primarket: 0.03\n    class", "Primarket: 1.5\n    class")
    with pytest.raises(ConfigError) as err:
        load(shipped)
    assert (
        "personas.teenage_girl.department_preferences.Primarket: Input should be less than "
        "or equal to 1, got 1.5" in str(err.value)
    )


def test_department_shares_must_sum_to_one(shipped):
    edit(shipped["priors"], "Ladies Clothing: 0.35", "Ladies Clothing: 0.30")
    with pytest.raises(
        ConfigError,
        match=r"personas.teenage_girl.department_preferences: "
        r"department shares must sum to 1 .*got 0\.95",
    ):
        load(shipped)


def test_unknown_department_suggests_close_match(shipped):
    edit(shipped["priors"], "Ladies Clothing: 0.35", "Ladies Clothin: 0.35")
    with pytest.raises(ConfigError) as err:
        load(shipped)
    assert (
        "personas.teenage_girl.department_preferences.Ladies Clothin: unknown department; "
        "did you mean 'Ladies Clothing'?"
    ) in str(err.value)


#: Price-level configuration errors: (what is wrong, YAML text, replacement, message).
PRICE_ERRORS = [
    (
        "an unknown department in the store's prices",
        "      Ladies Hosiery: 2.5\n",
        "      Ladies Hosery: 2.5\n",
        "population.prices.departments.Ladies Hosery: unknown department; "
        "did you mean 'Ladies Hosiery'?",
    ),
    (
        "an unknown class in the store's prices",
        "{Duvets: 15.0,",
        "{Duvet: 15.0,",
        "population.prices.classes.Home.Duvet: unknown class 'Duvet' in 'Home'; "
        "did you mean 'Duvets'?",
    ),
    (
        "an unknown department in a persona's price levels",
        "price_levels: {Ladies Clothing: 1.4,",
        "price_levels: {Ladies Clothng: 1.4,",
        "personas.professional_woman.knobs.price_levels.Ladies Clothng: unknown department; "
        "did you mean 'Ladies Clothing'?",
    ),
    (
        "a price that is not positive",
        "      Primarket: 2.0\n",
        "      Primarket: 0\n",
        "population.prices.departments.Primarket",
    ),
]


@pytest.mark.parametrize(
    ("wrong", "old", "new", "message"), PRICE_ERRORS, ids=[e[0] for e in PRICE_ERRORS]
)
def test_price_configuration_errors(shipped, wrong, old, new, message):
    edit(shipped["priors"], old, new)
    with pytest.raises(ConfigError) as err:
        load(shipped)
    assert message in str(err.value), wrong


TIMING_ERRORS = [
    (
        "an unknown department in the seasonality",
        "      Xmas Shop:        [0.1,",
        "      Xmas Shops:       [0.1,",
        "population.timing.seasonality.Xmas Shops: unknown department; did you mean 'Xmas Shop'?",
    ),
    (
        "a negative seasonal intensity",
        "      Gift Cards:       [0.6,",
        "      Gift Cards:       [-0.6,",
        "population.timing.seasonality.Gift Cards[0]: Input should be greater than or equal "
        "to 0, got -0.6",
    ),
    (
        "eleven months",
        "[0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 1.0, 3.5, 6.0]",
        "[0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 1.0, 3.5, 6.0]",
        "population.timing.seasonality.Xmas Shop: expected 12 monthly intensities "
        "(Jan..Dec), got 11",
    ),
    (
        "a week profile that does not sum to 1",
        "day_of_week: {Mon: 0.12,",
        "day_of_week: {Mon: 0.22,",
        "population.timing.day_of_week: expected shares summing to 1, got a sum of 1.1000",
    ),
    (
        "a week profile missing a day",
        "day_of_week: {Mon: 0.10, Tue: 0.10,",
        "day_of_week: {Mon: 0.20,",
        "personas.teenage_girl.knobs.timing.day_of_week: expected a share for every day "
        "Mon..Sun, missing Tue",
    ),
    (
        "an hour profile of 23 hours",
        "hour_of_day: [0.0287, 0.0143,",
        "hour_of_day: [0.0430,",
        "personas.teenage_girl.knobs.timing.hour_of_day: expected 24 shares, got 23",
    ),
    (
        "an hour profile that does not sum to 1",
        "hour_of_day: [0.0287, 0.0143,",
        "hour_of_day: [0.1287, 0.0143,",
        "personas.teenage_girl.knobs.timing.hour_of_day: expected shares summing to 1, got a "
        "sum of 1.1000",
    ),
    (
        "a negative weekday share",
        "day_of_week: {Mon: 0.10, Tue: 0.10, Wed: 0.11,",
        "day_of_week: {Mon: -0.10, Tue: 0.30, Wed: 0.11,",
        "personas.teenage_girl.knobs.timing.day_of_week.Mon: Input should be greater than or "
        "equal to 0, got -0.1",
    ),
    (
        "a negative hour share",
        "hour_of_day: [0.0287, 0.0143,",
        "hour_of_day: [-0.0287, 0.0717,",
        "personas.teenage_girl.knobs.timing.hour_of_day[0]: Input should be greater than or "
        "equal to 0, got -0.0287",
    ),
    (
        "an unknown time zone",
        "time_zone: Europe/London",
        "time_zone: Europe/Londn",
        "population.timing.time_zone: unknown time zone 'Europe/Londn'",
    ),
]


@pytest.mark.parametrize(
    ("wrong", "old", "new", "message"), TIMING_ERRORS, ids=[e[0] for e in TIMING_ERRORS]
)
def test_timing_configuration_errors(shipped, wrong, old, new, message):
    edit(shipped["priors"], old, new)
    with pytest.raises(ConfigError) as err:
        load(shipped)
    assert message in str(err.value), (wrong, str(err.value))


def test_unknown_class_suggests_close_match(shipped):
    edit(shipped["priors"], "[Tops, T-Shirts, Skinny Jeans", "[Tops, T-Shirts, Skiny Jeans")
    with pytest.raises(ConfigError) as err:
        load(shipped)
    assert (
        "personas.teenage_girl.class_preferences.Ladies Clothing[2]: unknown class "
        "'Skiny Jeans' in 'Ladies Clothing'; did you mean 'Skinny Jeans'?"
    ) in str(err.value)


def test_unknown_key_lists_allowed_and_close_match(shipped):
    edit(
        shipped["priors"],
        "knobs:\n      basket_size: [2, 10]",
        "knobs:\n      basket_sise: [2, 10]",
    )
    with pytest.raises(ConfigError) as err:
        load(shipped)
    message = str(err.value)
    assert "personas.woman_with_baby.knobs: unknown key 'basket_sise' (allowed: " in message
    assert "did you mean 'basket_size'?" in message


def test_missing_required_key(shipped):
    edit(shipped["priors"], "      typical_segment: medium_value_regular\n", "", count=1)
    with pytest.raises(
        ConfigError,
        match=r"personas.teenage_girl.spending_profile.typical_segment: "
        r"missing required key",
    ):
        load(shipped)


def test_range_with_lo_above_hi(shipped):
    edit(shipped["priors"], "avg_order_value: [30, 60]", "avg_order_value: [60, 30]")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "personas.teenage_girl.spending_profile.avg_order_value: expected [lo, hi] with "
            "0 < lo < hi (a 90% interval), got [60, 30]"
        ),
    ):
        load(shipped)


def test_a_range_of_zero_width_is_an_error_but_a_single_age_is_not(shipped):
    edit(shipped["priors"], "basket_size: [", "basket_size: [3, 3] #", count=1)
    with pytest.raises(ConfigError, match=r"basket_size: expected \[lo, hi\] with 0 < lo < hi"):
        load(shipped)


def test_misspelt_kids_department_is_an_error(shipped):
    edit(shipped["priors"], "kids_departments: [", "kids_departments: [Kidz, ")
    with pytest.raises(ConfigError, match=r"population.kids_departments\[0\]: unknown department"):
        load(shipped)


def test_range_non_positive(shipped):
    edit(shipped["segments"], "lifetime_months: [12, 60]", "lifetime_months: [0, 60]")
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "segments.high_value_frequent.lifetime_months: expected [lo, hi] with 0 < lo < hi, "
            "got [0, 60] (non-positive)"
        ),
    ):
        load(shipped)


def test_schema_version_1_segments_file_says_how_to_migrate(shipped):
    edit(shipped["segments"], "schema_version: 2", "schema_version: 1")
    with pytest.raises(ConfigError) as err:
        load(shipped)
    (problem,) = err.value.problems
    assert problem.file == str(shipped["segments"]) and problem.path == "schema_version"
    assert "delete every recency_days key" in problem.message
    assert "dropped_out: {name, description}" in problem.message


#: Purchase-process configuration errors: (file, old text, new text, expected message).
PROCESS_ERRORS = {
    "recency per segment is an unknown key": (
        "segments",
        "lifetime_months: [12, 60]",
        "recency_days: [1, 30]\n    lifetime_months: [12, 60]",
        r"segments.high_value_frequent: unknown key 'recency_days'",
    ),
    "the dropped-out label must not be a segment": (
        "segments",
        "name: churned_inactive",
        "name: low_value_occasional",
        r"dropped_out.name: 'low_value_occasional' is also an engagement segment",
    ),
    "a typical segment cannot be the dropped-out state": (
        "priors",
        "typical_segment: low_value_occasional",
        "typical_segment: churned_inactive",
        r"typical_segment: 'churned_inactive' is the dropped-out label",
    ),
    "the dropout probability lies inside (0, 1)": (
        "priors",
        "baby_share: 0.0\n",
        "baby_share: 0.0\n      dropout_probability: [0.1, 1.5]\n",
        r"knobs.dropout_probability: expected a range inside \(0, 1\)",
    ),
}


@pytest.mark.parametrize("case", list(PROCESS_ERRORS))
def test_purchase_process_configuration_errors(shipped, case):
    file, old, new, message = PROCESS_ERRORS[case]
    edit(shipped[file], old, new)
    with pytest.raises(ConfigError, match=message):
        load(shipped)


def test_empty_department(shipped):
    edit(
        shipped["hierarchy"],
        "  In-Store Charity:\n  - Charity Donations\n",
        "  In-Store Charity: []\n",
    )
    with pytest.raises(ConfigError, match=r"departments.In-Store Charity: empty department"):
        load(shipped)


def test_duplicate_class(shipped):
    edit(
        shipped["hierarchy"],
        "  - Plastic Bag Levy\n  - Paper Bag Levy\n",
        "  - Plastic Bag Levy\n  - Plastic Bag Levy\n",
    )
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "departments.Bag Levy[1]: duplicate class 'Plastic Bag Levy' (first at [0])"
        ),
    ):
        load(shipped)


def test_duplicate_persona(shipped):
    text = shipped["priors"].read_text()
    block = text[text.index("  teenage_boy:") : text.index("  young_woman_fashion:")]
    shipped["priors"].write_text(text + block)
    with pytest.raises(
        ConfigError,
        match=r"personas.teenage_boy: duplicate key \(line \d+; "
        r"first defined on line \d+\)",
    ):
        load(shipped)


def test_typical_segment_not_in_segments(shipped):
    edit(shipped["priors"], "typical_segment: low_value_occasional", "typical_segment: low_value")
    with pytest.raises(
        ConfigError,
        match=r"personas.teenage_boy.spending_profile.typical_segment: "
        r"unknown segment 'low_value' .*did you mean 'low_value_occasional'\?",
    ):
        load(shipped)


def test_malformed_yaml_gives_line_number(shipped):
    edit(shipped["segments"], "segments:\n", "segments:\n  - [unclosed\n")
    with pytest.raises(
        ConfigError, match=r"segments.yml:\n  malformed YAML at line \d+, column \d+"
    ):
        load(shipped)


def test_file_that_is_not_a_mapping(shipped):
    shipped["segments"].write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level, got a list"):
        load(shipped)


def test_missing_file(shipped, tmp_path):
    shipped["priors"] = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match=r"nope.yml:\n  file does not exist"):
        load(shipped)


def test_every_problem_is_listed_at_once(shipped):
    edit(shipped["priors"], "Ladies Clothing: 0.35", "Ladies Clothin: 0.35")
    edit(shipped["priors"], "typical_segment: low_value_occasional", "typical_segment: low_value")
    edit(shipped["priors"], "teenage_girl:\n    weight: 0.10", "teenage_girl:\n    weight: 0.15")
    with pytest.raises(ConfigError, match=r"^3 problems in .*personas.yml:") as err:
        load(shipped)
    assert len(err.value.problems) == 3


def test_hierarchy_and_segment_problems_reported_together(shipped):
    edit(
        shipped["hierarchy"],
        "  In-Store Charity:\n  - Charity Donations\n",
        "  In-Store Charity: []\n",
    )
    edit(
        shipped["segments"],
        "base_share: 0.30\n    lifetime_months: [12, 60]",
        "base_share: 0.6\n    lifetime_months: [12, 60]",
    )
    with pytest.raises(ConfigError) as err:
        load(shipped)
    files = {p.file for p in err.value.problems}
    assert files == {str(shipped["hierarchy"]), str(shipped["segments"])}


def test_unknown_excluded_department(shipped):
    edit(
        shipped["priors"],
        "exploration_excludes: [Goods Not For Resale,",
        "exploration_excludes: [Goods Not For Resal,",
    )
    with pytest.raises(
        ConfigError,
        match=r"population.exploration_excludes\[0\]: unknown department "
        r"'Goods Not For Resal'; did you mean 'Goods Not For Resale'\?",
    ):
        load(shipped)


def test_slug_collision_is_rejected(tmp_path):
    path = tmp_path / "h.yml"
    path.write_text("departments:\n  Home & Garden: [A]\n  Home and Garden: [B]\n")
    with pytest.raises(ConfigError, match="column slug 'home_and_garden' collides"):
        load_hierarchy(path)


def test_config_is_frozen():
    config = load_config()
    spec = config.personas.personas["teenage_girl"]
    with pytest.raises(Exception, match="frozen"):
        spec.weight = 0.5  # type: ignore[misc]


def test_config_hash_is_stable_and_sensitive(shipped):
    a = load(shipped).config_hash()
    assert a == load(shipped).config_hash()
    edit(shipped["segments"], "lifetime_months: [12, 60]", "lifetime_months: [12, 61]")
    assert load(shipped).config_hash() != a
