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

Both runs call numpyro's NUTS kernel through one pair of compiled programs (chain
initialisation and a block of iterations, :class:`_Sampler`), with the mass matrix, the
starts and the data as arguments: numpyro's ``MCMC`` compiled a new program per run.

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
import tqdm
from jax import Array
from jax.flatten_util import ravel_pytree
from numpyro.infer.hmc import HMCState, hmc
from numpyro.infer.initialization import init_to_value
from numpyro.infer.util import constrain_fn, initialize_model, potential_energy

from personagen.infer._runners import Diagnostics, RunResult, nuts_stats, one_chain_per_device

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


def _potential_fn(model: Callable[..., None], *args: object) -> Callable[[dict], Array]:
    """Return the potential energy of ``model`` at ``args``, a function of unconstrained values."""
    return functools.partial(potential_energy, model, args, {})


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
        return _potential_fn(model, *args)(unravel(x))

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


#: Iterations per call of the compiled sampler. Every run (pilot and main, and any fit of
#: the same model and shapes) calls one program, compiled once; a run's last call
#: overshoots by fewer than this many iterations, whose draws are discarded.
BLOCK_ITERATIONS = 10


@dataclass(frozen=True)
class _Sampler:
    """NUTS compiled once for a model: chain initialisation and a block of iterations.

    The inverse mass matrix, the starting points and the data are arguments of both
    programs, so that the pilot and the main run share them (numpyro's ``MCMC`` compiles
    a new program per run: the matrix, the run length and the data are constants in it).
    """

    init: Callable[..., HMCState]
    advance: Callable[..., tuple[HMCState, tuple[Array, ...]]]
    num_chains: int
    adapt: int

    @classmethod
    def build(
        cls,
        model: Callable[..., None],
        unravel: Callable[[Array], dict],
        *,
        num_chains: int,
        adapt: int,
    ) -> _Sampler:
        """Compile-ready programs for ``num_chains`` chains, ``adapt`` step-size iterations."""
        init_kernel, sample_kernel = hmc(
            potential_fn_gen=functools.partial(_potential_fn, model), algo="NUTS"
        )

        def init_one(key: Array, start: Array, inverse_mass_matrix: Array, args: tuple) -> HMCState:
            return init_kernel(
                unravel(start),
                adapt,
                inverse_mass_matrix=inverse_mass_matrix,
                adapt_mass_matrix=False,
                dense_mass=True,
                model_args=args,
                rng_key=key,
            )

        def advance_one(state: HMCState, args: tuple) -> tuple[HMCState, tuple[Array, ...]]:
            def step(s: HMCState, _: None) -> tuple[HMCState, tuple[Array, ...]]:
                s = sample_kernel(s, model_args=args)
                return s, (ravel_pytree(s.z)[0], s.diverging, s.num_steps, s.energy)

            return jax.lax.scan(step, state, None, length=BLOCK_ITERATIONS)

        if one_chain_per_device(num_chains):
            init = jax.pmap(init_one, in_axes=(0, 0, None, None))
            advance = jax.pmap(advance_one, in_axes=(0, None))
        else:
            init = jax.jit(jax.vmap(init_one, in_axes=(0, 0, None, None)))
            advance = jax.jit(jax.vmap(advance_one, in_axes=(0, None)))
        return cls(init, advance, num_chains, adapt)

    def run(
        self,
        model_args: tuple,
        inverse_mass_matrix: np.ndarray,
        starts: np.ndarray,
        *,
        key: Array,
        num_samples: int,
        progress_bar: bool,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Adapt the step size (``adapt`` iterations), then draw ``num_samples`` per chain.

        Returns the draws, flat in the unconstrained space (chains, draws, d), and the
        per-draw ``diverging``, ``n_steps`` and ``energy``.
        """
        state = self.init(
            jax.random.split(key, self.num_chains),
            jnp.asarray(starts, jnp.float32),
            jnp.asarray(inverse_mass_matrix, jnp.float32),
            model_args,
        )
        adapt = self.adapt
        total = adapt + num_samples
        blocks = []
        for _ in tqdm.trange(-(-total // BLOCK_ITERATIONS), disable=not progress_bar):
            state, out = self.advance(state, model_args)
            blocks.append([np.asarray(x) for x in out])
        flat, diverging, n_steps, energy = (
            np.concatenate(parts, axis=1)[:, adapt:total] for parts in zip(*blocks, strict=True)
        )
        return np.asarray(flat, np.float64), nuts_stats(diverging, n_steps, energy)


def _constrained_draws(
    model: Callable[..., None],
    model_args: tuple,
    unravel: Callable[[Array], dict[str, Array]],
    flat: np.ndarray,
    sites: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """Return ``sites`` (latent or deterministic) of unconstrained draws (chains, draws, d)."""

    # one compiled program, the data as arguments (run eagerly, every operation compiled alone)
    @jax.jit
    def constrain(x: Array, args: tuple) -> dict[str, Array]:
        def one(row: Array) -> dict[str, Array]:
            values = constrain_fn(model, args, {}, unravel(row), return_deterministic=True)
            return {site: values[site] for site in sites}

        return jax.vmap(jax.vmap(one))(x)

    out = constrain(jnp.asarray(flat, jnp.float32), model_args)
    return {site: np.asarray(value) for site, value in out.items()}


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
    # warm_up_split gives both runs the same step-size phase: one program serves both
    assert pilot_adapt == main_adapt
    sampler = _Sampler.build(model, laplace.unravel, num_chains=num_chains, adapt=pilot_adapt)
    flat, _ = sampler.run(
        model_args,
        laplace.covariance,
        laplace.mode + noise @ root.T,
        key=k_pilot,
        num_samples=pilot_draws,
        progress_bar=progress_bar,
    )
    n = flat.shape[0] * flat.shape[1]
    covariance = (n * np.cov(flat.reshape(n, -1).T) + SHRINKAGE_DRAWS * laplace.covariance) / (
        n + SHRINKAGE_DRAWS
    )
    draws, stats = sampler.run(
        model_args,
        covariance,
        flat[:, -1],
        key=k_main,
        num_samples=num_samples,
        progress_bar=progress_bar,
    )
    fitted = _constrained_draws(model, model_args, laplace.unravel, draws, sites)
    return RunResult(fitted, "nuts", Diagnostics(sample_stats=stats))
