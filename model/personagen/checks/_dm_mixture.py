"""Reference models of department counts for held-out evaluation, in NumPy.

* a pooled multinomial (everybody buys the pooled department mix);
* each customer's own shares, smoothed towards the pooled mix;
* a mixture of Dirichlet-multinomials fitted by EM (written here: the E step is exact,
  the M step runs Minka's fixed-point iteration for each component's concentration
  vector on the responsibility-weighted counts, "Estimating a Dirichlet distribution",
  2000/2012, eq. 55), the model personagen's ``learn`` mode must beat.

Every score is ``log p(held-out counts | held-out total)``: the multinomial coefficient
is included, so the scores of all models, personagen's included, are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln, logsumexp

__all__ = [
    "DMMixture",
    "dm_log_pmf",
    "fit_dm_mixture",
    "multinomial_log_pmf",
    "reference_scores",
]

#: Pseudo-counts of the pooled mix added to a customer's own counts (own-shares model).
OWN_SHARE_PRIOR = 1.0
#: Smallest concentration of a cell (keeps departments nobody bought in a component finite).
MIN_ALPHA = 1e-4


def dm_log_pmf(y: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Dirichlet-multinomial log pmf of counts ``y`` (..., D) given ``alpha`` (..., D)."""
    n = y.sum(-1)
    a = alpha.sum(-1)
    return (
        gammaln(n + 1)
        + gammaln(a)
        - gammaln(n + a)
        + (gammaln(y + alpha) - gammaln(alpha) - gammaln(y + 1)).sum(-1)
    )


def multinomial_log_pmf(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Multinomial log pmf of counts ``y`` (..., D) given probabilities ``p`` (..., D)."""
    n = y.sum(-1)
    terms = np.where(y > 0, y * np.log(np.maximum(p, 1e-300)), 0.0)
    return gammaln(n + 1) - gammaln(y + 1).sum(-1) + terms.sum(-1)


@dataclass(frozen=True)
class DMMixture:
    """A fitted mixture of Dirichlet-multinomials.

    Attributes
    ----------
    weights : ndarray, shape (K,)
    alpha : ndarray, shape (K, D)
        Concentration vector of each component.
    log_likelihood : float
        Of the counts it was fitted to.
    iterations : int
        EM iterations of the best start.
    """

    weights: np.ndarray
    alpha: np.ndarray
    log_likelihood: float
    iterations: int

    def log_responsibilities(self, counts: np.ndarray) -> np.ndarray:
        """Return ``log p(component | counts)`` per row, shape (N, K)."""
        joint = np.log(self.weights) + dm_log_pmf(counts[:, None, :], self.alpha[None])
        return joint - logsumexp(joint, axis=1, keepdims=True)


def _m_step(counts: np.ndarray, resp: np.ndarray, alpha: np.ndarray, sweeps: int) -> np.ndarray:
    n = counts.sum(1)
    for _ in range(sweeps):
        a = alpha.sum(1)  # (K,)
        num = (resp[:, :, None] * (digamma(counts[:, None, :] + alpha) - digamma(alpha))).sum(0)
        den = (resp * (digamma(n[:, None] + a) - digamma(a))).sum(0)
        alpha = np.maximum(alpha * num / np.maximum(den[:, None], 1e-300), MIN_ALPHA)
    return alpha


def _one_start(
    counts: np.ndarray, k: int, rng: np.random.Generator, max_iter: int, tol: float
) -> DMMixture:
    n, d = counts.shape
    resp = rng.dirichlet(np.ones(k), size=n)
    pooled = (counts.sum(0) + 1.0) / (counts.sum() + d)
    alpha = np.tile(10.0 * pooled, (k, 1))
    previous, iterations = -np.inf, 0
    while iterations < max_iter:
        iterations += 1
        weights = np.maximum(resp.mean(0), 1e-12)
        alpha = _m_step(counts, resp, alpha, sweeps=3)
        joint = np.log(weights) + dm_log_pmf(counts[:, None, :], alpha[None])
        total = logsumexp(joint, axis=1)
        resp = np.exp(joint - total[:, None])
        ll = float(total.sum())
        if ll - previous < tol * abs(ll):
            break
        previous = ll
    return DMMixture(weights=resp.mean(0), alpha=alpha, log_likelihood=ll, iterations=iterations)


def fit_dm_mixture(
    counts: np.ndarray,
    k: int,
    *,
    seed: int,
    n_init: int = 4,
    max_iter: int = 300,
    tol: float = 1e-7,
) -> DMMixture:
    """Fit a ``k``-component Dirichlet-multinomial mixture to count rows by EM.

    ``n_init`` random starts (random responsibilities) from one seed; the one with
    the highest log-likelihood is returned. Stops when the log-likelihood improves by
    less than ``tol`` relative.
    """
    counts = np.asarray(counts, np.float64)
    rng = np.random.default_rng(seed)
    fits = [_one_start(counts, k, rng, max_iter, tol) for _ in range(n_init)]
    return max(fits, key=lambda f: f.log_likelihood)


def reference_scores(
    fitted_counts: np.ndarray, held_out: np.ndarray, mixture: DMMixture
) -> dict[str, np.ndarray]:
    """Held-out log pmf of each customer's counts under the reference models.

    Parameters
    ----------
    fitted_counts, held_out : ndarray, shape (N, D)
        Each customer's department counts in the fitted and the held-out half.
    mixture : DMMixture
        Fitted to ``fitted_counts``.

    Returns
    -------
    dict of str to ndarray, shape (N,)
        ``pooled``, ``own_shares``, ``em_class_only`` (components weighted by the
        customer's responsibilities from the fitted half, mix re-drawn) and
        ``em_conjugate`` (the customer's own Dirichlet updated with its fitted counts).
    """
    a = np.asarray(fitted_counts, np.float64)
    b = np.asarray(held_out, np.float64)
    pooled = (a.sum(0) + 1.0) / (a.sum() + a.shape[1])
    own = (a + OWN_SHARE_PRIOR * pooled) / (a.sum(1, keepdims=True) + OWN_SHARE_PRIOR)
    log_r = mixture.log_responsibilities(a)
    alpha = mixture.alpha[None]
    return {
        "pooled": multinomial_log_pmf(b, pooled[None]),
        "own_shares": multinomial_log_pmf(b, own),
        "em_class_only": logsumexp(log_r + dm_log_pmf(b[:, None, :], alpha), axis=1),
        "em_conjugate": logsumexp(log_r + dm_log_pmf(b[:, None, :], alpha + a[:, None]), axis=1),
    }
