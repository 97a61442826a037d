"""Every notebook runs top to bottom on tiny parameters; its own checks are assertions."""

from __future__ import annotations

from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TINY = {
    "prior_predictive.ipynb": {"n_customers": 1500, "n_draws": 2, "seed": 1},
    "segmentation.ipynb": {"n_customers": 2000, "seed": 1},
    # 300 households, K in {2, 3}, short chains: the fit's own checks still hold
    "fit_real_data.ipynb": {
        "n_households": 300,
        "k_values": [2, 3],
        "num_warmup": 100,
        "num_samples": 100,
        "n_ppc_draws": 5,
    },
    "synthetic_vs_real.ipynb": {},
    "transactions_vs_real.ipynb": {},
}
# the last two read what fit_real_data wrote: the three run in one test, in this order
CHAIN = ("fit_real_data.ipynb", "synthetic_vs_real.ipynb", "transactions_vs_real.ipynb")


def test_every_notebook_has_tiny_parameters():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == set(TINY)


def run(name: str, tmp_path: Path, **extra) -> Path:
    out = tmp_path / name
    pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(out),
        parameters={**TINY[name], **extra},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(NOTEBOOKS.parent),
    )
    return out


@pytest.mark.parametrize("name", sorted(set(TINY) - set(CHAIN)))
def test_notebook_runs(name, tmp_path):
    assert run(name, tmp_path).stat().st_size > 0


def test_real_data_notebooks_run_in_order(tmp_path):
    fitted = tmp_path / "completejourney"
    run(CHAIN[0], tmp_path, out_dir=str(fitted))
    assert (fitted / "posterior.nc").is_file() and (fitted / "customers.parquet").is_file()
    for name in CHAIN[1:]:
        assert run(name, tmp_path, out_dir=str(fitted)).stat().st_size > 0
