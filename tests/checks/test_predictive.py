"""Predictive checks take the fitted model whole: its prior, its posterior, its structure."""

from __future__ import annotations

import numpy as np
import pytest

from personagen import load_config
from personagen.checks import fit_prior_predictive, posterior_predictive, predictive_group

from tests.helpers import fake_fit

N_CUSTOMERS = 400
N_DRAWS = 3


@pytest.fixture(scope="module")
def fitted():
    config = load_config()
    weights = np.full(10, 0.04)
    weights[0] = 0.64  # teenage_girl: far from the YAML's 0.10
    return fake_fit(config, weights, spread=0.001)


def shares(table, name):
    return table.groupby("draw")["persona_type"].apply(lambda p: (p == name).mean()).to_numpy()


def test_posterior_predictive_follows_the_posterior_weights(fitted):
    table = posterior_predictive(fitted, n_draws=N_DRAWS, n_customers=N_CUSTOMERS, seed=1)
    assert len(table) == N_DRAWS * N_CUSTOMERS
    # each draw's teenage_girl share within 4 binomial standard errors of its weight 0.64
    se = np.sqrt(0.64 * 0.36 / N_CUSTOMERS)
    assert np.all(np.abs(shares(table, "teenage_girl") - 0.64) < 4 * se)


def test_the_prior_predictive_of_a_weights_fit_is_the_fits_prior(fitted):
    table = fit_prior_predictive(fitted, n_draws=N_DRAWS, n_customers=N_CUSTOMERS, seed=1)
    # the fit's prior Dirichlet(P w) is centred on the YAML weights (0.10), not on the
    # posterior's 0.64: its sd is sqrt(w (1 - w) / (P + 1)) = 0.09, plus binomial noise
    sd = np.sqrt(0.1 * 0.9 / 11 + 0.1 * 0.9 / N_CUSTOMERS)
    assert np.all(np.abs(shares(table, "teenage_girl") - 0.10) < 4 * sd)
    group = predictive_group(table, fitted.config)
    assert group["department_units"].shape == (1, N_DRAWS, N_CUSTOMERS, 21)
    assert group["n_orders"].min() >= 1


def test_the_same_seed_gives_the_same_predictive_tables(fitted):
    a = posterior_predictive(fitted, n_draws=2, n_customers=50, seed=3)
    b = posterior_predictive(fitted, n_draws=2, n_customers=50, seed=3)
    c = posterior_predictive(fitted, n_draws=2, n_customers=50, seed=4)
    assert a.equals(b) and not a.equals(c)
