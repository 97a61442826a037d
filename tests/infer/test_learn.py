"""The learn mode: K exchangeable personas, relabelling, the choice of K."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from personagen import load_config
from personagen.config import build_prior_arrays, build_structure
from personagen.infer import (
    SMALL_ELPD_DIFFERENCE,
    choose_personas,
    exchangeable_config,
    fit_customers,
    relabel_draws,
    to_inference_data,
)
from personagen.story import mean_population

from tests.helpers import DATA, LEGACY_HIERARCHY, simulate

LEGACY = LEGACY_HIERARCHY


N_LEARN = 1_000
# Tolerances from the posterior sds of the K = 3 fit (measured: weights 0.013-0.016,
# department shares at most 0.0073, log order value locations 0.013-0.019): about 3 sd for
# the weights, 4 sd of the largest for shares and order values.
LEARN_WEIGHT_TOLERANCE = 0.05
LEARN_SHARE_TOLERANCE = 0.03
LEARN_VALUE_TOLERANCE = 0.08


@pytest.fixture(scope="module")
def learn_fits():
    truth_config = load_config(priors=DATA / "learn_truth.yml", hierarchy=LEGACY)
    truth_priors, truth_structure = build_prior_arrays(truth_config), build_structure(truth_config)
    truth_pop = mean_population(truth_priors, truth_structure)
    obs, personas = simulate(truth_priors, truth_structure, truth_pop, N_LEARN, seed=21)
    template = load_config(priors=DATA / "learn_template.yml", hierarchy=LEGACY)
    fits = {
        k: fit_customers(
            template,
            obs,
            mode="learn",
            n_personas=k,
            key=jax.random.key(k),
            num_warmup=200,  # pilot included: 40 + 120 + 40 (warm_up_split)
            num_samples=100,
        )
        for k in (2, 3, 4)
    }
    return truth_priors, obs, personas, fits


def test_learn_mode_recovers_k_and_the_components(learn_fits):
    """One test, so that xdist fits the three models once (a fixture runs once per worker)."""
    truth, obs, _, fits = learn_fits
    k, table = choose_personas({k: to_inference_data(f, obs) for k, f in fits.items()})
    assert k == 3
    assert set(table.index) == {2, 3, 4}
    fit = fits[3]
    d = {k: v.reshape(-1, *v.shape[2:]).mean(0) for k, v in fit.draws.items()}
    cost = np.abs(d["department_profile"][:, None] - truth.department_probs[None]).sum(-1)
    _, cols = linear_sum_assignment(cost)
    # learned personas are numbered by decreasing weight: 0.5, 0.3, 0.2
    assert list(cols) == [0, 1, 2]
    assert np.abs(d["persona_weights"] - truth.weights).max() < LEARN_WEIGHT_TOLERANCE
    assert np.abs(d["department_profile"] - truth.department_probs).max() < LEARN_SHARE_TOLERANCE
    value_error = np.abs(d["order_value_loc"] - truth.log_order_value_loc).max()
    assert value_error < LEARN_VALUE_TOLERANCE


def test_relabelling_undoes_a_permutation():
    rng = np.random.default_rng(0)
    profile = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.15, 0.15, 0.7]])
    weights = np.array([0.5, 0.3, 0.2])
    n = 40
    draws = {
        "persona_weights": np.tile(weights, (2, n, 1)) + rng.normal(0, 0.01, (2, n, 3)),
        "department_profile": np.tile(profile, (2, n, 1, 1)) + rng.normal(0, 0.01, (2, n, 3, 3)),
    }
    perm = np.array([2, 0, 1])
    switched = {k: v.copy() for k, v in draws.items()}
    switched["persona_weights"][1] = draws["persona_weights"][1][:, perm]  # chain 2 relabelled
    switched["department_profile"][1] = draws["department_profile"][1][:, perm]
    out, fraction = relabel_draws(switched)
    assert fraction == pytest.approx(0.5)
    assert np.allclose(out["persona_weights"], draws["persona_weights"])
    assert np.allclose(out["department_profile"], draws["department_profile"])


def test_learn_needs_a_one_persona_template():
    from personagen.errors import ConfigError, ParameterError

    with pytest.raises(ConfigError, match="exactly one persona, got 10"):
        exchangeable_config(load_config(), 3)
    with pytest.raises(ParameterError, match="n_personas: learn mode needs at least 2"):
        exchangeable_config(load_config(priors=DATA / "learn_template.yml", hierarchy=LEGACY), 1)


def _loo_fit(log_lik: np.ndarray):
    import arviz as az

    return az.from_dict(
        posterior={"w": np.zeros(log_lik.shape[:2])}, log_likelihood={"customer": log_lik}
    )


def test_choice_of_k_ignores_small_gains_and_takes_clear_ones():
    """A larger K must beat the smaller by more than dse and SMALL_ELPD_DIFFERENCE."""
    rng = np.random.default_rng(3)
    n = 400
    base = rng.normal(-5.0, 0.3, (2, 50, n))  # 2 chains, 50 draws, n customers
    # the same gain for every customer: dse is ~0, the gain alone decides
    small = base + 0.5 * SMALL_ELPD_DIFFERENCE / n
    large = base + 3.0 * SMALL_ELPD_DIFFERENCE / n
    k, table = choose_personas({2: _loo_fit(base), 3: _loo_fit(small)})
    assert k == 2 and table.loc[2, "elpd_diff"] == pytest.approx(0.5 * SMALL_ELPD_DIFFERENCE)
    k, _ = choose_personas({2: _loo_fit(base), 3: _loo_fit(small), 4: _loo_fit(large)})
    assert k == 4
