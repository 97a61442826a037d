"""Price levels: the spend-share sampler's law, its density, and the exact money split."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as ss
from hypothesis import example, given, settings
from hypothesis import strategies as st

from personagen.story import (
    GroupedSpendShares,
    SpendShares,
    spend_concentration,
    split_cents_by_shares,
    split_grouped_cents,
)
from personagen.story._prices import SHARE_QUANTUM

#: Draws per law; a share's mean and variance are compared with the Dirichlet's within
#: SHARE_Z standard errors (se of a mean: sd / sqrt(n); of a variance: its sample sd of
#: the squared deviations / sqrt(n)).
N_DRAWS = 200_000
SHARE_Z = 4.5
#: Parameters: a customer who bought 1, 3, 0 and 12 units in four departments of price
#: 5, 20, 8 and 2 (price concentration 2; the third department was not bought).
UNITS = np.array([1, 3, 0, 12])
LOG_PRICE = np.log(np.array([5.0, 20.0, 8.0, 2.0], np.float32))


def _alpha() -> np.ndarray:
    return np.asarray(spend_concentration(UNITS, LOG_PRICE, LOG_PRICE, 2.0))


def test_spend_concentration_is_units_times_relative_prices():
    alpha = _alpha()
    relative = np.exp(LOG_PRICE - LOG_PRICE.mean())
    np.testing.assert_allclose(alpha, 2.0 * UNITS * relative, rtol=1e-6)
    # only ratios of prices matter: doubling every price changes nothing
    doubled = spend_concentration(UNITS, LOG_PRICE + np.log(2.0), LOG_PRICE + np.log(2.0), 2.0)
    np.testing.assert_allclose(np.asarray(doubled), alpha, rtol=1e-5)


def _assert_dirichlet_law(draws: np.ndarray, alpha: np.ndarray) -> None:
    bought = alpha > 0
    assert np.all(draws[:, ~bought] == 0)
    np.testing.assert_allclose(draws.sum(1), 1.0, atol=1e-5)
    exact = np.random.default_rng(0).dirichlet(alpha[bought], N_DRAWS)
    mean = alpha[bought] / alpha[bought].sum()
    x = draws[:, bought]
    se_mean = x.std(0) / np.sqrt(N_DRAWS)
    assert np.all(np.abs(x.mean(0) - mean) < SHARE_Z * se_mean)
    dev2 = (x - mean) ** 2
    a0 = alpha[bought].sum()
    variance = mean * (1 - mean) / (a0 + 1)
    assert np.all(np.abs(dev2.mean(0) - variance) < SHARE_Z * dev2.std(0) / np.sqrt(N_DRAWS))
    # the whole law: the mean exact log density of the draws equals that of exact draws
    clipped = np.clip(x.astype(np.float64), 1e-300, 1.0)
    ours = ss.dirichlet.logpdf((clipped / clipped.sum(1, keepdims=True)).T, alpha[bought])
    theirs = ss.dirichlet.logpdf(exact.T, alpha[bought])
    se = np.sqrt(ours.var() / N_DRAWS + theirs.var() / N_DRAWS)
    assert abs(ours.mean() - theirs.mean()) < SHARE_Z * se


def test_spend_shares_follow_the_dirichlet_over_the_departments_bought():
    alpha = _alpha()
    draws = np.asarray(SpendShares(jnp.asarray(alpha)).sample(jax.random.key(1), (N_DRAWS,)))
    _assert_dirichlet_law(draws, alpha)


def test_grouped_spend_shares_follow_one_dirichlet_per_group():
    alpha = _alpha()
    group = np.array([0, 0, 0, 0, 1, 1, 1])
    flat = np.concatenate([alpha, [0.5, 0.0, 3.0]])
    draws = np.asarray(
        GroupedSpendShares(jnp.asarray(flat), group).sample(jax.random.key(2), (N_DRAWS,))
    )
    _assert_dirichlet_law(draws[:, :4], alpha)
    _assert_dirichlet_law(draws[:, 4:], np.array([0.5, 0.0, 3.0]))


def test_spend_share_density_is_the_dirichlets_over_the_parts_bought():
    alpha = _alpha()
    bought = alpha > 0
    x = np.random.default_rng(3).dirichlet(alpha[bought], 5)
    shares = np.zeros((5, 4))
    shares[:, bought] = x
    got = np.asarray(SpendShares(jnp.asarray(alpha)).log_prob(jnp.asarray(shares, jnp.float32)))
    want = ss.dirichlet.logpdf(x.T, alpha[bought])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    # one department bought: its share is 1 for sure
    single = SpendShares(jnp.asarray([0.0, 4.0, 0.0])).log_prob(jnp.asarray([0.0, 1.0, 0.0]))
    assert float(single) == 0.0
    group = np.array([0, 0, 0, 0, 1, 1])
    grouped = GroupedSpendShares(jnp.asarray(np.concatenate([alpha, [1.0, 2.0]])), group)
    value = jnp.asarray(np.concatenate([shares[0], [0.25, 0.75]]), jnp.float32)
    assert float(grouped.log_prob(value)) == pytest.approx(
        want[0] + ss.dirichlet.logpdf([0.25, 0.75], [1.0, 2.0]), rel=1e-4
    )


@settings(max_examples=60, deadline=None)
@example(cents=20_979_585, weights=[0.0, 0.0])  # above 2**24: float32 cents lost one
@example(cents=11_008_780, weights=[0.01] * 6 + [0.3])  # quantum error 4.9e-6 relative
@given(
    cents=st.integers(0, 2**31 - 1),
    weights=st.lists(st.sampled_from([0.0, 1e-7, 0.01, 0.3, 1.0, 7.0]), min_size=1, max_size=30),
)
def test_split_by_shares_is_exact_and_respects_zero_shares(cents, weights):
    w = np.asarray(weights, np.float64)
    if w.sum() == 0:
        w[0] = 1.0
    shares = jnp.asarray(w / w.sum(), jnp.float32)
    parts = np.asarray(split_cents_by_shares(jnp.int32(cents), shares))
    assert parts.sum() == cents
    assert np.all(parts >= 0)
    assert np.all(parts[w == 0] == 0)
    # the split is floor(cents * cumulative weight / total) with integer weights
    # round(share * SHARE_QUANTUM): a part is a difference of two such floors (1 cent),
    # each computed with one float32 rounding of a remainder below the total (1 cent)
    weight = np.round(np.asarray(shares, np.float64) * SHARE_QUANTUM)
    total = weight.sum()
    assert np.all(np.abs(parts - cents * weight / total) <= 2)
    # and the weights are the shares to within the quantum: each weight is off by at most
    # 1/2 (plus float32's 2**-24 relative on the share), the total by at most n/2
    n = w.size
    share = w / w.sum()
    off_share = (0.5 + share * SHARE_QUANTUM * 2.0**-23 + share * n / 2) / (
        SHARE_QUANTUM - n / 2 - 1
    )
    assert np.all(np.abs(parts - cents * share) <= 2 + cents * off_share)


def test_grouped_split_adds_up_within_every_group():
    rng = np.random.default_rng(5)
    group = np.repeat(np.arange(21), rng.integers(1, 40, 21))
    units = rng.integers(0, 3, (500, group.size)) * (rng.random((500, group.size)) < 0.3)
    alpha = jnp.asarray(units, jnp.float32)
    shares = GroupedSpendShares(alpha, group).sample(jax.random.key(6))
    has_units = np.stack([units[:, group == g].sum(1) > 0 for g in range(21)], 1)
    group_cents = jnp.asarray(rng.integers(1, 10**6, (500, 21)) * has_units, jnp.int32)
    cents = np.asarray(split_grouped_cents(group_cents, shares, group))
    sums = np.stack([cents[:, group == g].sum(1) for g in range(21)], 1)
    np.testing.assert_array_equal(sums, np.asarray(group_cents))
    assert np.all(cents >= 0)
    assert np.all(cents[units == 0] == 0)
