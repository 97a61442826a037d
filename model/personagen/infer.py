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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import logsumexp
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
    "persona_log_likelihood",
    "pointwise_log_likelihood",
    "population_draws",
    "thin_draws",
    "weights_model",
]

#: SVI counts as converged when its mean loss (the negative log posterior
#: density at the mode: full-batch, so deterministic) moved by less than this many
#: nats between the last two tenths of its steps.
SVI_CONVERGED = 0.01
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
        Subsample size of the ``customers`` plate (SVI on large N); the factor is
        scaled by N / batch_size by the plate.
    """
    n_customers = log_lik.shape[0]
    weights = numpyro.sample("persona_weights", dist.Dirichlet(prior_concentration))
    with numpyro.plate("customers", n_customers, subsample_size=batch_size, dim=-1) as idx:
        rows = log_lik[idx]
        numpyro.factor("customer_log_lik", logsumexp(jnp.log(weights) + rows, axis=-1))


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
        SVI losses per step (empty for NUTS).
    """

    draws: dict[str, np.ndarray]
    method: str
    sample_stats: dict[str, np.ndarray]
    losses: np.ndarray

    @property
    def weights(self) -> np.ndarray:
        """Draws of the persona weights, shape (chains, draws, P)."""
        return self.draws["persona_weights"]

    @property
    def svi_loss_change(self) -> float:
        """Change of the mean SVI loss (nats) between the last two tenths of the steps.

        NaN for NUTS. Values below ``SVI_CONVERGED`` mean the optimiser settled.
        """
        if self.losses.size < 20:
            return float("nan")
        tenth = self.losses.size // 10
        last = float(np.mean(self.losses[-tenth:]))
        before = float(np.mean(self.losses[-2 * tenth : -tenth]))
        return abs(last - before)


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
        Optimisation steps of SVI (full batch, Adam with a decaying step size).
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
        chain_method = "parallel" if jax.local_device_count() >= num_chains else "sequential"
        mcmc = MCMC(
            NUTS(weights_model),
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains,
            chain_method=chain_method,
            progress_bar=progress_bar,
        )
        mcmc.run(k_fit, log_lik, alpha, extra_fields=("diverging", "num_steps", "energy"))
        draws = mcmc.get_samples(group_by_chain=True)["persona_weights"]
        extra = mcmc.get_extra_fields(group_by_chain=True)
        stats = {
            "diverging": np.asarray(extra["diverging"]),
            "n_steps": np.asarray(extra["num_steps"]),
            "energy": np.asarray(extra["energy"]),
        }
        return FitResult({"persona_weights": np.asarray(draws)}, "nuts", stats, np.zeros(0))
    guide = AutoLaplaceApproximation(weights_model)
    optimizer = numpyro.optim.Adam(step_size=lambda i: 0.05 * 0.02 ** (i / svi_steps))
    svi = SVI(weights_model, guide, optimizer, Trace_ELBO())
    result = svi.run(k_fit, svi_steps, log_lik, alpha, progress_bar=progress_bar)
    posterior = guide.get_posterior(result.params)
    flat = posterior.sample(k_draw, (num_chains * num_samples,))
    draws = guide._unpack_and_constrain(flat, result.params)["persona_weights"]
    draws = np.asarray(draws).reshape(num_chains, num_samples, -1)
    return FitResult({"persona_weights": draws}, "svi", {}, np.asarray(result.losses))


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
    flat = thin_draws(draws, shape[0] * shape[1])
    pops = population_draws(priors, flat)
    pj = as_jax_priors(priors)

    def one(pop: Population) -> Array:
        ll = customer_log_likelihood(pop, pj, obs)
        return logsumexp(jnp.log(pop.persona_weights) + ll, axis=-1)

    out = jax.jit(lambda p: jax.lax.map(one, p))(pops)
    return np.asarray(out).reshape(*shape, -1)
