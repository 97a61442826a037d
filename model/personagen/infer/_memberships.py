"""Per-customer results of a fitted model: persona probabilities and pointwise log-likelihood.

Membership probabilities are computed after the fit, draw by draw:
``softmax(log pi + ll)`` over (thinned) posterior draws, averaged and summarised by
its 90% interval, in batches of a fixed shape so that memory stays bounded and a
customer's numbers do not depend on who else is assigned with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import Array
from jaxtyping import Float

from personagen._compilation_cache import use_compilation_cache
from personagen.config import PriorArrays
from personagen.data import Observations
from personagen.infer._fitted import FittedModel
from personagen.infer._likelihood import customer_log_likelihood
from personagen.infer._weights import mixture_log_lik
from personagen.story import Population, as_arrays

__all__ = [
    "ASSIGN_CHUNK",
    "MEMBERSHIP_DRAWS",
    "Memberships",
    "assign_personas",
    "customer_memberships",
    "membership_probabilities",
    "memberships_table",
    "pointwise_log_likelihood",
]

#: Memberships average over at most this many evenly spaced posterior draws.
MEMBERSHIP_DRAWS = 200
#: Customers per compiled membership batch. Every customer is computed in a batch of
#: exactly this shape (the last one padded), so a customer's numbers do not depend on
#: how many others are assigned with it: ``personagen assign``, ``fit``'s memberships
#: and the service give the same bits (XLA's rounding can differ between shapes).
ASSIGN_CHUNK = 64
#: Posterior draws evaluated together when the profiles vary by draw.
DRAW_BATCH = 20
#: The central interval of the per-draw membership probabilities that is reported
#: (symmetric: the two ends are computed the same way from either side).
INTERVAL = (0.05, 0.95)


class Memberships(NamedTuple):
    """Each customer's persona probabilities under a fitted model, with their uncertainty.

    Attributes
    ----------
    mean : ndarray, shape (N, P)
        Probability of each persona averaged over the posterior draws (rows sum to 1).
    low, high : ndarray, shape (N, P)
        The 5% and 95% quantiles of that probability over the posterior draws.
    """

    mean: Float[np.ndarray, "customers personas"]
    low: Float[np.ndarray, "customers personas"]
    high: Float[np.ndarray, "customers personas"]


@partial(jax.jit, static_argnames=("profiles_fixed",))
def _chunk_memberships(
    pops: Population, priors: PriorArrays, obs: Observations, *, profiles_fixed: bool
) -> tuple[Array, Array, Array]:
    """Mean and 90% interval of ``softmax(log pi + ll)`` over the draws, for one chunk."""
    if profiles_fixed:  # one log-likelihood matrix for every draw: all draws at once
        fixed = customer_log_likelihood(jax.tree.map(lambda x: x[0], pops), priors, obs)
        per_draw = jax.nn.softmax(jnp.log(pops.persona_weights)[:, None, :] + fixed, axis=-1)
    else:

        def one(pop: Population) -> Array:
            ll = customer_log_likelihood(pop, priors, obs)
            return jax.nn.softmax(jnp.log(pop.persona_weights) + ll, axis=-1)

        # (S, n, P), DRAW_BATCH draws at a time: memory O(DRAW_BATCH n P) per step
        per_draw = jax.lax.map(one, pops, batch_size=DRAW_BATCH)
    low, high = _central_interval(per_draw)
    return per_draw.mean(axis=0), low, high


def _central_interval(per_draw: Array) -> tuple[Array, Array]:
    """Return the INTERVAL quantiles over axis 0 (linear interpolation, as numpy.quantile).

    From the few smallest and largest draws (``lax.top_k`` along the last axis) instead
    of a sort along the first: XLA's CPU sort made this 25 ms of a 256-customer batch.
    """
    x = jnp.moveaxis(per_draw, 0, -1)  # (n, P, S)
    n_draws = x.shape[-1]
    pos = INTERVAL[0] * (n_draws - 1)  # the same distance from either end
    below, frac = int(np.floor(pos)), pos - np.floor(pos)
    k = min(below + 2, n_draws)
    # the barrier keeps XLA from fusing the slices below into top_k, which turns it into
    # a full sort on the CPU (9 ms instead of 1 ms for 64 customers x 200 draws)
    smallest, largest = jax.lax.optimization_barrier(
        (-jax.lax.top_k(-x, k)[0], jax.lax.top_k(x, k)[0])  # ascending, descending
    )
    step = min(below + 1, n_draws - 1)
    low = smallest[..., below] + (smallest[..., step] - smallest[..., below]) * frac
    high = largest[..., below] + (largest[..., step] - largest[..., below]) * frac
    return low, high


@lru_cache(maxsize=2)  # the fits last used: a notebook comparing K fits keeps few
def _membership_inputs(fitted: FittedModel) -> tuple[Population, PriorArrays, bool]:
    """Return the thinned population draws and device priors of a fit (once per fit)."""
    pops = as_arrays(fitted.population_draws(MEMBERSHIP_DRAWS))
    return pops, as_arrays(fitted.priors), set(fitted.draws) == {"persona_weights"}


def _padded(obs: Observations, start: int, size: int) -> Observations:
    """Rows ``start : start + size`` of ``obs``, the last row repeated to fill ``size``."""
    n = obs.n_customers
    rows = np.minimum(np.arange(start, start + size), n - 1)
    return Observations(*(np.asarray(v)[rows] for v in obs))


def customer_memberships(fitted: FittedModel, obs: Observations) -> Memberships:
    """Return each customer's persona probabilities and their 90% intervals.

    Computed over at most ``MEMBERSHIP_DRAWS`` evenly spaced posterior draws, in
    batches of ``ASSIGN_CHUNK`` customers (memory O(ASSIGN_CHUNK x draws x P)).

    Parameters
    ----------
    fitted : FittedModel
        The fit.
    obs : Observations
        The customers to assign (those fitted, or new ones).

    Returns
    -------
    Memberships
    """
    use_compilation_cache()
    pops, priors, fixed = _membership_inputs(fitted)
    n = obs.n_customers
    # every batch is dispatched before any result is read: JAX runs them while Python
    # pads the next ones
    pending = [
        _chunk_memberships(
            pops, priors, as_arrays(_padded(obs, start, ASSIGN_CHUNK)), profiles_fixed=fixed
        )
        for start in range(0, n, ASSIGN_CHUNK)
    ]
    parts: list[tuple[np.ndarray, ...]] = [
        tuple(np.asarray(x)[: min(ASSIGN_CHUNK, n - k * ASSIGN_CHUNK)] for x in out)
        for k, out in enumerate(pending)
    ]
    if not parts:
        empty = np.zeros((0, fitted.priors.n_personas), np.float32)
        return Memberships(empty, empty, empty)
    mean, low, high = (np.concatenate(x) for x in zip(*parts, strict=True))
    return Memberships(mean, low, high)


def membership_probabilities(
    fitted: FittedModel, obs: Observations
) -> Float[np.ndarray, "customers personas"]:
    """Return each customer's persona probabilities averaged over posterior draws, (N, P).

    The ``mean`` of :func:`customer_memberships`; rows sum to 1.
    """
    return customer_memberships(fitted, obs).mean


def pointwise_log_likelihood(
    fitted: FittedModel, obs: Observations
) -> Float[np.ndarray, "chains draws customers"]:
    """Return ``log p(customer i | draw)`` with the persona summed out, shape (chains, draws, N).

    This is the ``log_likelihood`` group of the InferenceData (for LOO and WAIC).
    """
    use_compilation_cache()
    shape = np.shape(fitted.weights)[:2]
    flat = {k: np.reshape(v, (-1, *np.shape(v)[2:])) for k, v in fitted.draws.items()}
    pops = fitted.population_from_sites(flat)
    pj = as_arrays(fitted.priors)
    oj = as_arrays(obs)

    def one(pop: Population) -> Array:
        ll = customer_log_likelihood(pop, pj, oj)
        return mixture_log_lik(pop.persona_weights, ll)

    out = jax.jit(lambda p: jax.lax.map(one, p))(pops)
    return np.asarray(out).reshape(*shape, -1)


def memberships_table(
    customer_ids: Sequence[str], memberships: Memberships, personas: Sequence[str]
) -> pd.DataFrame:
    """Return the memberships table (the schema of ``memberships.csv``).

    Columns: ``customer_id``; ``p_<persona>`` for every persona (rows sum to 1);
    ``most_likely_persona``; ``q05_<persona>`` and ``q95_<persona>``, the 90% interval of
    each probability over the posterior draws.
    """
    table = pd.DataFrame(memberships.mean, columns=[f"p_{p}" for p in personas])
    table.insert(0, "customer_id", list(customer_ids))
    table["most_likely_persona"] = np.asarray(personas)[memberships.mean.argmax(1)]
    for prefix, values in (("q05", memberships.low), ("q95", memberships.high)):
        for k, persona in enumerate(personas):
            table[f"{prefix}_{persona}"] = values[:, k]
    return table


def assign_personas(
    fitted: FittedModel, obs: Observations, customer_ids: Sequence[str]
) -> pd.DataFrame:
    """Return the memberships table of customers under a fitted model (:func:`memberships_table`).

    ``personagen fit`` writes it for the fitted customers (``memberships.csv``),
    ``personagen assign`` for any customers, and the service answers with its rows.
    """
    return memberships_table(customer_ids, customer_memberships(fitted, obs), fitted.persona_names)
