"""Customer tables for inference: good tables load, bad ones get clear DataErrors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personagen import DataError, load_config
from personagen.data import observations_from_table, read_customer_table
from personagen.sample import SampleRequest, sample_to_files


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out = tmp_path_factory.mktemp("ingest")
    sample_to_files(
        load_config(),
        SampleRequest(out_dir=out, n_customers=200, seed=2, chunk_size=256, basic_only=True),
    )
    return read_customer_table(out / "customer_sales_data_basic.parquet")


def test_own_output_loads(table):
    h = load_config().hierarchy
    obs = observations_from_table(table, h)
    assert obs.department_units.shape == (200, 21)
    assert np.array_equal(np.asarray(obs.units), table.filter(like="dept_total_units_").sum(axis=1))


def test_missing_column_suggests_close_match(table):
    bad = table.rename(columns={"total_revenue": "total_revenu"})
    with pytest.raises(
        DataError, match=r"total_revenue: missing column; did you mean 'total_revenu'\?"
    ):
        observations_from_table(bad, load_config().hierarchy, source="sales.csv")


def test_negative_and_non_numeric_values_name_rows(table):
    bad = table.copy()
    bad["recency_days"] = bad["recency_days"].astype(object)
    bad.loc[3, "recency_days"] = "soon"
    bad.loc[5, "total_revenue"] = -1.0
    with pytest.raises(DataError) as err:
        observations_from_table(bad, load_config().hierarchy, source="sales.csv")
    message = str(err.value)
    assert "recency_days: non-numeric, missing or infinite values at row 3 (C0000000003)" in message
    assert "total_revenue: negative values at row 5 (C0000000005)" in message


def test_duplicate_customer_ids(table):
    bad = pd.concat([table, table.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="customer_id: duplicate ids at row 200"):
        observations_from_table(bad, load_config().hierarchy)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("customer_id,total_purchases\n")
    with pytest.raises(DataError, match="the table has no rows"):
        read_customer_table(empty)
    with pytest.raises(DataError, match="file does not exist"):
        read_customer_table(tmp_path / "none.csv")
