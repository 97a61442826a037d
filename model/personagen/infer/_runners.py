"""Shared runners of every fit: NUTS, SVI with a convergence measure, and method choice.

Each fit mode builds its model and hands it to :func:`run_nuts` or :func:`run_svi`;
:func:`choose_method` decides between them by the number of customers, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import tqdm
from jax import Array
from numpyro.infer import MCMC, NUTS, SVI, Trace_ELBO
from numpyro.infer.svi import SVIState

__all__ = [
    "NUTS_EXTRA_FIELDS",
    "NUTS_MAX_CUSTOMERS",
    "SVI_CONVERGED",
    "Diagnostics",
    "Method",
    "RunResult",
    "SviRun",
    "choose_method",
    "group_by_chain",
    "nuts_result",
    "nuts_stats",
    "one_chain_per_device",
    "run_nuts",
    "run_svi",
    "svi_settled",
]

#: SVI counts as converged when its objective on the full data moved by less than
#: this many nats, beyond its Monte Carlo noise, over the last tenth of its steps
#: (see :func:`run_svi`).
SVI_CONVERGED = 0.01
#: The two ends of the last tenth are compared with SVI_CHECK_REPEATS ELBO estimates
#: of SVI_CHECK_PARTICLES particles each; both ends share the keys (common random
#: numbers), so the noise of each difference shrinks with the change in the guide.
#: For the Laplace guide (a point mass) the estimate is exact.
SVI_CHECK_REPEATS = 8
SVI_CHECK_PARTICLES = 32
#: Above this many customers ``method="auto"`` uses SVI instead of NUTS
#: (NUMPYRO_NOTES: exact NUTS is practical up to a few times 10^4 customers here).
NUTS_MAX_CUSTOMERS = 20_000
Method = Literal["auto", "nuts", "svi"]


def choose_method(n_customers: int, method: Method) -> Literal["nuts", "svi"]:
    """Return the method a fit of ``n_customers`` uses.

    ``auto`` is NUTS up to :data:`NUTS_MAX_CUSTOMERS` customers and SVI above.
    """
    if method == "auto":
        return "nuts" if n_customers <= NUTS_MAX_CUSTOMERS else "svi"
    return method


def svi_settled(change: float, se: float) -> bool:
    """Whether a full-data objective change is below ``SVI_CONVERGED`` plus 3 standard errors."""
    return bool(change < SVI_CONVERGED + 3.0 * se)


@dataclass(frozen=True)
class Diagnostics:
    """How a fit went.

    Attributes
    ----------
    sample_stats : dict of str to ndarray, each shape (chains, draws)
        NUTS: ``diverging``, ``n_steps``, ``energy``; empty for SVI.
    losses : ndarray
        SVI losses per step (empty for NUTS); with a subsampled plate they are noisy
        estimates of the full-data loss.
    svi_loss_change : float
        Change of the full-data SVI objective (nats) over the last tenth of the steps
        (:func:`run_svi`); NaN for NUTS.
    svi_loss_se : float
        Standard error of ``svi_loss_change``: its Monte Carlo error (none for the
        Laplace guide) or four float32 units of the objective, whichever is larger.
    label_switching : float
        ``learn`` mode: fraction of draws whose labels the relabelling permuted;
        0.0 otherwise.
    """

    sample_stats: Mapping[str, np.ndarray] = field(default_factory=dict)
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    svi_loss_change: float = float("nan")
    svi_loss_se: float = float("nan")
    label_switching: float = 0.0

    @property
    def svi_converged(self) -> bool:
        """Whether SVI settled (:func:`svi_settled`); False for NUTS."""
        return svi_settled(self.svi_loss_change, self.svi_loss_se)

    @property
    def divergences(self) -> int:
        """Number of divergent NUTS transitions (0 for SVI)."""
        diverging = self.sample_stats.get("diverging")
        return int(np.sum(diverging)) if diverging is not None else 0


@dataclass(frozen=True)
class RunResult:
    """What a runner returns: draws of the fitted sites, the method, the diagnostics.

    Attributes
    ----------
    draws : dict of str to ndarray, each shape (chains, draws, ...)
        Posterior draws of the fitted population sites.
    method : {"nuts", "svi"}
        The method that made them.
    diagnostics : Diagnostics
    """

    draws: dict[str, np.ndarray]
    method: Literal["nuts", "svi"]
    diagnostics: Diagnostics


def group_by_chain(flat: Mapping[str, Array], num_chains: int) -> dict[str, np.ndarray]:
    """Reshape draws (chains * draws, ...) to (chains, draws, ...): the one reshape of SVI draws."""
    return {
        site: np.asarray(value).reshape(num_chains, -1, *np.shape(value)[1:])
        for site, value in flat.items()
    }


def run_nuts(
    kernel: NUTS,
    model_args: tuple,
    *,
    key: Array,
    sites: tuple[str, ...],
    num_warmup: int,
    num_samples: int,
    num_chains: int,
    progress_bar: bool,
    jit_model_args: bool = False,
    one_device: Literal["sequential", "vectorized"] = "sequential",
) -> RunResult:
    """Run ``kernel`` on ``model_args``: chains in parallel where there are devices for them.

    ``one_device`` says how chains share a single device: ``sequential`` compiles the
    sampler once per chain, ``vectorized`` once for all (worth it for large models).
    Returns the draws of ``sites`` grouped by chain and the NUTS diagnostics
    (``diverging``, ``n_steps``, ``energy``) every fit reports.
    """
    chain_method = "parallel" if one_chain_per_device(num_chains) else one_device
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
        jit_model_args=jit_model_args,
    )
    mcmc.run(key, *model_args, extra_fields=NUTS_EXTRA_FIELDS)
    return nuts_result(mcmc, sites)


#: The per-draw fields every NUTS run records (``extra_fields`` of ``MCMC.run``).
NUTS_EXTRA_FIELDS = ("diverging", "num_steps", "energy")


def nuts_result(mcmc: MCMC, sites: tuple[str, ...]) -> RunResult:
    """Return the draws of ``sites`` of a finished run (grouped by chain) and its diagnostics.

    ``mcmc`` must have been run with ``extra_fields=NUTS_EXTRA_FIELDS``.
    """
    samples = mcmc.get_samples(group_by_chain=True)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    draws = {site: np.asarray(samples[site]) for site in sites}
    stats = nuts_stats(extra["diverging"], extra["num_steps"], extra["energy"])
    return RunResult(draws, "nuts", Diagnostics(sample_stats=stats))


def nuts_stats(diverging: object, num_steps: object, energy: object) -> dict[str, np.ndarray]:
    """Return the per-draw NUTS fields, each (chains, draws), named as ``Diagnostics`` says."""
    return {
        "diverging": np.asarray(diverging),
        "n_steps": np.asarray(num_steps),
        "energy": np.asarray(energy),
    }


def one_chain_per_device(num_chains: int) -> bool:
    """Whether there is a device for every chain (chains then run in parallel, one each)."""
    return jax.local_device_count() >= num_chains


@dataclass(frozen=True)
class SviRun:
    """Optimised parameters of an SVI run, its losses and its convergence measure.

    Attributes
    ----------
    params : dict
        The guide's optimised parameters.
    losses : ndarray
        Loss per step.
    loss_change, loss_se : float
        As :attr:`Diagnostics.svi_loss_change` and :attr:`Diagnostics.svi_loss_se`.
    """

    params: dict
    losses: np.ndarray
    loss_change: float
    loss_se: float

    def diagnostics(self) -> Diagnostics:
        """Return the run's :class:`Diagnostics`."""
        return Diagnostics(
            losses=self.losses, svi_loss_change=self.loss_change, svi_loss_se=self.loss_se
        )


#: Most SVI steps per call of the compiled update loop (the progress bar moves per call).
SVI_BLOCK_STEPS = 250


def _svi_program(
    svi: SVI, max_steps: int, kwargs: Mapping[str, object]
) -> Callable[[SVIState, tuple, int], tuple[SVIState, Array]]:
    """``n`` SVI steps (``n <= max_steps``) as one compiled program, the data as arguments.

    numpyro's ``SVI.run`` makes the data constants of a program compiled per call (and
    ``run_svi`` stops once at nine tenths); here every call, and every fit of the same
    shapes, share one program (the persistent compilation cache finds it again in a new
    process).
    """

    @jax.jit
    def advance(state: SVIState, args: tuple, n: Array) -> tuple[SVIState, Array]:
        def body(i: Array, carry: tuple[SVIState, Array]) -> tuple[SVIState, Array]:
            state, losses = carry
            state, loss = svi.update(state, *args, **kwargs)
            return state, losses.at[i].set(loss)

        losses = jnp.full(max_steps, jnp.nan, jnp.float32)
        return jax.lax.fori_loop(0, n, body, (state, losses))

    return advance


def run_svi(
    model: Callable[..., None],
    guide: Callable[..., None],
    model_args: tuple,
    *,
    key: Array,
    steps: int,
    step_size: Callable[[int], float],
    progress_bar: bool,
    fit_kwargs: Mapping[str, object] | None = None,
) -> SviRun:
    """Optimise ``guide`` with Adam, then measure how far the objective still moved.

    The run stops once at nine tenths of ``steps``; ``loss_change`` is the
    difference of the full-data ELBO (``model_args`` without ``fit_kwargs``, such as a
    subsample size) between that point and the end, averaged over
    ``SVI_CHECK_REPEATS`` estimates that use the same keys at both ends, and
    ``loss_se`` its standard error (at least four float32 units of the objective).
    The per-step losses cannot serve: they are noisy for stochastic guides and
    subsampled plates.
    """
    kwargs = dict(fit_kwargs or {})
    svi = SVI(model, guide, numpyro.optim.Adam(step_size=step_size), Trace_ELBO())
    k_run, k_check = jax.random.split(key)
    head = steps - steps // 10
    block = min(steps, SVI_BLOCK_STEPS)
    advance = _svi_program(svi, block, kwargs)
    state = svi.init(k_run, *model_args, **kwargs)
    parts = []
    snapshots = []
    with tqdm.tqdm(total=steps, disable=not progress_bar, desc="SVI") as bar:
        done = 0
        for end in (head, steps):  # stop at nine tenths, then run to the end
            while done < end:
                n = min(block, end - done)
                state, block_losses = advance(state, model_args, n)
                parts.append(np.asarray(block_losses)[:n])
                done += n
                bar.update(n)
            snapshots.append(svi.get_params(state))
    first_params, rest_params = snapshots
    elbo = Trace_ELBO(num_particles=SVI_CHECK_PARTICLES)

    # jitted, with the data as arguments: run eagerly, every operation would compile alone
    @jax.jit
    def change(keys: Array, params0: dict, params1: dict, args: tuple) -> Array:
        def one(k: Array) -> Array:
            return elbo.loss(k, params0, model, guide, *args) - elbo.loss(
                k, params1, model, guide, *args
            )

        return jax.vmap(one)(keys)

    diffs = np.asarray(
        change(jax.random.split(k_check, SVI_CHECK_REPEATS), first_params, rest_params, model_args),
        dtype=np.float64,
    )
    losses = np.concatenate(parts)
    # the ELBOs are float32 sums: a difference below a few units in their last place
    # is rounding, not movement
    rounding = 4.0 * float(np.spacing(np.float32(abs(losses[-1]))))
    se = max(float(diffs.std(ddof=1) / np.sqrt(diffs.size)), rounding)
    return SviRun(rest_params, losses, abs(float(diffs.mean())), se)
