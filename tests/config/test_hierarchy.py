"""Product hierarchy: counts, flat index, slugs, text parsing and round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from personagen import ConfigError
from personagen.config import (
    build_hierarchy,
    dump_hierarchy_yaml,
    format_hierarchy_text,
    load_hierarchy,
    parse_hierarchy_text,
    slugify,
)

from tests.helpers import ROOT

EXPECTED_COUNTS = {
    "Accessories": 35,
    "Bag Levy": 2,
    "Concessions": 6,
    "Gift Cards": 2,
    "Goods Not For Resale": 9,
    "Health & Beauty": 30,
    "Home": 34,
    "In-Store Charity": 1,
    "Kids Accessories": 21,
    "Kids Clothing": 22,
    "Ladies Clothing": 43,
    "Ladies Footwear": 26,
    "Ladies Hosiery": 21,
    "Mens Accessories": 27,
    "Mens Clothing": 34,
    "Primarket": 15,
    "Sports Shop": 11,
    "Uwear & Nwear": 36,
    "Xmas Shop": 17,
    "Dummy": 1,
    "Dummy Dept for TBC order": 1,
}


def test_shipped_hierarchy_counts():
    h = load_hierarchy(ROOT / "hierarchy_parsed.yml")
    assert {d: len(c) for d, c in zip(h.departments, h.classes, strict=True)} == EXPECTED_COUNTS
    assert h.n_classes == 394
    assert {"Bags", "BELTS", "CONFECTIONERY"} <= set(h.classes_of("Accessories"))


def test_flat_index_and_offsets_agree():
    h = load_hierarchy(ROOT / "hierarchy_parsed.yml")
    assert h.class_department.shape == (394,)
    assert np.array_equal(np.bincount(h.class_department), np.diff(h.department_offsets))
    assert h.flat_index("Accessories", "Bags") == 0
    last = h.departments[-1]
    assert h.flat_index(last, h.classes_of(last)[-1]) == 393
    assert len(set(h.class_slugs)) == 394
    assert h.class_slugs[h.flat_index("Ladies Clothing", "T-Shirts")] == "ladies_clothing__t_shirts"


def test_slug_rule():
    assert slugify("Health & Beauty") == "health_and_beauty"
    assert slugify("Uwear & Nwear") == "uwear_and_nwear"
    assert slugify("  Co-ords ") == "co_ords"
    assert slugify("Dummy Dept for TBC order") == "dummy_dept_for_tbc_order"


def test_parse_strips_prefix_and_duplicates_keeps_order():
    text = (
        "# export\n"
        "Department: Home | Candles\n"
        "Home|Mugs\n"
        "  Department:   Ladies Clothing |  Dresses  \n"
        "\n"
        "Department: Home | Candles\n"
    )
    assert parse_hierarchy_text(text) == {
        "Home": ["Candles", "Mugs"],
        "Ladies Clothing": ["Dresses"],
    }


def test_parse_reports_bad_lines_with_numbers():
    text = "Home | Candles\nno pipe here\nHome | a | b\n | Orphan\n"
    with pytest.raises(ConfigError) as err:
        parse_hierarchy_text(text, source="export.txt")
    message = str(err.value)
    assert message.startswith("3 problems in export.txt:")
    assert "line 2: expected 'Department | Class' with one '|', got 'no pipe here'" in message
    assert "line 3:" in message
    assert "line 4: empty department or class name" in message


def test_shipped_hierarchy_round_trips_exactly():
    h = load_hierarchy(ROOT / "hierarchy_parsed.yml")
    regenerated = dump_hierarchy_yaml(parse_hierarchy_text(format_hierarchy_text(h)))
    assert regenerated == (ROOT / "hierarchy_parsed.yml").read_text()


names = (
    st.text(
        alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters=" &-'"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(lambda s: slugify(s) != "")
)


@given(
    st.dictionaries(
        names, st.lists(names, min_size=1, max_size=5, unique=True), min_size=1, max_size=6
    )
)
def test_index_invariants_hold_for_any_valid_hierarchy(departments):
    try:
        h = build_hierarchy(departments)
    except ConfigError as exc:  # only slug collisions may be rejected
        assert all("collides" in p.message for p in exc.problems)
        return
    assert h.n_classes == sum(len(c) for c in departments.values())
    for d, dept in enumerate(h.departments):
        lo, hi = h.department_offsets[d], h.department_offsets[d + 1]
        assert list(h.class_department[lo:hi]) == [d] * (hi - lo)
        for cls in departments[dept]:
            assert h.class_slugs[h.flat_index(dept, cls)].startswith(h.department_slugs[d] + "__")
    assert parse_hierarchy_text(format_hierarchy_text(h)) == {
        k: list(v) for k, v in departments.items()
    }
