"""Helpers shared by the tests (import them from here, never from conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from personagen.checks import observations_from_chunks
from personagen.config import PersonagenConfig, PriorArrays, Structure
from personagen.data import Observations, observations_from_table, read_customer_table
from personagen.infer import Diagnostics, FittedModel, fitted_model, to_inference_data
from personagen.sample import iter_customer_chunks, run_keys
from personagen.story import Population

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
LEGACY_PRIORS = ROOT / "priors" / "legacy.yml"
LEGACY_HIERARCHY = ROOT / "priors" / "legacy_hierarchy.yml"


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in a file, failing if ``old`` is absent."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def simulate(
    priors: PriorArrays, structure: Structure, pop: Population, n: int, seed: int
) -> tuple[Observations, np.ndarray]:
    """Simulate ``n`` basic customers; return their observations and true personas."""
    _, key = run_keys(seed)
    chunks = list(
        iter_customer_chunks(
            pop, priors, structure, key=key, n_customers=n, chunk_size=n, enriched=False
        )
    )
    return observations_from_chunks(chunks), np.concatenate([c.core["persona"] for c in chunks])


def fake_fit(
    config: PersonagenConfig,
    weights: np.ndarray,
    *,
    n_chains: int = 2,
    n_draws: int = 50,
    spread: float = 0.01,
    seed: int = 0,
) -> FittedModel:
    """A small fake weights-mode posterior: draws scattered around ``weights``, no NUTS run.

    The draws are normalised Gamma variates with mean ``weights`` and a relative sd of
    about ``spread``; plumbing tests (files, assign, look-alike sampling) use it.
    """
    rng = np.random.default_rng(seed)
    shape = 1.0 / spread**2
    raw = rng.gamma(shape * np.asarray(weights), size=(n_chains, n_draws, len(weights)))
    draws = {"persona_weights": (raw / raw.sum(-1, keepdims=True)).astype(np.float32)}
    stats = {
        "diverging": np.zeros((n_chains, n_draws), bool),
        "n_steps": np.full((n_chains, n_draws), 7),
        "energy": rng.normal(size=(n_chains, n_draws)),
    }
    return fitted_model(
        config,
        draws,
        mode="weights",
        method="nuts",
        diagnostics=Diagnostics(sample_stats=stats),
        key_data=(0, seed),
    )


def dominant_weights(n_personas: int = 10, first: float = 0.5) -> np.ndarray:
    """Persona weights with the first persona at ``first`` and the rest equal."""
    weights = np.full(n_personas, (1.0 - first) / (n_personas - 1))
    weights[0] = first
    return weights


def write_posterior(fitted: FittedModel, customers: Path, path: Path) -> Observations:
    """Write ``fitted`` as a posterior.nc with the customers of a table as its observed data."""
    obs = observations_from_table(read_customer_table(customers), fitted.config.hierarchy)
    to_inference_data(fitted, obs).to_netcdf(str(path))
    return obs
