"""The ``weights`` mode: persona weights with every profile fixed at its prior mean.

The persona of each customer is marginalised by hand: the customer's
log-likelihood under every persona (:func:`personagen.infer.customer_log_likelihood`,
the customer story with latent rates integrated out) plus ``log pi``,
``logsumexp`` over personas, added with ``numpyro.factor`` inside the
``customers`` plate. With profiles fixed, the (N, P) log-likelihood matrix does
not depend on ``pi``, so it is computed once and the model's density costs
O(N P) per evaluation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax import Array
from jax.scipy.special import logsumexp
from jaxtyping import Float
from numpyro import handlers
from numpyro.infer import NUTS
from numpyro.infer.autoguide import AutoLaplaceApproximation

from personagen.config import PriorArrays, Structure
from personagen.data import Observations
from personagen.infer._likelihood import customer_log_likelihood
from personagen.infer._runners import (
    Method,
    RunResult,
    choose_method,
    group_by_chain,
    run_nuts,
    run_svi,
)
from personagen.story import as_arrays, mean_population

__all__ = [
    "SVI_BATCH_SIZE",
    "SVI_SUBSAMPLE_ABOVE",
    "fit_persona_weights",
    "mixture_log_lik",
    "persona_log_likelihood",
    "weights_model",
]

#: Above this many customers ``method="auto"`` subsamples the ``customers`` plate in
#: the ``weights`` mode's SVI, ``SVI_BATCH_SIZE`` customers per step.
SVI_SUBSAMPLE_ABOVE = 200_000
SVI_BATCH_SIZE = 20_000


def weights_model(
    log_lik: Float[Array, "customers personas"],
    prior_concentration: Float[Array, " personas"],
    *,
    batch_size: int | None = None,
) -> None:
    """Persona weights given the fixed (N, P) log-likelihood matrix.

    Parameters
    ----------
    log_lik : Array, shape (N, P)
        ``log p(customer i | persona p)``.
    prior_concentration : Array, shape (P,)
        Dirichlet prior of ``persona_weights``: ``weight_concentration * weights`` of
        the fitted priors (:meth:`personagen.infer.FittedModel.weight_prior`).
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
def mixture_log_lik(
    weights: Float[Array, "*draws personas"], log_lik: Float[Array, "customers personas"]
) -> Float[Array, " customers"]:
    """``logsumexp_p(log w_p + log_lik[..., p])``: the persona summed out, per customer."""
    return logsumexp(jnp.log(weights) + log_lik, axis=-1)


def persona_log_likelihood(
    priors: PriorArrays, structure: Structure, obs: Observations
) -> Float[Array, "customers personas"]:
    """Return the (N, P) log-likelihood with every profile at its prior mean."""
    pop = mean_population(priors, structure)
    return jax.jit(customer_log_likelihood)(pop, as_arrays(priors), as_arrays(obs))


def fit_persona_weights(
    priors: PriorArrays,
    structure: Structure,
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
) -> RunResult:
    """Fit the persona weights (profiles fixed at their prior means).

    Parameters
    ----------
    priors : PriorArrays
        The fitted priors (:func:`personagen.infer.fit_priors`).
    structure : Structure
        Static structure of the configuration.
    obs : Observations
        Observed customers.
    key : Array
        PRNG key.
    method : {"auto", "nuts", "svi"}
        :func:`~personagen.infer.choose_method`.
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
    RunResult
        Draws of ``persona_weights``.
    """
    log_lik = persona_log_likelihood(priors, structure, obs)
    alpha = jnp.asarray(priors.weight_concentration * priors.weights)
    n = log_lik.shape[0]
    k_fit, k_draw = jax.random.split(key)
    if choose_method(n, method) == "nuts":
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
    # the Laplace approximation's Hessian from the full data, not from one subsample:
    # a guide set up on the full data (batch_size None) with the optimised parameters
    guide = AutoLaplaceApproximation(weights_model)
    handlers.seed(guide, k_draw)(log_lik, alpha)
    flat = guide.sample_posterior(k_draw, run.params, sample_shape=(num_chains * num_samples,))
    draws = group_by_chain({"persona_weights": flat["persona_weights"]}, num_chains)
    return RunResult(draws, "svi", run.diagnostics())
