"""Inference: exact marginalisation, recovery of known weights, SVI vs NUTS, memberships."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import scipy.integrate as si
import scipy.stats as ss
from numpyro.infer.util import log_density

from personagen import load_config
from personagen.infer import (
    fit_persona_weights,
    membership_probabilities,
    persona_log_likelihood,
    weights_model,
)
from personagen.ingest import observations_from_chunks
from personagen.model import gamma_from_lognormal
from personagen.priors import build_prior_arrays
from personagen.simulate import iter_customer_chunks, mean_population, run_keys

# Recovery: N_RECOVERY customers simulated with weights unlike the priors
# (teenage_girl 0.25, woman_with_baby 0.02). With 10 weights, each must lie in
# its 99% interval, a 90% familywise level by Bonferroni (10 x 1%).
N_RECOVERY = 5_000
RECOVERY_INTERVAL = (0.005, 0.995)
MAX_ABS_ERROR = 0.02
RHAT_MAX = 1.01


@pytest.fixture(scope="module")
def priors():
    return build_prior_arrays(load_config())


def simulate(priors, weights, n, seed):
    pop = mean_population(priors)._replace(persona_weights=jnp.asarray(weights, jnp.float32))
    _, key = run_keys(seed)
    chunks = list(
        iter_customer_chunks(pop, priors, key=key, n_customers=n, chunk_size=n, enriched=False)
    )
    return observations_from_chunks(chunks), np.concatenate([c.core["persona"] for c in chunks])


def true_weights(priors):
    w = np.array(priors.weights, dtype=np.float64)
    w[0], w[4] = 0.25, 0.02
    rest = [i for i in range(len(w)) if i not in (0, 4)]
    w[rest] *= (1 - 0.27) / w[rest].sum()
    return w


@pytest.fixture(scope="module")
def recovery(priors):
    w = true_weights(priors)
    obs, personas = simulate(priors, w, N_RECOVERY, seed=123)
    fit = fit_persona_weights(priors, obs, key=jax.random.key(0), method="nuts")
    return w, obs, personas, fit


def test_marginal_density_equals_enumeration(priors):
    obs, _ = simulate(priors, priors.weights, 3, seed=1)
    ll = persona_log_likelihood(priors, obs)[:, :2]  # 2 personas x 3 customers
    pi = jnp.array([0.3, 0.7])
    alpha = jnp.array([2.0, 3.0])
    got, _ = log_density(weights_model, (ll, alpha), {}, {"persona_weights": pi})
    terms = [
        sum(np.log(float(pi[z])) + float(ll[i, z]) for i, z in enumerate(assignment))
        for assignment in itertools.product([0, 1], repeat=3)
    ]
    want = float(dist.Dirichlet(alpha).log_prob(pi)) + float(np.logaddexp.reduce(terms))
    # float32 sums of log-likelihoods of magnitude ~1e3: 1e-3 is a relative 1e-6
    assert float(got) == pytest.approx(want, abs=1e-3)


def test_order_count_term_is_the_poisson_gamma_integral(priors):
    k, beta = gamma_from_lognormal(jnp.float32(0.7), jnp.float32(0.4))
    k, beta = float(k), float(beta)
    lifetime, extra = 14.0, 23
    got = float(dist.GammaPoisson(k, beta / lifetime).log_prob(extra))
    integrand = lambda r: ss.poisson(r * lifetime).pmf(extra) * ss.gamma(k, scale=1 / beta).pdf(r)  # noqa: E731
    want = np.log(si.quad(integrand, 0, 50, limit=200)[0])
    assert got == pytest.approx(want, abs=1e-4)


def test_recovers_known_weights(recovery):
    w, _, _, fit = recovery
    draws = fit.weights.reshape(-1, len(w))
    lo, hi = np.quantile(draws, RECOVERY_INTERVAL, axis=0)
    assert np.all((w >= lo) & (w <= hi))
    assert np.abs(draws.mean(0) - w).max() < MAX_ABS_ERROR
    assert int(fit.sample_stats["diverging"].sum()) == 0
    import arviz as az

    rhat = az.rhat(az.from_dict(posterior={"w": fit.weights}))["w"].values
    assert np.all(rhat < RHAT_MAX)


def test_memberships_are_probabilities_and_mostly_right(priors, recovery):
    _, obs, personas, fit = recovery
    m = np.asarray(membership_probabilities(priors, obs, fit.draws))
    assert m.shape == (N_RECOVERY, 10)
    assert np.allclose(m.sum(1), 1, atol=1e-5)
    # overlapping personas (customer concentration 50): most, not all, are recovered
    assert 0.8 < (m.argmax(1) == personas).mean() < 1.0


# SVI vs NUTS on N_AGREE customers: posterior means within AGREE_TOLERANCE.
N_AGREE = 20_000
AGREE_TOLERANCE = 0.01
SUBSAMPLE = 500


def test_svi_agrees_with_nuts(priors):
    obs, _ = simulate(priors, true_weights(priors), N_AGREE, seed=77)
    fit = fit_persona_weights(priors, obs, key=jax.random.key(0), method="nuts")
    svi = fit_persona_weights(priors, obs, key=jax.random.key(1), method="svi")
    assert svi.method == "svi"
    nuts_mean = fit.weights.reshape(-1, 10).mean(0)
    svi_mean = svi.weights.reshape(-1, 10).mean(0)
    assert np.abs(svi_mean - nuts_mean).max() < AGREE_TOLERANCE
    # Laplace sd within a factor 0.7..1.4 of the NUTS sd: NUMPYRO_NOTES measured 0.9-1.1, and
    # each sd estimate from 1,000 autocorrelated draws carries a few percent of Monte Carlo error
    ratio = svi.weights.reshape(-1, 10).std(0) / fit.weights.reshape(-1, 10).std(0)
    assert np.all((ratio > 0.7) & (ratio < 1.4))


# Simulation-based calibration: N_SBC replications of SBC_CUSTOMERS customers.
# Ranks of each weight must pass a chi-square uniformity test (10 bins) at the
# Bonferroni level 0.001 (1% familywise over 10 personas). About 5 minutes.
N_SBC = 100
SBC_CUSTOMERS = 300


@pytest.mark.slow
def test_simulation_based_calibration(priors):
    from personagen.calibration import rank_uniformity_pvalues, sbc_weight_ranks

    ranks = sbc_weight_ranks(
        priors, key=jax.random.key(0), n_replications=N_SBC, n_customers=SBC_CUSTOMERS, n_draws=99
    )
    assert ranks.shape == (N_SBC, 10) and ranks.min() >= 0 and ranks.max() <= 99
    assert rank_uniformity_pvalues(ranks, 99).min() > 0.001


def test_svi_converges_and_diagnostics_say_so(priors, recovery):
    from personagen import load_config
    from personagen.posterior import check_diagnostics, to_inference_data

    _, obs, _, nuts = recovery
    svi = fit_persona_weights(priors, obs, key=jax.random.key(2), method="svi", svi_steps=3_000)
    assert svi.svi_converged
    # SUBSAMPLE customers a step reach the same optimum: the full-data objective settles
    # and the means stay within AGREE_TOLERANCE of NUTS (posterior sds here are ~0.006)
    sub = fit_persona_weights(
        priors, obs, key=jax.random.key(2), method="svi", svi_batch_size=SUBSAMPLE
    )
    assert sub.svi_converged
    nuts_mean = nuts.weights.reshape(-1, 10).mean(0)
    assert np.abs(sub.weights.reshape(-1, 10).mean(0) - nuts_mean).max() < AGREE_TOLERANCE
    # the Laplace sds come from the full data's Hessian, not one subsample's (which would
    # be ~sqrt(N / SUBSAMPLE) off); sds from 1,000 draws carry ~2% relative error each, so
    # 20% leaves room for the two optima's small difference
    full_sd, sub_sd = (f.weights.reshape(-1, 10).std(0) for f in (svi, sub))
    assert np.allclose(sub_sd, full_sd, rtol=0.2)
    short = fit_persona_weights(priors, obs, key=jax.random.key(2), method="svi", svi_steps=40)
    config = load_config()
    warned = check_diagnostics(to_inference_data(short, obs, config, seed=0, mode="weights"))
    assert any("SVI loss still changing" in w for w in warned)
    assert check_diagnostics(to_inference_data(nuts, obs, config, seed=0, mode="weights")) == []
