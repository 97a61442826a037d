"""Runs to report on: a small enriched sample and a fake fit with predictive draws."""

from __future__ import annotations

from pathlib import Path

import pytest

from personagen.checks import add_predictive_groups
from personagen.config import load_config
from personagen.data import observations_from_table, read_customer_table
from personagen.infer import assign_personas, to_inference_data, write_fit_outputs
from personagen.sample import SampleRequest, sample_to_files

from tests.helpers import dominant_weights, fake_fit
from tests.report.runs import CHUNK, N_FIT, N_SAMPLE, PREDICTIVE_DRAWS


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory, config) -> Path:
    out = tmp_path_factory.mktemp("sample")
    request = SampleRequest(out_dir=out, n_customers=N_SAMPLE, seed=4, chunk_size=CHUNK)
    sample_to_files(config, request)
    return out


@pytest.fixture(scope="session")
def fit_dir(tmp_path_factory, config) -> Path:
    """A fit directory as ``personagen fit --predictive`` writes it, from a fake posterior."""
    data = tmp_path_factory.mktemp("fit-data")
    sample_to_files(config, SampleRequest(out_dir=data, n_customers=N_FIT, seed=8, basic_only=True))
    table = read_customer_table(data / "customer_sales_data_basic.parquet")
    obs = observations_from_table(table, config.hierarchy)
    fitted = fake_fit(config, dominant_weights())
    idata = to_inference_data(fitted, obs, attrs={"seed": 0, "command": "test"})
    add_predictive_groups(idata, fitted, obs, n_draws=PREDICTIVE_DRAWS, seed=0)
    out = tmp_path_factory.mktemp("fit")
    memberships = assign_personas(fitted, obs, table["customer_id"].astype(str).tolist())
    write_fit_outputs(out, idata, memberships, overwrite=False)
    return out
