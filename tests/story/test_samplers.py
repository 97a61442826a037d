"""Fast samplers and distributions against exact laws."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
import scipy.stats as ss

from personagen.story import FastDirichletMultinomial, GroupedDirichletMultinomial
from personagen.story._count_samplers import binomial, multinomial, poisson
from personagen.story._samplers import (
    cummax,
    cumsum,
    hash_normal,
    hash_uniform,
    log_gamma,
)

# Kolmogorov-Smirnov: with N draws the 0.1% critical value of the statistic is
# 1.95 / sqrt(N); an exact sampler exceeds it once in a thousand runs.
N_KS = 200_000
KS_CRITICAL = 1.95 / np.sqrt(N_KS)


@pytest.mark.parametrize("alpha", [0.02, 0.3, 1.0, 2.5, 40.0])
def test_log_gamma_matches_gamma_law(alpha):
    x = np.exp(np.asarray(log_gamma(jax.random.key(3), jnp.full((N_KS,), alpha)), np.float64))
    assert np.all(np.isfinite(np.log(x[x > 0])))
    assert ss.kstest(x, ss.gamma(alpha).cdf).statistic < KS_CRITICAL


# Dirichlet-multinomial moments: N_DM draws; the sample mean of a count has
# standard error sd / sqrt(N_DM), the sample variance sqrt((m4 - var^2) / N_DM) with m4
# the fourth central moment (estimated from the draws: small counts are far from normal).
# Tolerances: 4 standard errors.
N_DM = 40_000


def variance_se(x: np.ndarray) -> np.ndarray:
    """Standard error of each column's sample variance."""
    centred = x - x.mean(0)
    m4 = (centred**4).mean(0)
    return np.sqrt(np.maximum(m4 - x.var(0) ** 2, 0.0) / len(x))


@pytest.mark.parametrize("total", [1, 7, 150])
def test_fast_dirichlet_multinomial_moments(total):
    p = np.array([0.5, 0.3, 0.15, 0.05])
    c = 50.0
    d = FastDirichletMultinomial(jnp.asarray(c * p), total_count=total)
    x = np.asarray(d.sample(jax.random.key(1), (N_DM,)))
    assert np.array_equal(x.sum(-1), np.full(N_DM, total))
    var = total * p * (1 - p) * (total + c) / (1 + c)
    assert np.all(np.abs(x.mean(0) - total * p) < 4 * np.sqrt(var / N_DM))
    assert np.all(np.abs(x.var(0) - var) < 4 * variance_se(x))


@pytest.mark.parametrize("totals", [(1, 7, 150), (150, 0, 3)])
def test_grouped_dirichlet_multinomial_moments_per_group(totals):
    # Each group is its own Dirichlet-multinomial with concentration c_g = sum of its
    # class concentrations; same tolerances as the ungrouped test above (N_DM draws).
    # The 1e-9 lets a group with no units pass: its counts must be exactly 0 (zero variance).
    group = np.repeat(np.arange(3), [4, 1, 3])
    conc = np.array([25.0, 15.0, 7.5, 2.5, 3.0, 1.0, 2.0, 12.0])
    d = GroupedDirichletMultinomial(jnp.asarray(conc), jnp.asarray(totals), group)
    x = np.asarray(d.sample(jax.random.key(2), (N_DM,)))
    n = np.asarray(totals)[group]
    c = np.array([conc[group == g].sum() for g in range(3)])[group]
    p = conc / c
    var = n * p * (1 - p) * (n + c) / (1 + c)
    assert np.all(np.abs(x.mean(0) - n * p) < 4 * np.sqrt(var / N_DM) + 1e-9)
    # moment-matched: plus the rounding variance of systematic sampling (at most 1/4)
    assert np.all(np.abs(x.var(0) - var) < 4 * variance_se(x) + 0.25)


def test_grouped_log_prob_equals_product_of_group_densities():
    group = np.array([0, 0, 0, 1, 1, 2])
    conc = jnp.array([1.0, 2.0, 0.5, 3.0, 1.5, 2.0])
    totals = jnp.array([4, 3, 2])
    value = jnp.array([1, 3, 0, 2, 1, 2])
    got = GroupedDirichletMultinomial(conc, totals, group).log_prob(value)
    want = sum(
        dist.DirichletMultinomial(conc[group == g], total_count=totals[g]).log_prob(
            value[group == g]
        )
        for g in range(3)
    )
    assert float(got) == pytest.approx(float(want), abs=1e-5)


def test_grouped_sample_respects_group_totals():
    group = np.repeat(np.arange(3), [4, 1, 6])
    conc = jnp.full((11,), 2.0)
    totals = jnp.array([[5, 0, 9], [0, 3, 1]])
    x = np.asarray(
        GroupedDirichletMultinomial(conc, totals, group).sample(jax.random.key(0), (200,))
    )
    assert x.shape == (200, 2, 11)
    sums = np.stack([x[..., group == g].sum(-1) for g in range(3)], -1)
    assert np.array_equal(sums, np.broadcast_to(np.asarray(totals), sums.shape))
    assert x.min() >= 0


# Hash-based uniforms: N_U draws in B bins; the chi-square statistic has B - 1
# degrees of freedom and exceeds its 0.1% quantile once in a thousand runs.
N_U = 1_000_000
BINS = 256


def _chi2_ok(counts, expected):
    stat = ((counts - expected) ** 2 / expected).sum()
    return stat < ss.chi2(len(counts) - 1).ppf(0.999)


def test_hash_uniform_is_uniform_in_one_stream():
    u = np.asarray(hash_uniform(jax.random.key(7), (N_U,)), np.float64)
    assert u.min() > 0 and u.max() < 1
    assert _chi2_ok(np.bincount((u * BINS).astype(int), minlength=BINS), N_U / BINS)


def test_hash_uniform_consecutive_pairs_are_independent():
    u = np.asarray(hash_uniform(jax.random.key(8), (N_U,)), np.float64)
    a = (u[:-1:2] * 16).astype(int)
    b = (u[1::2] * 16).astype(int)
    counts = np.bincount(a * 16 + b, minlength=256)
    assert _chi2_ok(counts, len(a) / 256)


def test_hash_uniform_streams_of_neighbouring_customers_are_independent():
    # customers 0..N-1 of one run: draw j of customer i vs draw j of customer i + 1
    root = jax.random.key(0)
    keys = jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.arange(20_000))
    u = np.asarray(jax.vmap(lambda k: hash_uniform(k, (16,)))(keys), np.float64)
    r = np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]
    # correlation of n independent pairs has sd 1/sqrt(n); 4 sd tolerance
    assert abs(r) < 4 / np.sqrt(u[:-1].size)
    first = (u[:, 0] * BINS).astype(int)
    assert _chi2_ok(np.bincount(first, minlength=BINS), len(first) / BINS)


def test_hash_normal_matches_normal_law():
    z = np.asarray(hash_normal(jax.random.key(9), (N_KS,)), np.float64)
    assert ss.kstest(z, "norm").statistic < KS_CRITICAL


@pytest.mark.parametrize("lam", [0.05, 1.0, 9.9, 10.0, 25.0, 300.0, 3000.0])
def test_poisson_matches_poisson_law(lam):
    x = np.asarray(poisson(jax.random.key(2), jnp.full((N_KS,), lam)))
    support = np.arange(x.max() + 1)
    expected = ss.poisson(lam).pmf(support) * N_KS
    observed = np.bincount(x, minlength=len(support))
    keep = expected >= 50  # chi-square needs expected counts of 50 or more per cell
    stat = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stat < ss.chi2(max(keep.sum() - 1, 1)).ppf(0.999)
    assert abs(x.mean() - lam) < 4 * np.sqrt(lam / N_KS)


@pytest.mark.parametrize(
    ("n", "p"),
    [(5, 0.5), (33, 0.31), (100, 0.11), (200, 0.5), (1000, 0.9), (5000, 0.02), (40000, 0.37)],
)
def test_binomial_matches_binomial_law(n, p):
    # (33, 0.31) and (100, 0.11) sit just above the inversion/BTRS switch at n q = 10;
    # (1000, 0.9) is drawn through the flip n - Binomial(n, 0.1).
    x = np.asarray(binomial(jax.random.key(4), jnp.full((N_KS,), n), jnp.full((N_KS,), p)))
    assert x.min() >= 0 and x.max() <= n
    expected = ss.binom(n, p).pmf(np.arange(n + 1)) * N_KS
    observed = np.bincount(x, minlength=n + 1)
    keep = expected >= 50  # chi-square needs expected counts of 50 or more per cell
    stat = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stat < ss.chi2(max(keep.sum() - 1, 1)).ppf(0.999)
    assert abs(x.mean() - n * p) < 4 * np.sqrt(n * p * (1 - p) / N_KS)


def test_binomial_edge_cases_are_exact():
    n = jnp.array([0, 7, 7, 12])
    p = jnp.array([0.3, 0.0, 1.0, 0.5])
    draws = np.asarray(binomial(jax.random.key(5), jnp.tile(n, 1000), jnp.tile(p, 1000)))
    draws = draws.reshape(1000, 4)
    assert (draws[:, 0] == 0).all() and (draws[:, 1] == 0).all() and (draws[:, 2] == 7).all()
    assert set(np.unique(draws[:, 3])) <= set(range(13))


def test_multinomial_sums_exactly_and_matches_the_means():
    probs = jnp.array([0.1, 0.2, 0.3, 0.25, 0.15])
    total = 50
    counts = np.asarray(multinomial(jax.random.key(6), jnp.full((N_KS,), total), probs))
    assert (counts.sum(axis=1) == total).all() and counts.min() >= 0
    # each cell is Binomial(total, p_j): mean within 4 standard errors
    se = np.sqrt(total * probs * (1 - probs) / N_KS)
    assert np.all(np.abs(counts.mean(axis=0) - total * np.asarray(probs)) < 4 * se)


def test_cummax_matches_numpy_on_long_axes():
    x = np.random.default_rng(8).normal(size=(3, 394)).astype(np.float32)
    assert np.array_equal(np.asarray(cummax(jnp.asarray(x))), np.maximum.accumulate(x, axis=-1))


def test_cumsum_matches_numpy_on_long_axes():
    x = np.asarray(jax.random.uniform(jax.random.key(7), (50, 394)))
    # float32 sums in another order: they differ by at most n * eps relative (n = 394 terms)
    rtol = 394 * float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(np.asarray(cumsum(jnp.asarray(x))), np.cumsum(x, -1), rtol=rtol)
    units = np.asarray(jax.random.randint(jax.random.key(8), (50, 394), 0, 100), np.int32)
    assert (np.asarray(cumsum(jnp.asarray(units))) == np.cumsum(units, -1)).all()
