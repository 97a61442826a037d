"""Per-customer results of a fitted model: persona probabilities and pointwise log-likelihood.

Membership probabilities are computed after the fit, draw by draw:
``softmax(log pi + ll)`` averaged over (thinned) posterior draws, one draw at a
time (``lax.fori_loop``), so memory stays O(N P).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import Array
from jaxtyping import Float

from personagen._compilation_cache import use_compilation_cache
from personagen.data import Observations
from personagen.infer._fitted import FittedModel
from personagen.infer._likelihood import customer_log_likelihood
from personagen.infer._weights import mixture_log_lik
from personagen.story import Population, as_arrays

__all__ = [
    "MEMBERSHIP_DRAWS",
    "assign_personas",
    "membership_probabilities",
    "memberships_table",
    "pointwise_log_likelihood",
]

#: Memberships average over at most this many evenly spaced posterior draws.
MEMBERSHIP_DRAWS = 200


def membership_probabilities(
    fitted: FittedModel, obs: Observations
) -> Float[Array, "customers personas"]:
    """Return each customer's persona probabilities averaged over posterior draws.

    Parameters
    ----------
    fitted : FittedModel
        The fit (its draws are thinned to at most ``MEMBERSHIP_DRAWS``).
    obs : Observations
        The customers to assign (those fitted, or new ones).

    Returns
    -------
    Array, shape (N, P)
        Rows sum to 1.
    """
    use_compilation_cache()
    pops = fitted.population_draws(MEMBERSHIP_DRAWS)
    pj = as_arrays(fitted.priors)
    oj = as_arrays(obs)
    if set(fitted.draws) == {"persona_weights"}:  # profiles fixed: one log-likelihood matrix
        fixed = customer_log_likelihood(jax.tree.map(lambda x: x[0], pops), pj, oj)

        def log_lik(pop: Population) -> Array:
            return fixed
    else:

        def log_lik(pop: Population) -> Array:
            return customer_log_likelihood(pop, pj, oj)

    def step(i: int, acc: Array) -> Array:
        pop = jax.tree.map(lambda x: x[i], pops)
        return acc + jax.nn.softmax(jnp.log(pop.persona_weights) + log_lik(pop), axis=-1)

    n_draws = pops.persona_weights.shape[0]
    zeros = jnp.zeros((obs.n_customers, fitted.priors.n_personas), jnp.float32)
    return jax.jit(lambda: jax.lax.fori_loop(0, n_draws, step, zeros))() / n_draws


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
    customer_ids: Sequence[str], probabilities: np.ndarray, personas: Sequence[str]
) -> pd.DataFrame:
    """Return a table of customer id, probability per persona and most likely persona."""
    table = pd.DataFrame(np.asarray(probabilities), columns=[f"p_{p}" for p in personas])
    table.insert(0, "customer_id", list(customer_ids))
    table["most_likely_persona"] = np.asarray(personas)[np.asarray(probabilities).argmax(1)]
    return table


def assign_personas(
    fitted: FittedModel, obs: Observations, customer_ids: Sequence[str]
) -> pd.DataFrame:
    """Return the memberships table of customers under a fitted model.

    Columns: ``customer_id``, ``p_<persona>`` for every persona (rows sum to 1) and
    ``most_likely_persona``. ``personagen fit`` writes it for the fitted customers
    (``memberships.csv``), ``personagen assign`` for any customers.
    """
    probs = np.asarray(membership_probabilities(fitted, obs))
    return memberships_table(customer_ids, probs, fitted.persona_names)
