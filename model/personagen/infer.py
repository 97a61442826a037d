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
from personagen.priors import PriorArrays
from personagen.simulate import as_jax_priors, mean_population

__all__ = [
    "NUTS_MAX_CUSTOMERS",
    "FitResult",
    "fit_persona_weights",
    "membership_probabilities",
    "persona_log_likelihood",
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
    """Posterior draws of the persona weights and what produced them.

    Attributes
    ----------
    weights : ndarray, shape (chains, draws, P)
    method : str
        ``"nuts"`` or ``"svi"``.
    sample_stats : dict of ndarray, shape (chains, draws)
        NUTS diagnostics (``diverging``, ``tree_depth``, ...); empty for SVI.
    log_lik : ndarray, shape (N, P)
    losses : ndarray
        SVI losses per step (empty for NUTS).
    """

    weights: np.ndarray
    method: str
    sample_stats: dict[str, np.ndarray]
    log_lik: np.ndarray
    losses: np.ndarray

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
        return FitResult(np.asarray(draws), "nuts", stats, np.asarray(log_lik), np.zeros(0))
    guide = AutoLaplaceApproximation(weights_model)
    optimizer = numpyro.optim.Adam(step_size=lambda i: 0.05 * 0.02 ** (i / svi_steps))
    svi = SVI(weights_model, guide, optimizer, Trace_ELBO())
    result = svi.run(k_fit, svi_steps, log_lik, alpha, progress_bar=progress_bar)
    posterior = guide.get_posterior(result.params)
    flat = posterior.sample(k_draw, (num_chains * num_samples,))
    draws = guide._unpack_and_constrain(flat, result.params)["persona_weights"]
    draws = np.asarray(draws).reshape(num_chains, num_samples, -1)
    return FitResult(draws, "svi", {}, np.asarray(log_lik), np.asarray(result.losses))


#: Memberships average over at most this many evenly spaced posterior draws.
MEMBERSHIP_DRAWS = 200


def membership_probabilities(log_lik: Array, weight_draws: Array) -> Array:
    """Return each customer's persona probabilities averaged over posterior draws.

    Parameters
    ----------
    log_lik : Array, shape (N, P)
    weight_draws : Array, shape (draws, P)
        Thinned to at most ``MEMBERSHIP_DRAWS`` evenly spaced draws.

    Returns
    -------
    Array, shape (N, P)
        Rows sum to 1.
    """
    log_lik = jnp.asarray(log_lik)
    weight_draws = jnp.asarray(weight_draws)
    weight_draws = weight_draws[:: max(1, weight_draws.shape[0] // MEMBERSHIP_DRAWS)]

    def one(w: Array) -> Array:
        return jax.nn.softmax(jnp.log(w) + log_lik, axis=-1)

    total = jax.lax.fori_loop(
        0,
        weight_draws.shape[0],
        lambda i, acc: acc + one(weight_draws[i]),
        jnp.zeros_like(log_lik),
    )
    return total / weight_draws.shape[0]
