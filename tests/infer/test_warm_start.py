"""Warm-started NUTS: the Laplace approximation is exact on a Gaussian posterior, and the
draws that follow have the right mean and spread and are reproducible."""

from __future__ import annotations

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from personagen.infer import laplace_approximation, run_warm_nuts, warm_up_split
from personagen.infer._warm_start import EIGENVALUE_FLOOR, _hessian, _positive_inverse

#: Sites of different shapes, scales, correlation and constraint: a flattening in the
#: wrong order, a missed Jacobian or a transposed covariance would show.
A_PRIOR_SD = 2.0
A_OBS_SD = 0.5
A_DATA = np.array([[0.3, -1.2, 2.5], [0.1, -0.8, 2.9]])  # two observations of a (3,)
Z_MEAN = np.array([1.0, -2.0])
Z_COV = np.array([[0.25, 0.15], [0.15, 0.36]])
S_LOG_MEAN, S_LOG_SD = 0.4, 0.3  # s ~ LogNormal: its unconstrained value log s is Normal


def gaussian_model(a_data: jax.Array) -> None:
    a = numpyro.sample("a", dist.Normal(0.0, A_PRIOR_SD).expand([3]).to_event(1))
    numpyro.sample("z", dist.MultivariateNormal(jnp.asarray(Z_MEAN), jnp.asarray(Z_COV)))
    numpyro.sample("s", dist.LogNormal(S_LOG_MEAN, S_LOG_SD))
    with numpyro.plate("obs", a_data.shape[0]):
        numpyro.sample("y", dist.Normal(a, A_OBS_SD).to_event(1), obs=a_data)


def exact_posterior() -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (a, z, log s) in numpyro's flattening order (sorted names)."""
    precision = 1 / A_PRIOR_SD**2 + A_DATA.shape[0] / A_OBS_SD**2
    a_mean = (A_DATA.sum(0) / A_OBS_SD**2) / precision
    mean = np.concatenate([a_mean, [S_LOG_MEAN], Z_MEAN])
    cov = np.zeros((6, 6))
    cov[:3, :3] = np.eye(3) / precision
    cov[3, 3] = S_LOG_SD**2
    cov[4:, 4:] = Z_COV
    return mean, cov


START = {"a": jnp.zeros(3), "z": jnp.zeros(2), "s": jnp.asarray(1.0)}
#: float32 potential and L-BFGS tolerances: the mode and the curvature agree to ~1e-4.
LAPLACE_ATOL = 1e-3


def test_laplace_is_exact_on_a_gaussian_posterior() -> None:
    laplace = laplace_approximation(
        gaussian_model, (jnp.asarray(A_DATA),), START, key=jax.random.key(0)
    )
    mean, cov = exact_posterior()
    np.testing.assert_allclose(laplace.mode, mean, atol=LAPLACE_ATOL)
    np.testing.assert_allclose(laplace.covariance, cov, atol=LAPLACE_ATOL)
    unravelled = laplace.unravel(jnp.asarray(laplace.mode, jnp.float32))
    assert set(unravelled) == {"a", "z", "s"}
    np.testing.assert_allclose(unravelled["z"], Z_MEAN, atol=LAPLACE_ATOL)
    assert laplace.iterations > 0


#: 2 chains x 1,000 draws of a 6-dimensional Gaussian with a near-exact mass matrix:
#: ESS well above 1,000. Means within 4 MCSE (arviz's estimate); variances within 4
#: standard errors of a variance estimate from 1,000 effective draws, sqrt(2 / 1000).
NUM_SAMPLES = 1_000
MEAN_MCSE_FACTOR = 4.0
VARIANCE_RELATIVE_TOLERANCE = 4.0 * np.sqrt(2 / 1_000)


def _warm_run(num_chains: int = 2):
    return run_warm_nuts(
        gaussian_model,
        (jnp.asarray(A_DATA),),
        init_values=START,
        key=jax.random.key(1),
        sites=("a", "z", "s"),
        num_warmup=100,
        num_samples=NUM_SAMPLES,
        num_chains=num_chains,
        progress_bar=False,
    )


@pytest.fixture(scope="module")
def warm_run():
    return _warm_run()


def _assert_draws_the_posterior(run, num_chains: int) -> None:
    draws = run.draws
    assert draws["a"].shape == (num_chains, NUM_SAMPLES, 3)
    assert run.diagnostics.sample_stats["n_steps"].shape == (num_chains, NUM_SAMPLES)
    flat = {
        "a": np.asarray(draws["a"]),
        "log_s": np.log(np.asarray(draws["s"]))[..., None],
        "z": np.asarray(draws["z"]),
    }
    mean, cov = exact_posterior()
    idata = az.from_dict(posterior=flat)
    mcse = az.mcse(idata, method="mean")
    stacked = np.concatenate([v.reshape(-1, v.shape[-1]) for v in flat.values()], axis=1)
    errors = np.abs(stacked.mean(0) - mean)
    limits = MEAN_MCSE_FACTOR * np.concatenate([np.ravel(mcse[k]) for k in flat])
    assert (errors < limits).all(), (errors, limits)
    np.testing.assert_allclose(
        np.var(stacked, axis=0), np.diag(cov), rtol=VARIANCE_RELATIVE_TOLERANCE
    )
    assert not np.asarray(run.diagnostics.sample_stats["diverging"]).any()


def test_warm_nuts_draws_the_posterior(warm_run) -> None:
    """Two chains on the suite's two XLA devices: one chain per device (pmap)."""
    assert jax.local_device_count() >= 2
    _assert_draws_the_posterior(warm_run, 2)


def test_warm_nuts_vectorises_chains_beyond_the_devices() -> None:
    """More chains than devices (as with one CPU device): the chains run vmapped."""
    chains = jax.local_device_count() + 1
    run = _warm_run(chains)
    _assert_draws_the_posterior(run, chains)
    a = run.draws["a"]
    assert not np.array_equal(a[0], a[1])  # every chain has its own key and start


def test_warm_nuts_is_reproducible(warm_run) -> None:
    again = _warm_run()
    for site in ("a", "z", "s"):
        np.testing.assert_array_equal(again.draws[site], warm_run.draws[site])


@pytest.mark.parametrize("num_warmup", [1, 2, 5, 9, 10, 39, 40, 41, 100, 500, 1_000])
def test_warm_up_split_spends_the_warm_up(num_warmup: int) -> None:
    pilot_adapt, pilot_draws, main_adapt = warm_up_split(num_warmup)
    assert pilot_adapt == main_adapt
    # one numpyro adaptation window (below 20 iterations): no restart of the step size
    assert 0 <= pilot_adapt < 20
    assert pilot_draws >= 2  # a covariance needs two draws
    if num_warmup >= 2:  # enough for two pilot draws: the whole warm-up, no more
        assert pilot_adapt + pilot_draws + main_adapt == num_warmup
    if num_warmup >= 40:
        assert pilot_adapt == 19


#: float32 gradients differenced with a relative step of 5e-3: rounding error about
#: 1e-7 / 5e-3 of the gradient's scale, truncation about (5e-3)^2 of the third derivative.
FD_HESSIAN_RTOL = 1e-3


def test_finite_difference_hessian_matches_autodiff() -> None:
    def f(x: jax.Array) -> jax.Array:  # not quadratic: the third derivatives are not zero
        return jnp.sum(jnp.exp(0.3 * x)) + x[0] ** 2 * x[1] + jnp.sin(x[2]) * x[3] ** 2

    x = np.array([0.5, -1.0, 2.0, 3.0, -0.2])
    grad = jax.jit(jax.grad(f))
    found = _hessian(
        lambda p: np.asarray(grad(jnp.asarray(p, jnp.float32)), np.float64), x, np.dtype(np.float32)
    )
    exact = np.asarray(jax.hessian(f)(jnp.asarray(x, jnp.float32)), np.float64)
    np.testing.assert_allclose(
        found, exact, rtol=FD_HESSIAN_RTOL, atol=FD_HESSIAN_RTOL * np.abs(exact).max()
    )


def test_negative_curvature_keeps_its_scale_and_flat_directions_are_floored() -> None:
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]
    hessian = rotation @ np.diag([100.0, -4.0, 0.0]) @ rotation.T
    covariance = _positive_inverse(hessian)
    expected = rotation @ np.diag([1 / 100.0, 1 / 4.0, 1 / (EIGENVALUE_FLOOR * 100.0)]) @ rotation.T
    np.testing.assert_allclose(covariance, expected, rtol=1e-6)
    assert np.array_equal(_positive_inverse(np.full((2, 2), np.nan)), np.eye(2))
