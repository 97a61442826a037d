"""Fit persona weights to observed customers: NUTS or SVI, memberships, diagnostics.

The ``weights`` mode fixes every persona profile at its prior mean and learns
the persona weights ``pi``. The persona of each customer is marginalised by
hand: the customer's log-likelihood under every persona
(:func:`personagen.likelihood.customer_log_likelihood`, the customer story
with latent rates integrated out) plus ``log pi``, ``logsumexp`` over personas,
added with ``numpyro.factor`` inside the ``customers`` plate. With profiles
fixed, the (N, P) log-likelihood matrix does not depend on ``pi``, so it is
computed once and the model's density costs O(N P) per evaluation.

Membership probabilities are computed afterwards, draw by draw:
``softmax(log pi + ll)`` averaged over posterior draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import logsumexp
from numpyro import handlers
from numpyro.infer import MCMC, NUTS, SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoLaplaceApproximation

from personagen.likelihood import Observations, customer_log_likelihood
from personagen.model import Population
from personagen.priors import PriorArrays
from personagen.simulate import as_jax_priors, mean_population

__all__ = [
    "NUTS_MAX_CUSTOMERS",
    "FitResult",
    "fit_persona_weights",
    "membership_probabilities",
    "mixture_log_lik",
    "persona_log_likelihood",
    "pointwise_log_likelihood",
    "population_draws",
    "run_nuts",
    "run_svi",
    "svi_settled",
    "thin_draws",
    "weights_model",
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
#: Above this many customers ``method="auto"`` subsamples the ``customers`` plate in
#: the ``weights`` mode's SVI, ``SVI_BATCH_SIZE`` customers per step.
SVI_SUBSAMPLE_ABOVE = 200_000
SVI_BATCH_SIZE = 20_000
#: Above this many customers ``method="auto"`` uses SVI instead of NUTS
#: (NUMPYRO_NOTES: exact NUTS is practical up to a few times 10^4 customers here).
NUTS_MAX_CUSTOMERS = 20_000
Method = Literal["auto", "nuts", "svi"]


def weight_prior_concentration(priors: PriorArrays) -> Array:
    """Dirichlet prior of the fitted weights: centred on the YAML weights, worth P customers."""
    return jnp.asarray(priors.weights) * priors.n_personas


def weights_model(
    log_lik: Array, prior_concentration: Array, *, batch_size: int | None = None
) -> None:
    """Persona weights given the fixed (N, P) log-likelihood matrix.

    Parameters
    ----------
    log_lik : Array, shape (N, P)
        ``log p(customer i | persona p)``.
    prior_concentration : Array, shape (P,)
        Dirichlet prior of ``persona_weights``.
    batch_size : int, optional
        Customers per evaluation (SVI on large N): drawn uniformly with replacement
        and their summed log-likelihood scaled by N / batch_size, an unbiased
        estimate of the full sum. (numpyro's subsampled plate draws without
        replacement, a permutation of all N per step, which costs more than the
        full-batch step it replaces here.)
    """
    n_customers = log_lik.shape[0]
    weights = numpyro.sample("persona_weights", dist.Dirichlet(prior_concentration))
    if batch_size is None:
        with numpyro.plate("customers", n_customers, dim=-1):
            numpyro.factor("customer_log_lik", mixture_log_lik(weights, log_lik))
        return
    rows = jax.random.randint(numpyro.prng_key(), (batch_size,), 0, n_customers)
    with handlers.scale(scale=n_customers / batch_size):
        numpyro.factor("customer_log_lik", mixture_log_lik(weights, log_lik[rows]).sum())


@jax.jit
def mixture_log_lik(weights: Array, log_lik: Array) -> Array:
    """``logsumexp_p(log w_p + log_lik[..., p])``: the persona summed out, per customer."""
    return logsumexp(jnp.log(weights) + log_lik, axis=-1)


def persona_log_likelihood(priors: PriorArrays, obs: Observations) -> Array:
    """Return the (N, P) log-likelihood with profiles at their prior means."""
    pj = as_jax_priors(priors)
    pop = mean_population(priors)
    return jax.jit(customer_log_likelihood)(pop, pj, obs)


@dataclass(frozen=True)
class FitResult:
    """Posterior draws of the population sites and what produced them.

    Attributes
    ----------
    draws : dict of ndarray, each shape (chains, draws, ...)
        ``persona_weights`` (..., P) always; the ``profiles`` and ``learn`` modes add
        ``department_profile`` (..., P, D), ``order_value_loc`` and ``purchase_rate_loc``
        (..., P).
    method : str
        ``"nuts"`` or ``"svi"``.
    sample_stats : dict of ndarray, shape (chains, draws)
        NUTS diagnostics (``diverging``, ``n_steps``, ``energy``); empty for SVI.
    losses : ndarray
        SVI losses per step (empty for NUTS); with a subsampled plate they are noisy
        estimates of the full-data loss.
    svi_loss_change : float
        Change of the full-data SVI objective (nats) over the last tenth of the steps
        (:func:`run_svi`); NaN for NUTS.
    svi_loss_se : float
        Standard error of ``svi_loss_change``: its Monte Carlo error (none for the
        Laplace guide) or four float32 units of the objective, whichever is larger.
    """

    draws: dict[str, np.ndarray]
    method: str
    sample_stats: dict[str, np.ndarray]
    losses: np.ndarray
    svi_loss_change: float = float("nan")
    svi_loss_se: float = float("nan")

    @property
    def svi_converged(self) -> bool:
        """Whether SVI settled: change below ``SVI_CONVERGED`` plus 3 standard errors."""
        return svi_settled(self.svi_loss_change, self.svi_loss_se)

    @property
    def weights(self) -> np.ndarray:
        """Draws of the persona weights, shape (chains, draws, P)."""
        return self.draws["persona_weights"]


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
) -> FitResult:
    """Run ``kernel`` on ``model_args``: chains in parallel where there are devices for them.

    ``one_device`` says how chains share a single device: ``sequential`` compiles the
    sampler once per chain, ``vectorized`` once for all (worth it for large models).
    Returns the draws of ``sites`` grouped by chain and the NUTS diagnostics
    (``diverging``, ``n_steps``, ``energy``) every fit reports.
    """
    chain_method = "parallel" if jax.local_device_count() >= num_chains else one_device
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method,
        progress_bar=progress_bar,
        jit_model_args=jit_model_args,
    )
    mcmc.run(key, *model_args, extra_fields=("diverging", "num_steps", "energy"))
    samples = mcmc.get_samples(group_by_chain=True)
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {
        "diverging": np.asarray(extra["diverging"]),
        "n_steps": np.asarray(extra["num_steps"]),
        "energy": np.asarray(extra["energy"]),
    }
    draws = {site: np.asarray(samples[site]) for site in sites}
    return FitResult(draws, "nuts", stats, np.zeros(0))


def svi_settled(change: float, se: float) -> bool:
    """Whether a full-data objective change is below ``SVI_CONVERGED`` plus 3 standard errors."""
    return bool(change < SVI_CONVERGED + 3.0 * se)


@dataclass(frozen=True)
class SviRun:
    """Optimised parameters of an SVI run, its losses and its convergence measure."""

    params: dict
    losses: np.ndarray
    loss_change: float
    loss_se: float


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
    first = svi.run(k_run, head, *model_args, progress_bar=progress_bar, **kwargs)
    rest = svi.run(
        k_run,
        steps - head,
        *model_args,
        progress_bar=progress_bar,
        init_state=first.state,
        **kwargs,
    )
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
        change(jax.random.split(k_check, SVI_CHECK_REPEATS), first.params, rest.params, model_args),
        dtype=np.float64,
    )
    losses = np.concatenate([np.asarray(first.losses), np.asarray(rest.losses)])
    # the ELBOs are float32 sums: a difference below a few units in their last place
    # is rounding, not movement
    rounding = 4.0 * float(np.spacing(np.float32(abs(losses[-1]))))
    se = max(float(diffs.std(ddof=1) / np.sqrt(diffs.size)), rounding)
    return SviRun(rest.params, losses, abs(float(diffs.mean())), se)


def fit_persona_weights(
    priors: PriorArrays,
    obs: Observations,
    *,
    key: Array,
    method: Method = "auto",
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    svi_steps: int = 3_000,
    svi_batch_size: int | None = None,
    progress_bar: bool = False,
) -> FitResult:
    """Fit the persona weights (profiles fixed at their prior means).

    Parameters
    ----------
    priors : PriorArrays
        Numeric priors.
    obs : Observations
        Observed customers.
    key : Array
        PRNG key.
    method : {"auto", "nuts", "svi"}
        ``auto`` uses NUTS up to ``NUTS_MAX_CUSTOMERS`` customers, SVI above.
    num_warmup, num_samples, num_chains : int
        NUTS settings; SVI returns ``num_chains x num_samples`` draws of its
        Laplace approximation.
    svi_steps : int
        Optimisation steps of SVI (Adam with a decaying step size).
    svi_batch_size : int, optional
        Customers per SVI step (a subsampled ``customers`` plate). Default: all of
        them up to ``SVI_SUBSAMPLE_ABOVE`` customers, ``SVI_BATCH_SIZE`` above.
    progress_bar : bool
        Show numpyro's progress bar.

    Returns
    -------
    FitResult
    """
    log_lik = persona_log_likelihood(priors, obs)
    alpha = weight_prior_concentration(priors)
    n = log_lik.shape[0]
    chosen = ("nuts" if n <= NUTS_MAX_CUSTOMERS else "svi") if method == "auto" else method
    k_fit, k_draw = jax.random.split(key)
    if chosen == "nuts":
        return run_nuts(
            NUTS(weights_model),
            (log_lik, alpha),
            key=k_fit,
            sites=("persona_weights",),
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains,
            progress_bar=progress_bar,
        )
    if svi_batch_size is None:
        svi_batch_size = SVI_BATCH_SIZE if n > SVI_SUBSAMPLE_ABOVE else n
    batch = None if svi_batch_size >= n else svi_batch_size
    run = run_svi(
        weights_model,
        AutoLaplaceApproximation(weights_model),
        (log_lik, alpha),
        key=k_fit,
        steps=svi_steps,
        step_size=lambda i: 0.05 * 0.02 ** (i / svi_steps),
        progress_bar=progress_bar,
        fit_kwargs={"batch_size": batch},
    )
    # the Laplace approximation's Hessian from the full data, not from one subsample
    guide = AutoLaplaceApproximation(weights_model)
    handlers.seed(guide, k_draw)(log_lik, alpha)
    flat = guide.get_posterior(run.params).sample(k_draw, (num_chains * num_samples,))
    draws = guide._unpack_and_constrain(flat, run.params)["persona_weights"]
    draws = np.asarray(draws).reshape(num_chains, num_samples, -1)
    return FitResult(
        {"persona_weights": draws}, "svi", {}, run.losses, run.loss_change, run.loss_se
    )


#: Memberships average over at most this many evenly spaced posterior draws.
MEMBERSHIP_DRAWS = 200


def population_draws(priors: PriorArrays, draws: Mapping[str, Array]) -> Population:
    """Return a Population with a leading draw axis (S, ...).

    ``draws`` maps site names to arrays of shape (S, ...); the sites it lacks
    stay at their prior means (the ``weights`` mode fits only ``persona_weights``).
    """
    mean = mean_population(priors)
    n_draws = np.asarray(draws["persona_weights"]).shape[0]

    def site(name: str, value: Array) -> Array:
        if name in draws:
            return jnp.asarray(draws[name], jnp.float32)
        return jnp.broadcast_to(value, (n_draws, *jnp.shape(value)))

    return Population(*(site(name, value) for name, value in mean._asdict().items()))


def thin_draws(draws: Mapping[str, np.ndarray], max_draws: int) -> dict[str, np.ndarray]:
    """Flatten (chains, draws, ...) to (S, ...) and keep at most ``max_draws`` evenly spaced."""
    flat = {k: np.asarray(v).reshape(-1, *np.shape(v)[2:]) for k, v in draws.items()}
    n = next(iter(flat.values())).shape[0]
    step = max(1, -(-n // max_draws))
    return {k: v[::step] for k, v in flat.items()}


def membership_probabilities(
    priors: PriorArrays, obs: Observations, draws: Mapping[str, np.ndarray]
) -> Array:
    """Return each customer's persona probabilities averaged over posterior draws.

    Parameters
    ----------
    priors : PriorArrays
    obs : Observations
    draws : dict of ndarray, each shape (chains, draws, ...)
        Posterior draws (``FitResult.draws``); thinned to at most
        ``MEMBERSHIP_DRAWS`` evenly spaced draws.

    Returns
    -------
    Array, shape (N, P)
        Rows sum to 1.
    """
    thinned = thin_draws(draws, MEMBERSHIP_DRAWS)
    pops = population_draws(priors, thinned)
    pj = as_jax_priors(priors)
    if set(thinned) == {"persona_weights"}:  # profiles fixed: one log-likelihood matrix
        fixed = customer_log_likelihood(jax.tree.map(lambda x: x[0], pops), pj, obs)

        def log_lik(pop: Population) -> Array:
            return fixed
    else:

        def log_lik(pop: Population) -> Array:
            return customer_log_likelihood(pop, pj, obs)

    def step(i: int, acc: Array) -> Array:
        pop = jax.tree.map(lambda x: x[i], pops)
        return acc + jax.nn.softmax(jnp.log(pop.persona_weights) + log_lik(pop), axis=-1)

    n_draws = pops.persona_weights.shape[0]
    zeros = jnp.zeros((obs.n_orders.shape[0], priors.n_personas), jnp.float32)
    return jax.jit(lambda: jax.lax.fori_loop(0, n_draws, step, zeros))() / n_draws


def pointwise_log_likelihood(
    priors: PriorArrays, obs: Observations, draws: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Return ``log p(customer i | draw)`` with the persona summed out, shape (chains, draws, N).

    This is the ``log_likelihood`` group of the InferenceData (for LOO and WAIC).
    """
    shape = np.shape(draws["persona_weights"])[:2]
    flat = {k: np.reshape(v, (-1, *np.shape(v)[2:])) for k, v in draws.items()}
    pops = population_draws(priors, flat)
    pj = as_jax_priors(priors)

    def one(pop: Population) -> Array:
        ll = customer_log_likelihood(pop, pj, obs)
        return mixture_log_lik(pop.persona_weights, ll)

    out = jax.jit(lambda p: jax.lax.map(one, p))(pops)
    return np.asarray(out).reshape(*shape, -1)
