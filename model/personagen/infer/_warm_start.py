"""Warm-started NUTS: a Laplace approximation, a pilot run, then the draws.

numpyro's windowed adaptation estimates a dense mass matrix from the draws of
short windows (25, 50, 100, ... iterations). For a fit with a few hundred
parameters (a ``learn`` fit with K = 8 personas has 163) the early estimates
are nearly singular; the step size collapses and every trajectory runs to the
maximum tree depth, which is where the time of a ``learn`` fit went (K = 8 on
2,000 Complete Journey households: 1,023 leapfrog steps for every draw).

:func:`run_warm_nuts` replaces that adaptation with three steps:

1. **Laplace approximation** (:func:`laplace_approximation`): the posterior mode
   in the unconstrained space by L-BFGS (SciPy, on the jitted potential energy and
   its gradient) and the inverse Hessian there (central differences of the same
   compiled gradient), its eigenvalues floored so that it is positive definite;
2. **pilot run**: NUTS with that inverse mass matrix, step-size adaptation only,
   from starting points drawn from the approximation (one per chain);
3. **main run**: NUTS with the covariance of the pilot draws (shrunk towards the
   Laplace one, as numpyro regularises its own estimates), step-size adaptation
   only, then ``num_samples`` draws, each chain continuing from where its pilot
   ended.

``num_warmup`` is the whole warm-up, as with numpyro's adaptation, so that the same
settings cost about the same: 19 iterations adapt each run's step size, the rest are
pilot draws (:func:`warm_up_split`; 500 -> 19 + 462 + 19).

The pilot matters: the Laplace curvature at the mode understates the spread of
non-Gaussian directions (small personas' weights, concentrations), and with it
alone the same K = 8 fit had a bulk ESS of 135 in 1,000 draws; with the pilot's
covariance, 787 in 2,000 (docs/inference.md, "Measured").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jax import Array
from jax.flatten_util import ravel_pytree
from numpyro.infer import MCMC, NUTS
from numpyro.infer.initialization import init_to_value
from numpyro.infer.util import initialize_model, potential_energy, unconstrain_fn

from personagen.infer._runners import NUTS_EXTRA_FIELDS, RunResult, nuts_result

__all__ = ["Laplace", "laplace_approximation", "run_warm_nuts", "warm_up_split"]

#: Step-size adaptation iterations of each run (pilot and main). numpyro restarts its
#: dual averaging at the end of every mass-matrix window even when the mass matrix is
#: fixed, and with 20 to 149 warm-up iterations the last restart has 10% of them: at 20
#: the step size ended 10x too large and chains stuck. Below 20 iterations numpyro
#: adapts in one window; with the Laplace mass matrix 19 suffice (docs/inference.md).
STEP_SIZE_ITERATIONS = 19
#: Fewest pilot draws per chain (a covariance needs at least two).
MIN_PILOT_DRAWS = 2
#: Weight of the Laplace covariance in the pilot estimate, in pseudo-draws (numpyro
#: shrinks its own estimates with 5 pseudo-draws towards a small identity).
SHRINKAGE_DRAWS = 5
#: Hessian eigenvalues are taken in absolute value (a direction of negative curvature, where
#: the search stopped on a ridge between two labellings, keeps its scale) and those below
#: this fraction of the largest are raised to it: a flat direction gets a wide but finite
#: variance.
EIGENVALUE_FLOOR = 1e-6
#: L-BFGS iteration cap for the mode (a K = 8 learn fit converges in about 160).
MAP_MAX_ITERATIONS = 2_000
#: Relative step of the central differences that give the Hessian: about the cube root
#: of float32's machine epsilon, which balances truncation against rounding error.
FINITE_DIFFERENCE_STEP = 5e-3


@dataclass(frozen=True)
class Laplace:
    """A Gaussian approximation of the posterior in the unconstrained space.

    Attributes
    ----------
    mode : ndarray, shape (d,)
        Posterior mode, flattened in the order numpyro's HMC ravels its sites
        (``jax.flatten_util.ravel_pytree`` of the site dict).
    covariance : ndarray, shape (d, d)
        Inverse Hessian of the potential energy at the mode, positive definite.
    unravel : callable
        Flat vector -> dict of unconstrained site values.
    iterations : int
        L-BFGS iterations to the mode.
    """

    mode: np.ndarray
    covariance: np.ndarray
    unravel: Callable[[Array], dict[str, Array]]
    iterations: int


def laplace_approximation(
    model: Callable[..., None],
    model_args: tuple,
    init_values: dict[str, Array],
    *,
    key: Array,
) -> Laplace:
    """Return the Laplace approximation of ``model``'s posterior, starting at ``init_values``.

    Parameters
    ----------
    model : callable
        A numpyro model whose latent sites are all continuous.
    model_args : tuple
        Its arguments (the data among them).
    init_values : dict
        Constrained starting values of the latent sites (missing ones start at
        numpyro's default, the prior median).
    key : Array
        PRNG key numpyro's initialisation needs.
    """
    start, unravel = ravel_pytree(_initial_point(model, model_args, init_values, key))

    def flat_potential(x: Array, args: tuple) -> Array:
        # the data are arguments, not constants: XLA folding them made compilation slow
        return potential_energy(model, args, {}, unravel(x))

    value_and_grad = jax.jit(jax.value_and_grad(flat_potential))

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(jnp.asarray(x, start.dtype), model_args)
        return float(value), np.asarray(grad, np.float64)

    def gradient(x: np.ndarray) -> np.ndarray:
        return objective(x)[1]

    found = scipy.optimize.minimize(
        objective,
        np.asarray(start, np.float64),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAP_MAX_ITERATIONS},
    )
    mode = np.asarray(found.x, np.float64)
    if not np.isfinite(found.fun):  # the search left the support: keep the start
        mode = np.asarray(start, np.float64)
    covariance = _positive_inverse(_hessian(gradient, mode, np.dtype(start.dtype)))
    return Laplace(mode, covariance, unravel, int(found.nit))


def _initial_point(
    model: Callable[..., None], model_args: tuple, init_values: dict[str, Array], key: Array
) -> dict[str, Array]:
    """Unconstrained starting values of every latent site, by numpyro's initialisation.

    Compiled as one program: run eagerly, numpyro's initialisation dispatched (and
    compiled) every operation of the model and its gradient on its own, which took
    longer than the mode search (docs/inference.md).
    """

    def initial(args: tuple) -> dict[str, Array]:
        info = initialize_model(
            key, model, model_args=args, init_strategy=init_to_value(values=init_values)
        )
        return info.param_info.z

    return jax.jit(initial)(model_args)


def _hessian(
    gradient: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dtype: np.dtype
) -> np.ndarray:
    """Hessian at ``x`` by central differences of the compiled ``gradient``, column by column.

    2 d gradient evaluations of the program L-BFGS already compiled: differentiating twice
    through the potential (Hessian-vector products) compiled a second program that took
    longer than the whole mode search and the pilot run on a first fit (docs/inference.md).
    """
    x = x.astype(dtype).astype(np.float64)  # the points the gradient really sees
    columns = []
    for i, h in enumerate(FINITE_DIFFERENCE_STEP * np.maximum(1.0, np.abs(x))):
        up, down = x.copy(), x.copy()
        up[i] = np.asarray(x[i] + h, dtype)  # rounded as the gradient rounds them
        down[i] = np.asarray(x[i] - h, dtype)
        columns.append((gradient(up) - gradient(down)) / (up[i] - down[i]))
    return np.stack(columns, axis=1)


def _positive_inverse(hessian: np.ndarray) -> np.ndarray:
    """Inverse of a symmetrised Hessian, eigenvalues in absolute value and floored.

    The identity if the Hessian is not finite.
    """
    if not np.isfinite(hessian).all():
        return np.eye(hessian.shape[0])
    values, vectors = np.linalg.eigh((hessian + hessian.T) / 2.0)
    top = max(float(values.max()), 1.0)
    values = np.maximum(np.abs(values), EIGENVALUE_FLOOR * top)
    return (vectors / values) @ vectors.T


def _nuts(
    model: Callable[..., None],
    model_args: tuple,
    inverse_mass_matrix: np.ndarray,
    starts: np.ndarray,
    unravel: Callable[[Array], dict[str, Array]],
    *,
    key: Array,
    num_warmup: int,
    num_samples: int,
    progress_bar: bool,
) -> MCMC:
    """NUTS with a fixed dense mass matrix (step size adapted), one chain per row of ``starts``."""
    num_chains = starts.shape[0]
    kernel = NUTS(
        model,
        dense_mass=True,
        inverse_mass_matrix=jnp.asarray(inverse_mass_matrix, jnp.float32),
        adapt_mass_matrix=False,
    )
    parallel = jax.local_device_count() >= num_chains
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="parallel" if parallel else "vectorized",
        progress_bar=progress_bar,
        jit_model_args=True,  # data as arguments, not constants XLA tries to fold
    )
    init_params = jax.vmap(unravel)(jnp.asarray(starts, jnp.float32))
    mcmc.run(key, *model_args, init_params=init_params, extra_fields=NUTS_EXTRA_FIELDS)
    return mcmc


def _unconstrained_draws(
    mcmc: MCMC, model: Callable[..., None], model_args: tuple, sites: list[str]
) -> np.ndarray:
    """Return the run's draws in the unconstrained space, flattened: shape (chains, draws, d)."""
    samples = mcmc.get_samples(group_by_chain=True)
    latent = {site: samples[site] for site in sites}

    # one compiled program, the data as arguments (run eagerly, every operation compiled alone)
    @jax.jit
    def flat(values: dict[str, Array], args: tuple) -> Array:
        def one(value: dict[str, Array]) -> Array:
            return ravel_pytree(unconstrain_fn(model, args, {}, value))[0]

        return jax.vmap(jax.vmap(one))(values)

    return np.asarray(flat(latent, model_args), np.float64)


def warm_up_split(num_warmup: int) -> tuple[int, int, int]:
    """Split ``num_warmup`` into pilot step-size adaptation, pilot draws and main adaptation.

    >>> warm_up_split(500)
    (19, 462, 19)
    """
    adapt = min(STEP_SIZE_ITERATIONS, max(num_warmup - MIN_PILOT_DRAWS, 0) // 2)
    return adapt, max(num_warmup - 2 * adapt, MIN_PILOT_DRAWS), adapt


def run_warm_nuts(
    model: Callable[..., None],
    model_args: tuple,
    *,
    init_values: dict[str, Array],
    key: Array,
    sites: tuple[str, ...],
    num_warmup: int,
    num_samples: int,
    num_chains: int,
    progress_bar: bool,
) -> RunResult:
    """Run NUTS on ``model`` warm-started as the module docstring says.

    Parameters
    ----------
    model, model_args
        The numpyro model and its arguments.
    init_values : dict
        Constrained starting values of the mode search.
    key : Array
        PRNG key; the same key gives the same draws.
    sites : tuple of str
        Sites whose draws are returned.
    num_warmup : int
        Warm-up iterations per chain, pilot included (:func:`warm_up_split`).
    num_samples, num_chains : int
        Draws per chain and chains.
    progress_bar : bool
        Show numpyro's progress bars (pilot and main run).

    Returns
    -------
    RunResult
        Draws of ``sites`` grouped by chain; NUTS diagnostics of the main run.
    """
    pilot_adapt, pilot_draws, main_adapt = warm_up_split(num_warmup)
    k_init, k_starts, k_pilot, k_main = jax.random.split(key, 4)
    laplace = laplace_approximation(model, model_args, init_values, key=k_init)
    root = np.linalg.cholesky(laplace.covariance)
    noise = np.asarray(jax.random.normal(k_starts, (num_chains, laplace.mode.size)), np.float64)
    starts = laplace.mode + noise @ root.T
    latent = list(laplace.unravel(jnp.asarray(laplace.mode, jnp.float32)))
    run = functools.partial(_nuts, model, model_args, unravel=laplace.unravel)
    pilot = run(
        inverse_mass_matrix=laplace.covariance,
        starts=starts,
        key=k_pilot,
        num_warmup=pilot_adapt,
        num_samples=pilot_draws,
        progress_bar=progress_bar,
    )
    flat = _unconstrained_draws(pilot, model, model_args, latent)
    n = flat.shape[0] * flat.shape[1]
    covariance = (n * np.cov(flat.reshape(n, -1).T) + SHRINKAGE_DRAWS * laplace.covariance) / (
        n + SHRINKAGE_DRAWS
    )
    main = run(
        inverse_mass_matrix=covariance,
        starts=flat[:, -1],
        key=k_main,
        num_warmup=main_adapt,
        num_samples=num_samples,
        progress_bar=progress_bar,
    )
    return nuts_result(main, sites)
