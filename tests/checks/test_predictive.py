"""Predictive checks take the fitted model whole: its prior, its posterior, its structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from personagen import load_config
from personagen.checks import AS_OF, fit_prior_predictive, posterior_predictive, predictive_group
from personagen.config import DAYS_PER_MONTH

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


#: Customers per draw of the conditioned posterior predictive (2 draws; the persona
#: shares are compared with their exact law given the lifetime within 4.5 binomial se).
N_GIVEN = 2_000
GIVEN_Z = 4.5


def test_posterior_predictive_keeps_the_observed_lifetimes(fitted):
    # half the customers observed for one month, half for two years: persona and
    # segment are drawn given the lifetime, so new-customer segments dominate the first
    lifetimes = np.repeat(np.float32([1.0, 24.0]), N_GIVEN // 2)
    table = posterior_predictive(
        fitted, n_draws=2, n_customers=N_GIVEN, seed=2, lifetime_months=lifetimes
    )
    days = np.tile(np.round(lifetimes * DAYS_PER_MONTH), 2)
    lifetime_days = (pd.Timestamp(AS_OF) - pd.to_datetime(table["signup_date"])).dt.days
    np.testing.assert_array_equal(lifetime_days.to_numpy(), days)
    assert np.all(table["recency_days"].to_numpy() <= days)
    # exact p(persona | T) = sum_s w_z P(s | z) LogNormal(T; s) / normaliser, at the
    # fake posterior's (nearly fixed) weights; a sampler that ignored the lifetime would
    # put two personas about 9 se off at T = 1 (0.04 against 0.106)
    priors = fitted.priors
    weights = np.asarray(fitted.posterior_means()["persona_weights"])
    names = np.asarray(fitted.config.persona_names)
    for half, t in enumerate((1.0, 24.0)):
        density = scipy.stats.lognorm.pdf(
            t, s=np.asarray(priors.log_lifetime_sd), scale=np.exp(priors.log_lifetime_loc)
        )
        joint = weights[:, None] * np.asarray(priors.segment_probs) * density[None, :]
        expected = joint.sum(1) / joint.sum()
        mine = table[(np.arange(len(table)) % N_GIVEN) // (N_GIVEN // 2) == half]
        observed = np.array([(mine["persona_type"] == n).mean() for n in names])
        se = np.sqrt(expected * (1 - expected) / len(mine))
        assert np.all(np.abs(observed - expected) < GIVEN_Z * se), (t, observed, expected)
