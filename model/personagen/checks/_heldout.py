"""Held-out evaluation: fit on one half of each customer's orders, score the other.

:func:`split_orders` puts each customer's orders, in time order, alternately into
half A and half B (customers with one order are left out). :func:`evaluate_heldout`
fits personagen on half A, and on half B for the stability check, and scores half B:

* ``class_only``: ``log p(y_B | n_B)`` with the persona probabilities from half A and
  a department mix (and, where the persona has a spread, a concentration) re-drawn from
  the persona's;
* ``conjugate``: the customer's own mix shared by both halves, its Dirichlet updated
  with the half-A counts (``alpha_p + y_A``), at each quadrature node of the
  concentration spread weighted by that node's posterior given half A;
* ``order_values``: the half-B revenue given its order count, the customer's mean order
  value updated with half A (normal-normal on the log scale), and
  ``order_counts``: the half-B order count under the story's count law at half the
  exposure (an approximation: the alternating split makes it nearly ``n / 2``);

each the log of the mean over posterior draws of the density (the log predictive
density). The same department-count scores for the reference models of
:mod:`._dm_mixture` fitted on the same half, and the split-half stability of the most
likely persona (labels matched between the halves by the Hungarian algorithm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
from jax import Array
from jax.scipy.special import logsumexp
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from personagen._compilation_cache import use_compilation_cache
from personagen.checks._dm_mixture import fit_dm_mixture, reference_scores
from personagen.config import PersonagenConfig, PriorArrays
from personagen.data import (
    Observations,
    TransactionColumns,
    observations_from_table,
    transactions_to_customers,
)
from personagen.infer import (
    MEMBERSHIP_DRAWS,
    FittedModel,
    Mode,
    customer_log_likelihood,
    fit_customers,
    membership_probabilities,
    order_count_log_prob,
)
from personagen.story import (
    Population,
    SpreadDirichletMultinomial,
    as_arrays,
    dm_log_pmf,
    fenton_wilkinson,
    node_multipliers,
    quadrature,
)

__all__ = [
    "HeldOut",
    "Stability",
    "agreement",
    "evaluate_heldout",
    "heldout_scores",
    "split_orders",
    "stability",
]


def split_orders(
    table: pd.DataFrame, columns: TransactionColumns | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split line items into alternating halves of each customer's orders, by time.

    A customer's orders are ranked by their first timestamp (ties by order id); even
    ranks go to half A, odd ranks to half B, so both halves span the customer's whole
    history. Customers with a single order appear in neither half.
    """
    columns = columns or TransactionColumns()
    key = table[[columns.customer, columns.order]].astype(str)
    when = pd.to_datetime(table[columns.date], errors="coerce")
    orders = (
        pd.DataFrame({"c": key[columns.customer], "o": key[columns.order], "t": when})
        .groupby(["c", "o"], sort=False)["t"]
        .min()
        .reset_index()
        .sort_values(["c", "t", "o"], kind="stable")
    )
    orders["rank"] = orders.groupby("c").cumcount()
    counts = orders.groupby("c")["rank"].transform("size")
    orders = orders[counts >= 2]
    half = pd.Series(
        orders["rank"].to_numpy() % 2, index=pd.MultiIndex.from_frame(orders[["c", "o"]])
    )
    index = pd.MultiIndex.from_frame(key.set_axis(["c", "o"], axis=1))
    side = half.reindex(index).to_numpy()
    return table[side == 0], table[side == 1]


@dataclass(frozen=True)
class Stability:
    """Agreement of the most likely persona fitted on either half.

    Attributes
    ----------
    same : float
        Share of customers with the same most likely persona (labels matched).
    chance : float
        The share expected if the two assignments were independent, given their
        persona shares.
    ari : float
        Adjusted Rand index of the two assignments (0 at chance, 1 when identical).
    """

    same: float
    chance: float
    ari: float


def _matching(labels_a: np.ndarray, labels_b: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Return the confusion matrix of two labellings and the matching that maximises agreement."""
    confusion = np.zeros((k, k))
    np.add.at(confusion, (labels_a, labels_b), 1)
    rows, cols = linear_sum_assignment(-confusion)  # personas are exchangeable in learn mode
    return confusion, rows, cols


def agreement(labels_a: np.ndarray, labels_b: np.ndarray, k: int) -> np.ndarray:
    """Per customer, whether its two labels agree once the labels are matched.

    The mean is :attr:`Stability.same`; per customer, it gives paired comparisons of the
    stability of two models on the same customers.
    """
    labels_a, labels_b = np.asarray(labels_a), np.asarray(labels_b)
    _, rows, cols = _matching(labels_a, labels_b, k)
    match = np.empty(k, dtype=np.int64)
    match[rows] = cols
    return match[labels_a] == labels_b


def stability(labels_a: np.ndarray, labels_b: np.ndarray, k: int) -> Stability:
    """Split-half agreement of two labellings of the same customers (see :class:`Stability`)."""
    confusion, rows, cols = _matching(np.asarray(labels_a), np.asarray(labels_b), k)
    n = len(labels_a)
    share_a = confusion.sum(1) / n
    share_b = confusion.sum(0) / n
    return Stability(
        same=float(confusion[rows, cols].sum() / n),
        chance=float((share_a[rows] * share_b[cols]).sum()),
        ari=float(adjusted_rand_score(labels_a, labels_b)),
    )


def _draw_scores(pop: Population, priors: PriorArrays, a: Observations, b: Observations) -> Array:
    """Per customer, under one posterior draw: the four held-out log densities, (4, N)."""
    log_w = jnp.log(pop.persona_weights) + customer_log_likelihood(pop, priors, a)
    log_pi = log_w - logsumexp(log_w, axis=1, keepdims=True)  # (N, P) memberships from A
    conc = pop.customer_concentration[:, None] * pop.department_profile  # (P, D)
    y_a = a.department_units.astype(jnp.float32)[:, None, :]
    y_b = b.department_units.astype(jnp.float32)[:, None, :]
    n_b = b.units.astype(jnp.float32)[:, None]
    spread = pop.concentration_spread
    class_only = SpreadDirichletMultinomial(conc, spread, n_b).log_prob(y_b)
    # conjugate: the customer's concentration and mix as half A left them, node by node
    from_a = SpreadDirichletMultinomial(conc, spread, a.units[:, None]).node_log_prob(y_a)
    post = from_a - logsumexp(from_a, axis=-1, keepdims=True)  # (N, P, J)
    nodes, _ = quadrature()
    conc_j = conc[:, None, :] * node_multipliers(spread, nodes)[..., None]  # (P, J, D)
    per_node = dm_log_pmf(y_b[:, :, None, :], conc_j + y_a[:, :, None, :], n_b[..., None])
    conjugate = logsumexp(post + per_node, axis=-1)
    # order values: mu ~ N(loc, tau^2); log R_h | mu ~ N(mu + shift_h, scale_h^2)
    tau2 = pop.order_value_sd**2
    shift_a, scale_a = fenton_wilkinson(a.n_orders[:, None], priors.log_order_value_sd_order)
    shift_b, scale_b = fenton_wilkinson(b.n_orders[:, None], priors.log_order_value_sd_order)
    x_a = jnp.log(a.revenue)[:, None] - shift_a
    precision = 1.0 / tau2 + 1.0 / scale_a**2
    mean = (pop.order_value_loc / tau2 + x_a / scale_a**2) / precision
    values = dist.LogNormal(mean + shift_b, jnp.sqrt(1.0 / precision + scale_b**2)).log_prob(
        b.revenue[:, None]
    )
    half_life = b.lifetime_months / 2.0
    counts = order_count_log_prob(pop, priors, b.n_orders, half_life)  # (N, P, S)
    counts = logsumexp(counts + jnp.log(priors.segment_probs)[None], axis=-1)
    terms = jnp.stack([class_only, conjugate, values, counts])  # (4, N, P)
    return logsumexp(log_pi[None] + terms, axis=-1)


#: Names of the personagen scores, in the order :func:`_draw_scores` stacks them.
SCORES = ("class_only", "conjugate", "order_values", "order_counts")


def heldout_scores(fitted: FittedModel, a: Observations, b: Observations) -> pd.DataFrame:
    """Return personagen's held-out log predictive densities per customer (:data:`SCORES`).

    ``a`` are the customers' fitted halves (the data of ``fitted``), ``b`` the held-out
    halves, row by row the same customers. Averaged over at most ``MEMBERSHIP_DRAWS``
    evenly spaced posterior draws.
    """
    use_compilation_cache()
    pops = as_arrays(fitted.population_draws(MEMBERSHIP_DRAWS))
    priors, oa, ob = as_arrays(fitted.priors), as_arrays(a), as_arrays(b)

    @jax.jit
    def run(pops: Population) -> Array:
        per_draw = jax.lax.map(lambda p: _draw_scores(p, priors, oa, ob), pops)  # (S, 4, N)
        return logsumexp(per_draw, axis=0) - jnp.log(per_draw.shape[0])

    return pd.DataFrame(np.asarray(run(pops)).T, columns=list(SCORES))


@dataclass(frozen=True)
class HeldOut:
    """Result of :func:`evaluate_heldout`.

    Attributes
    ----------
    customers : pandas.DataFrame
        One row per customer: ``customer_id``, units in each half, personagen's
        :data:`SCORES` and the reference models' scores (``pooled``, ``own_shares``,
        ``em_class_only``, ``em_conjugate``), in nats; and the most likely persona (EM
        component) fitted on either half, ``personagen_label_a``, ``personagen_label_b``,
        ``em_label_a``, ``em_label_b`` (0-based, as fitted: labels of the two halves are
        not matched, :func:`stability` matches them).
    summary : pandas.DataFrame
        Mean score per customer and its standard error, per model and form.
    stability : dict of str to Stability
        ``personagen`` and ``em`` split-half stability.
    fits : tuple of FittedModel
        personagen fitted on half A and on half B.
    dropped : int
        Customers with a single order (in neither half).
    """

    customers: pd.DataFrame
    summary: pd.DataFrame
    stability: dict[str, Stability]
    fits: tuple[FittedModel, FittedModel]
    dropped: int


def _halves(
    config: PersonagenConfig, transactions: pd.DataFrame, roll_up: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    columns = roll_up.get("columns", TransactionColumns())
    half_a, half_b = split_orders(transactions, columns)
    table_a = transactions_to_customers(half_a, config.hierarchy, **roll_up)
    table_b = transactions_to_customers(half_b, config.hierarchy, **roll_up)
    table_b = table_b.set_index("customer_id").loc[table_a["customer_id"]].reset_index()
    n_all = transactions[columns.customer].astype(str).nunique()
    return table_a, table_b, n_all - len(table_a)


def mean_se(values: pd.Series) -> tuple[float, float]:
    """Return the mean of per-customer scores and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def _summary(customers: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    rows = [mean_se(customers[c]) for c in names]
    return pd.DataFrame(
        rows, columns=["mean_log_density", "se"], index=pd.Index(names, name="score")
    )


def evaluate_heldout(
    config: PersonagenConfig,
    transactions: pd.DataFrame,
    *,
    key: Array,
    mode: Mode = "learn",
    n_personas: int | None = None,
    roll_up: dict[str, Any] | None = None,
    seed: int = 0,
    **fit_kwargs: Any,
) -> HeldOut:
    """Split each customer's orders, fit on one half, score the other (module docstring).

    Parameters
    ----------
    config : PersonagenConfig
        As for :func:`personagen.infer.fit_customers` (for ``learn``, the template).
    transactions : pandas.DataFrame
        Line items.
    key : jax.Array
        PRNG key of both fits (split once).
    mode, n_personas, fit_kwargs
        Passed to :func:`~personagen.infer.fit_customers`.
    roll_up : dict, optional
        ``columns``, ``mapping``, ``unmapped`` and ``source`` of
        :func:`~personagen.data.transactions_to_customers`.
    seed : int
        Seed of the EM mixture's starts.

    Returns
    -------
    HeldOut
    """
    roll_up = dict(roll_up or {})
    table_a, table_b, dropped = _halves(config, transactions, roll_up)
    source = roll_up.get("source", "<transactions>")
    obs_a = observations_from_table(table_a, config.hierarchy, source=f"{source} (half A)")
    obs_b = observations_from_table(table_b, config.hierarchy, source=f"{source} (half B)")
    key_a, key_b = jax.random.split(key)
    fit_a = fit_customers(config, obs_a, mode=mode, key=key_a, n_personas=n_personas, **fit_kwargs)
    fit_b = fit_customers(config, obs_b, mode=mode, key=key_b, n_personas=n_personas, **fit_kwargs)
    k = fit_a.priors.n_personas
    customers = pd.DataFrame(
        {
            "customer_id": table_a["customer_id"].to_numpy(),
            "units_a": np.asarray(obs_a.units),
            "units_b": np.asarray(obs_b.units),
        }
    )
    customers = pd.concat([customers, heldout_scores(fit_a, obs_a, obs_b)], axis=1)
    counts_a, counts_b = np.asarray(obs_a.department_units), np.asarray(obs_b.department_units)
    em_a = fit_dm_mixture(counts_a, k, seed=seed)
    em_b = fit_dm_mixture(counts_b, k, seed=seed + 1)
    for name, score in reference_scores(counts_a, counts_b, em_a).items():
        customers[name] = score
    names = [*SCORES, "pooled", "own_shares", "em_class_only", "em_conjugate"]
    labels = {
        "personagen": (
            membership_probabilities(fit_a, obs_a).argmax(1),
            membership_probabilities(fit_b, obs_b).argmax(1),
        ),
        "em": (
            em_a.log_responsibilities(counts_a).argmax(1),
            em_b.log_responsibilities(counts_b).argmax(1),
        ),
    }
    for name, (a, b) in labels.items():  # unmatched labels, for re-analysis
        customers[f"{name}_label_a"], customers[f"{name}_label_b"] = a, b
    return HeldOut(
        customers=customers,
        summary=_summary(customers, names),
        stability={name: stability(a, b, k) for name, (a, b) in labels.items()},
        fits=(fit_a, fit_b),
        dropped=dropped,
    )
