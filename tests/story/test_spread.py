"""The concentration spread: its sampler, its quadrature density, and what a fit can learn.

``SpreadDirichletMultinomial`` draws ``log c_i = log c_p + sigma eps`` and then the exact
Dirichlet-multinomial; its ``log_prob`` integrates ``eps`` by Gauss-Hermite quadrature.
Checked here: without a spread it is the plain sampler bit for bit; its density against a
float64 reference with many nodes; its draws against an independent NumPy draw of the
compound law (the whole law, as ``test_exact_law.py`` does for the plain draw); and the
spread's maximum-likelihood estimate from its own draws.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from scipy.special import gammaln, logsumexp

from personagen.config import build_prior_arrays, load_config
from personagen.story import FastDirichletMultinomial, SpreadDirichletMultinomial

from tests.story.test_exact_law import (
    N_LAW,
    P_MIN,
    Z_MAX,
    two_sample_chi2,
    z_means,
    z_zero,
)

#: Nodes of the float64 reference quadrature (error far below float32's).
REFERENCE_NODES = 200
#: Bounds on the 16-node quadrature's error on the test's draws, about 3x those measured
#: at sigma 1 (mean 9e-4, largest 0.025 nats).
QUADRATURE_MEAN_ERROR = 0.003
QUADRATURE_MAX_ERROR = 0.075


@pytest.fixture(scope="module")
def profile():
    return np.asarray(build_prior_arrays(load_config()).department_probs[0], np.float64)


def reference_log_prob(x: np.ndarray, alpha: np.ndarray, sigma: float) -> np.ndarray:
    """Float64 log density of the compound law with REFERENCE_NODES Gauss-Hermite nodes."""
    nodes, weights = np.polynomial.hermite.hermgauss(REFERENCE_NODES)
    scale = np.exp(np.sqrt(2.0) * sigma * nodes)  # (J,)
    a = alpha[None, None, :] * scale[None, :, None]  # (1, J, D)
    x = x[:, None, :].astype(np.float64)
    n = x.sum(-1)
    pmf = (
        gammaln(n + 1.0)
        - gammaln(x + 1.0).sum(-1)
        + gammaln(a.sum(-1))
        - gammaln(n + a.sum(-1))
        + (gammaln(x + a) - gammaln(a)).sum(-1)
    )
    return logsumexp(pmf + np.log(weights / np.sqrt(np.pi)), axis=1)


def compound_draws(rng, alpha: np.ndarray, sigma: float, total: int, n: int) -> np.ndarray:
    """The compound law drawn by NumPy: c_i lognormal, gamma weights, a multinomial."""
    scale = np.exp(sigma * rng.standard_normal(n))
    g = rng.gamma(alpha[None, :] * scale[:, None])
    return rng.multinomial(total, g / g.sum(1, keepdims=True))


def zero_probability(alpha: np.ndarray, total: int, sigma: float) -> np.ndarray:
    """Exact P(x_d = 0) of the compound law: the beta-binomial zero, over the spread."""
    nodes, weights = np.polynomial.hermite.hermgauss(REFERENCE_NODES)
    a = alpha[None, :] * np.exp(np.sqrt(2.0) * sigma * nodes)[:, None]  # (J, D)
    s = a.sum(1, keepdims=True)
    p0 = np.exp(gammaln(s) + gammaln(s - a + total) - gammaln(s + total) - gammaln(s - a))
    return (weights[:, None] / np.sqrt(np.pi) * p0).sum(0)


def test_without_a_spread_it_is_the_plain_draw_and_density(profile):
    conc = jnp.asarray(50.0 * profile, jnp.float32)
    totals = jnp.arange(1, 1001) % 97 + 1
    key = jax.random.key(5)
    plain = FastDirichletMultinomial(conc, total_count=totals).sample(key)
    spread = SpreadDirichletMultinomial(conc, 0.0, totals)
    np.testing.assert_array_equal(np.asarray(spread.sample(key)), np.asarray(plain))
    want = np.asarray(dist.DirichletMultinomial(conc, total_count=totals).log_prob(plain))
    got = np.asarray(spread.log_prob(plain))
    # the 16 nodes coincide: their weights sum to 1 up to float32 rounding of the logsumexp
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("sigma", [0.5, 1.0])
def test_quadrature_density_matches_a_float64_reference(profile, sigma):
    alpha = 50.0 * profile
    rng = np.random.default_rng(7)
    x = np.concatenate([compound_draws(rng, alpha, sigma, t, 200) for t in (3, 40, 400)])
    d = SpreadDirichletMultinomial(jnp.asarray(alpha, jnp.float32), sigma, x.sum(1))
    got = np.asarray(jax.jit(d.log_prob)(x), np.float64)
    want = reference_log_prob(x, alpha, sigma)
    # Float32 lgamma terms up to ~2,500 in magnitude (400 units, concentrations to ~300),
    # a few ulps each over ~45 terms: FLOAT32_ERROR. The 16 nodes' own error (measured
    # against the reference on these draws): mean 3e-5 nats at sigma 0.5 and 9e-4 at 1,
    # largest 3e-4 and 0.025 (400 units at sigma 1, where a household's counts pin c_i
    # to a narrow peak between nodes).
    float32_error = 45 * 4 * np.spacing(np.float32(2_500.0))
    error = np.abs(got - want)
    assert error.mean() < QUADRATURE_MEAN_ERROR
    assert error.max() < float32_error + QUADRATURE_MAX_ERROR


@pytest.mark.parametrize(("concentration", "sigma", "total"), [(20.0, 0.8, 20), (50.0, 1.0, 200)])
def test_spread_draws_follow_the_compound_law(profile, concentration, sigma, total):
    alpha = concentration * profile
    d = SpreadDirichletMultinomial(jnp.asarray(alpha, jnp.float32), sigma, total)
    x = np.asarray(jax.jit(lambda k: d.sample(k, (N_LAW,)))(jax.random.key(11)))
    y = compound_draws(np.random.default_rng(12), alpha, sigma, total, N_LAW)
    assert (x >= 0).all() and (x.sum(1) == total).all()
    assert z_zero(x, zero_probability(alpha, total, sigma), N_LAW).max() < Z_MAX
    assert two_sample_chi2((x > 0).sum(1), (y > 0).sum(1)) > P_MIN
    log_pmf = jax.jit(d.log_prob)
    assert z_means(np.asarray(log_pmf(x)), np.asarray(log_pmf(y))) < Z_MAX


#: Recovery: N_RECOVER customers of one persona (concentration 30, units 10-200) drawn
#: at TRUE_SPREAD; the maximum-likelihood spread on a grid, its se from the curvature.
N_RECOVER = 4_000
TRUE_SPREAD = 0.6
SPREAD_GRID = np.linspace(0.3, 0.9, 61)
#: an estimate further than this many standard errors is a 1-in-15,000 event
RECOVERY_SE = 4.0


def test_the_density_recovers_the_spread_of_its_own_draws(profile):
    conc = jnp.asarray(30.0 * profile, jnp.float32)
    totals = jnp.asarray(np.random.default_rng(3).integers(10, 201, N_RECOVER))
    x = SpreadDirichletMultinomial(conc, TRUE_SPREAD, totals).sample(jax.random.key(4))

    @jax.jit
    def log_lik(sigma):
        return SpreadDirichletMultinomial(conc, sigma, totals).log_prob(x).sum()

    ll = np.array([float(log_lik(s)) for s in SPREAD_GRID])
    best = int(np.argmax(ll))
    assert 0 < best < len(SPREAD_GRID) - 1  # an interior maximum
    h = SPREAD_GRID[1] - SPREAD_GRID[0]
    curvature = (ll[best + 1] - 2 * ll[best] + ll[best - 1]) / h**2
    se = 1.0 / np.sqrt(-curvature)
    assert abs(SPREAD_GRID[best] - TRUE_SPREAD) < RECOVERY_SE * se + h / 2
    assert se < 0.1  # the data identify the spread: 4,000 customers pin it to a few hundredths
