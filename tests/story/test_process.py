"""The purchase process: its log density is a proper law and the sampler draws it.

The sampler (``story.customer_core``) and the density (``story.process_log_prob``,
which every fit uses) are written separately; these tests tie them together at
200,000 draws per setting, cell by cell: the number of repeat orders, when the last
one fell, and whether the customer had dropped out by the as-of date.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from numpyro import handlers
from scipy.special import betaln, gammaln

from personagen import load_config
from personagen.config import build_prior_arrays, build_structure
from personagen.story import (
    customer_core,
    dropout_beta,
    mean_population,
    process_log_prob,
    rate_gamma,
)

#: Draws per setting. A cell of probability p has a standard error sqrt(p (1 - p) / N).
N_DRAWS = 200_000
#: Tolerance in standard errors per cell: about 40 cells per setting, so a family-wise
#: false alarm rate below 0.1% for a correct sampler (two-sided 4.5 sigma: 7e-6 per cell).
Z_CELL = 4.5
#: Repeat-order bins (the last open-ended) and bins of t_x / T for x >= 1.
X_EDGES = (0, 1, 2, 3, 4, 6, 10, 20, 40)
T_EDGES = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def components(x, t, big_t, r, alpha, a, b):
    """log of the active and dropped-out parts of p(x, t_x | T), float64, written anew."""
    x = np.asarray(x, np.float64)
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    earlier = np.where(
        x > 0, (x - 1) * np.log(np.maximum(t, 1e-300)) - gammaln(np.maximum(x, 1)), 0
    )
    active = common + betaln(a, b + x + 1) - (r + x) * np.log(alpha + big_t) + earlier
    dropped = (
        common + betaln(a + 1, b + x) - (r + x) * np.log(alpha + np.where(x > 0, t, 0)) + earlier
    )
    return active, dropped


SETTINGS = {
    # a shipped persona in its typical segment, observed for two years
    "shipped": {"persona": 0, "segment": 1, "lifetime": 24.0, "rate_shift": 0.0, "dropout": None},
    # half of the customers buy once: slow buyers who drop out often (the CLV data sets)
    "one-time buyers": {
        "persona": 2,
        "segment": 2,
        "lifetime": 12.0,
        "rate_shift": -2.0,
        "dropout": 0.35,
    },
}


@pytest.fixture(scope="module")
def setup():
    config = load_config()
    priors = build_prior_arrays(config)
    structure = build_structure(config)
    return priors, mean_population(priors, structure)


def _population(setup, setting):
    priors, pop = setup
    p = setting["persona"]
    loc = pop.purchase_rate_loc.at[p].add(setting["rate_shift"])
    dropout = pop.dropout_loc
    if setting["dropout"] is not None:
        q = setting["dropout"]
        dropout = dropout.at[p].set(np.log(q / (1 - q)))
    return priors, pop._replace(purchase_rate_loc=loc, dropout_loc=dropout)


def _laws(priors, pop, setting):
    p, s = setting["persona"], setting["segment"]
    r, alpha = rate_gamma(
        pop.purchase_rate_loc[p],
        pop.purchase_rate_sd[p],
        priors.log_rate_sd[p],
        priors.log_multiplier_loc[s],
        priors.log_multiplier_sd[s],
    )
    a, b = dropout_beta(pop.dropout_loc[p], priors.dropout_concentration[p])
    return float(r), float(alpha), float(a), float(b)


def _draws(priors, pop, setting, seed):
    n = N_DRAWS
    data = {
        "persona": jnp.full(n, setting["persona"]),
        "segment": jnp.full(n, setting["segment"]),
        "lifetime_months": jnp.full(n, setting["lifetime"]),
    }

    @jax.jit
    def draw(key, pop, priors):
        def model():
            with numpyro.plate("customers", n):
                return customer_core(pop, priors)

        out = handlers.seed(handlers.condition(model, data), key)()
        return out["n_orders"], out["last_order_months"], out["dropped_out"]

    n_orders, last, dropped = draw(jax.random.key(seed), pop, priors)
    return np.asarray(n_orders) - 1, np.asarray(last), np.asarray(dropped)


def _cells(x, share, dropped):
    """Cell index: x bin, then (for x >= 1) t_x / T bin, then dropped out or not."""
    xb = np.searchsorted(X_EDGES, x, side="right") - 1
    tb = np.where(x > 0, np.clip(np.searchsorted(T_EDGES, share, side="right") - 1, 0, 4), 0)
    return (xb * len(T_EDGES) + tb) * 2 + dropped.astype(int)


#: Largest repeat-order count integrated (the mass beyond is far below 1e-6 here).
X_MAX = 2_000


def _expected(big_t, laws):
    """Cell probabilities by integrating the density over t_x (Simpson, 801 points a bin)."""
    from scipy.integrate import simpson

    n_t = len(T_EDGES)
    probs = np.zeros((len(X_EDGES), n_t, 2))
    act, drop = components(0, 0.0, big_t, *laws)
    probs[0, 0] = np.exp([act, drop])
    x = np.arange(1, X_MAX)[:, None]
    xb = np.searchsorted(X_EDGES, x[:, 0], side="right") - 1
    for tb in range(n_t - 1):
        t = np.linspace(T_EDGES[tb], T_EDGES[tb + 1], 801)[None, :] * big_t
        act, drop = components(x, t, big_t, *laws)
        for part, logp in enumerate((act, drop)):
            np.add.at(probs[:, tb, part], xb, simpson(np.exp(logp), x=t[0], axis=1))
    return probs.reshape(-1)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_density_is_normalised_and_matches_an_independent_formula(setup, name):
    setting = SETTINGS[name]
    priors, pop = _population(setup, SETTINGS[name])
    laws = _laws(priors, pop, setting)
    big_t = setting["lifetime"]
    # the JAX density against the float64 formula written here, on a grid of (x, t_x)
    x = np.repeat(np.array([0, 1, 2, 5, 17, 60]), 7)
    t = np.tile(np.linspace(0.01, 1.0, 7), 6) * big_t
    got = np.asarray(process_log_prob(x, t, big_t, *laws))
    act, drop = components(x, t, big_t, *laws)
    # float32 lgamma of arguments up to ~100: absolute error below 1e-4
    assert np.allclose(got, np.logaddexp(act, drop), atol=2e-4)
    # a proper law: the x = 0 mass plus the integrals over t_x sum to one
    total = _expected(big_t, laws).sum()
    # Simpson's rule on smooth integrands and a tail beyond X_MAX orders of ~0
    assert total == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_sampler_draws_the_law_the_density_scores(setup, name):
    setting = SETTINGS[name]
    priors, pop = _population(setup, setting)
    big_t = setting["lifetime"]
    x, last, dropped = _draws(priors, pop, setting, seed=17)
    assert np.all(last <= big_t) and np.all((x == 0) <= (last == 0))
    observed = np.bincount(_cells(x, last / big_t, dropped), minlength=len(X_EDGES) * 12)
    observed = observed / N_DRAWS
    expected = _expected(big_t, _laws(priors, pop, setting))
    se = np.sqrt(np.maximum(expected * (1 - expected), 1e-12) / N_DRAWS)
    z = (observed - expected) / np.maximum(se, 1.0 / N_DRAWS)
    worst = int(np.argmax(np.abs(z)))
    assert np.all(np.abs(z) < Z_CELL), (worst, observed[worst], expected[worst], z[worst])
    # the settings are what they claim: many one-time buyers in the second, few in the first
    one_time = float(np.mean(x == 0))
    assert (one_time > 0.4) if name == "one-time buyers" else (one_time < 0.1), one_time
