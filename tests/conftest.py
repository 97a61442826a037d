"""Shared fixtures: CPU platform, a compilation cache, copies of the shipped config."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Two XLA CPU devices, as the CLI sets up: NUTS chains run in parallel in every worker
# (whichever test imports jax first), so a fit's draws do not depend on test order.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
# One on-disk compilation cache for the whole run: the xdist workers, the CLI and the
# notebook kernels (which inherit the environment) compile each sampler shape once.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".jax_cache")
)
# Every program, however small, as the library caches it (MIN_COMPILE_SECONDS = 0): the
# hundreds of one-operation programs of an eager model trace (numpyro's guide set-up)
# compile once for the whole run instead of once per process (a second `personagen
# evaluate` process: 36 s with a 0.5 s threshold, 25 s with none).
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# A size bound turns on JAX's file lock around every cache read and write: without it
# an entry is written in place, and a worker reading one the other is still writing gets
# a truncated file (a warning, which this suite turns into an error). The library's own
# cache always has a bound (personagen._compilation_cache).
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(4 * 2**30))

import pytest

from tests.helpers import ROOT


@pytest.fixture
def shipped(tmp_path: Path) -> dict[str, Path]:
    """Writable copies of the shipped personas, hierarchy and segments files."""
    paths = {
        "priors": tmp_path / "personas.yml",
        "hierarchy": tmp_path / "hierarchy_parsed.yml",
        "segments": tmp_path / "segments.yml",
    }
    shutil.copy(ROOT / "priors" / "personas.yml", paths["priors"])
    shutil.copy(ROOT / "hierarchy_parsed.yml", paths["hierarchy"])
    shutil.copy(ROOT / "priors" / "segments.yml", paths["segments"])
    return paths
