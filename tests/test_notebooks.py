"""Every notebook runs top to bottom on tiny parameters; its own checks are assertions."""

from __future__ import annotations

from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TINY = {
    "prior_predictive.ipynb": {"n_customers": 1500, "n_draws": 2, "seed": 1},
    "segmentation.ipynb": {"n_customers": 2000, "seed": 1},
}


def test_every_notebook_has_tiny_parameters():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == set(TINY)


@pytest.mark.parametrize("name", sorted(TINY))
def test_notebook_runs(name, tmp_path):
    out = tmp_path / name
    pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(out),
        parameters=TINY[name],
        kernel_name="python3",
        progress_bar=False,
        cwd=str(NOTEBOOKS.parent),
    )
    assert out.stat().st_size > 0
