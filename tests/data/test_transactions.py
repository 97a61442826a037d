"""Transactions -> customers: aggregation, mapping, and clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from personagen import ConfigError, DataError, load_config
from personagen.data import (
    TransactionColumns,
    load_mapping,
    observations_from_table,
    transactions_to_customers,
)


@pytest.fixture(scope="module")
def hierarchy():
    return load_config().hierarchy


def lines():
    return pd.DataFrame(
        {
            "cust": ["a", "a", "a", "b", "b"],
            "order": ["1", "1", "2", "3", "4"],
            "when": ["2025-01-01", "2025-01-01", "2025-03-01", "2025-02-01", "2025-03-02"],
            "dept": ["WOMENSWEAR", "Home", "Home", "MENSWEAR", "WOMENSWEAR"],
            "qty": [2, 1, 3, 1, 1],
            "amount": [40.0, 10.0, 30.0, 99.5, 20.0],
        }
    )


COLS = TransactionColumns(
    customer="cust", order="order", date="when", department="dept", units="qty", value="amount"
)


@pytest.fixture
def mapping(tmp_path, hierarchy):
    path = tmp_path / "mapping.yml"
    path.write_text(
        "schema_version: 1\ndepartments:\n  WOMENSWEAR: Ladies Clothing\n"
        "  MENSWEAR: Mens Clothing\nother: Dummy\n"
    )
    return load_mapping(path, hierarchy)


def test_aggregates_to_the_basic_schema(hierarchy, mapping):
    out = transactions_to_customers(lines(), hierarchy, columns=COLS, mapping=mapping)
    a = out.set_index("customer_id").loc["a"]
    assert a.total_purchases == 2
    assert a.total_revenue == pytest.approx(80.0)
    assert a.dept_total_units_home == 4 and a.dept_total_units_ladies_clothing == 2
    assert a.dept_total_value_home == pytest.approx(40.0)
    # last order 2025-03-01; the as-of date is the day after the last date (2025-03-02)
    assert a.recency_days == 2
    assert a.customer_lifetime_months == pytest.approx(61 / 30.4375, abs=0.01)
    obs = observations_from_table(out, hierarchy)
    assert obs.department_units.shape == (2, 21)


def test_unmapped_names_are_listed_with_counts(hierarchy):
    with pytest.raises(
        DataError,
        match=r"2 department names not in the hierarchy: "
        r"'WOMENSWEAR' \(2 rows\), 'MENSWEAR' \(1 rows\)",
    ):
        transactions_to_customers(lines(), hierarchy, columns=COLS, source="sales.csv")


def test_unmapped_other_sends_names_to_the_other_department(hierarchy, tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("departments:\n  WOMENSWEAR: Ladies Clothing\nother: Dummy\n")
    out = transactions_to_customers(
        lines(), hierarchy, columns=COLS, mapping=load_mapping(path, hierarchy), unmapped="other"
    )
    assert out["dept_total_units_dummy"].sum() == 1


def test_missing_column_bad_numbers_and_dates(hierarchy, mapping):
    missing = r"qty: missing units column; name it with TransactionColumns\(units=\.\.\.\)"
    with pytest.raises(DataError, match=missing):
        transactions_to_customers(
            lines().drop(columns="qty"), hierarchy, columns=COLS, mapping=mapping
        )
    bad = lines()
    bad.loc[2, "amount"] = -5
    with pytest.raises(
        DataError, match=r"amount: non-numeric, missing or negative values at rows 2"
    ):
        transactions_to_customers(bad, hierarchy, columns=COLS, mapping=mapping)
    bad = lines()
    bad.loc[1, "when"] = "yesterday"
    with pytest.raises(DataError, match=r"when: dates that do not parse at rows 1"):
        transactions_to_customers(bad, hierarchy, columns=COLS, mapping=mapping)
    with pytest.raises(DataError, match="the table has no rows"):
        transactions_to_customers(lines().iloc[:0], hierarchy, columns=COLS, mapping=mapping)


def test_mapping_to_unknown_department_suggests(tmp_path, hierarchy):
    path = tmp_path / "m.yml"
    path.write_text("departments:\n  WOMENSWEAR: Ladies Clothes\n")
    with pytest.raises(
        ConfigError,
        match=r"departments.WOMENSWEAR: unknown department "
        r"'Ladies Clothes'; did you mean 'Ladies Clothing'\?",
    ):
        load_mapping(path, hierarchy)


def test_fit_a_transactions_file_from_the_cli(tmp_path, capsys):
    import numpy as np

    from personagen.cli import main

    rng = np.random.default_rng(0)
    n = 600
    depts = ["Ladies Clothing", "Home", "Mens Clothing", "Kids Clothing"]
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i % 150}" for i in range(n)],
            "order_id": [f"o{i // 2}" for i in range(n)],
            "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
            "department": rng.choice(depts, n),
            "units": rng.integers(1, 4, n),
            "value": np.round(rng.uniform(5, 80, n), 2),
        }
    )
    path = tmp_path / "lines.csv"
    frame.to_csv(path, index=False)
    code = main(
        [
            "fit",
            str(path),
            "--transactions",
            "--out",
            str(tmp_path / "fit"),
            "--quiet",
            "--num-warmup",
            "100",
            "--num-samples",
            "100",
        ]
    )
    assert code == 0
    assert "150 customers" in capsys.readouterr().out
