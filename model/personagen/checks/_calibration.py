"""Simulation-based calibration (SBC) of the ``weights`` fit.

For each replication: draw persona weights from the fit's prior, simulate
customers with them (profiles at their prior means, the setting the
``weights`` mode assumes), fit by NUTS, and record the rank of each true weight
among thinned posterior draws. If the sampler and the likelihood agree and
NUTS is accurate, every rank is uniform on ``0..n_draws`` (Talts et al. 2018).
One ``MCMC`` object with ``jit_model_args=True`` is compiled once and fed
every simulated data set (same shapes), which keeps time and memory flat
(NUMPYRO_NOTES: a new ``MCMC`` per replication leaks and recompiles).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import Array
from numpyro.infer import MCMC, NUTS

from personagen.checks._predictive import observations_from_chunks
from personagen.config import PriorArrays, Structure
from personagen.infer import persona_log_likelihood, weights_model
from personagen.sample import iter_customer_chunks
from personagen.story import mean_population

__all__ = ["rank_uniformity_pvalues", "sbc_weight_ranks"]


def sbc_weight_ranks(
    priors: PriorArrays,
    structure: Structure,
    *,
    key: Array,
    n_replications: int,
    n_customers: int,
    n_draws: int = 99,
    num_warmup: int = 300,
    thin: int = 3,
) -> np.ndarray:
    """Return SBC ranks of the persona weights, shape (n_replications, P), values 0..n_draws.

    Parameters
    ----------
    priors : PriorArrays
        The fitted priors (:func:`personagen.infer.fit_priors`): their weight prior
        both draws the true weights and is the fit's prior.
    structure : Structure
        Static structure of the configuration.
    key : Array
        PRNG key.
    n_replications : int
        Number of simulated data sets.
    n_customers : int
        Customers per data set.
    n_draws : int
        Posterior draws kept per fit (every ``thin``-th of ``thin * n_draws``, to reduce
        autocorrelation), so ranks lie in ``0..n_draws``.
    num_warmup : int
        NUTS warm-up steps per fit.
    thin : int
        Thinning of the kept draws.
    """
    base = mean_population(priors, structure)
    alpha = jnp.asarray(priors.weight_concentration * priors.weights)
    mcmc = MCMC(
        NUTS(weights_model),
        num_warmup=num_warmup,
        num_samples=thin * n_draws,
        num_chains=1,
        progress_bar=False,
        jit_model_args=True,
    )
    ranks = np.zeros((n_replications, priors.n_personas), dtype=np.int64)
    for r in range(n_replications):
        k_pi, k_sim, k_fit = jax.random.split(jax.random.fold_in(key, r), 3)
        pi = dist.Dirichlet(alpha).sample(k_pi)
        pop = base._replace(persona_weights=pi)
        chunks = list(
            iter_customer_chunks(
                pop,
                priors,
                structure,
                key=k_sim,
                n_customers=n_customers,
                chunk_size=n_customers,
                enriched=False,
            )
        )
        ll = persona_log_likelihood(priors, structure, observations_from_chunks(chunks))
        mcmc.run(k_fit, ll, alpha)
        draws = np.asarray(mcmc.get_samples()["persona_weights"])[::thin]
        ranks[r] = (draws < np.asarray(pi)[None, :]).sum(0)
    return ranks


def rank_uniformity_pvalues(ranks: np.ndarray, n_draws: int, n_bins: int = 10) -> np.ndarray:
    """Chi-square p-value of uniform ranks, per persona, with ``n_bins`` equal bins."""
    import scipy.stats as ss

    bins = np.minimum(ranks * n_bins // (n_draws + 1), n_bins - 1)
    pvalues = []
    for p in range(ranks.shape[1]):
        counts = np.bincount(bins[:, p], minlength=n_bins)
        pvalues.append(ss.chisquare(counts).pvalue)
    return np.asarray(pvalues)
