"""The purchase process: how often a customer orders and when it stops (buy till you die).

Every customer places its first order at signup (time 0) and is then observed for
``T = lifetime_months`` months, up to the as-of date. While active it orders as a
Poisson process with rate ``lambda`` (orders per month); after *every* order, the
first included, it drops out for good with probability ``q``. Across a persona's
customers ``lambda ~ Gamma(r, alpha)`` and ``q ~ Beta(a, b)``. This is the modified
beta-geometric/NBD model of Batislam, Denizel and Filiztekin (2007), the BG/NBD of
Fader, Hardie and Lee (2005) with a dropout chance at the first order too, so that a
customer can buy once and never again.

Frequency, recency and lifetime all come out of this one process. What a
customer table records of it is ``x`` repeat orders (``total_purchases - 1``), the
time ``t_x`` of the last order (``lifetime - recency``) and ``T``. Given
``lambda`` and ``q`` the density of ``(x, t_x)`` is::

    p = lambda^x t_x^(x-1) / (x-1)! * [(1-q)^(x+1) e^(-lambda T) + q (1-q)^x e^(-lambda t_x)]

(for ``x = 0`` a probability, ``(1-q) e^(-lambda T) + q``): the customer is either
still active at ``T`` or dropped out right after its last order. Both terms
integrate in closed form over the gamma and the beta (:func:`process_log_prob`).

The sampler (:func:`personagen.story.customer_core`) draws the same law without a
loop over orders: ``g ~ Geometric(q)`` repeat orders before the dropout, ``n ~
Poisson(lambda T)`` arrivals of the undisturbed process in ``(0, T]``, ``x =
min(g, n)``, dropped out iff ``g <= n``, and the last order at the ``x``-th of ``n``
uniform arrival times, ``t_x = T * Beta(x, n - x + 1)``.
``tests/story/test_process.py`` checks that the draws follow :func:`process_log_prob`.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.scipy.special import gammaln
from jax.typing import ArrayLike

__all__ = ["combine_process_terms", "dropout_beta", "process_count_terms", "process_log_prob"]


def dropout_beta(dropout_loc: ArrayLike, concentration: ArrayLike) -> tuple[Array, Array]:
    """Return ``(a, b)`` of the dropout beta: mean ``sigmoid(dropout_loc)``, ``a + b = kappa``."""
    mean = 1.0 / (1.0 + jnp.exp(-jnp.asarray(dropout_loc)))
    return mean * concentration, (1.0 - mean) * concentration


def process_count_terms(
    repeat_orders: ArrayLike,
    rate_shape: ArrayLike,
    rate_rate: ArrayLike,
    dropout_a: ArrayLike,
    dropout_b: ArrayLike,
) -> tuple[Array, Array, Array]:
    """Return the parts of :func:`process_log_prob` that depend on ``x`` but not on times.

    Returns ``(common, log_active, log_dropped)``: ``log p = common + logaddexp(log_active
    - (r + x) log(alpha + T), log_dropped - (r + x) log(alpha + t_x)) + (x - 1) log t_x``
    (:func:`combine_process_terms`). A fit computes them once per distinct ``x`` (a few
    hundred values for thousands of customers) and gathers them per customer.
    """
    x = jnp.asarray(repeat_orders, jnp.float32)
    r, alpha, a, b = rate_shape, rate_rate, dropout_a, dropout_b
    # E[lambda^x e^(-lambda t)] = Gamma(r + x) / Gamma(r) alpha^r / (alpha + t)^(r + x)
    rate_part = gammaln(r + x) - gammaln(r) + r * jnp.log(alpha)
    # E[(1-q)^(x+1)] = B(a, b+x+1) / B(a, b); E[q (1-q)^x] = B(a+1, b+x) / B(a, b)
    beta_part = gammaln(b + x) - gammaln(a + b + x + 1.0) + gammaln(a + b) - gammaln(b)
    # the times of the x - 1 earlier orders, integrated out, give t_x^(x-1) / (x-1)!
    factorial = jnp.where(x > 0, gammaln(jnp.maximum(x, 1.0)), 0.0)
    return rate_part + beta_part - factorial, jnp.log(b + x), jnp.log(a) + 0.0 * x


def combine_process_terms(
    terms: tuple[Array, Array, Array],
    repeat_orders: ArrayLike,
    last_order_months: ArrayLike,
    lifetime_months: ArrayLike,
    rate_shape: ArrayLike,
    rate_rate: ArrayLike,
) -> Array:
    """``log p(x, t_x | T)`` from :func:`process_count_terms` and the times."""
    common, log_active, log_dropped = terms
    x = jnp.asarray(repeat_orders, jnp.float32)
    big_t = jnp.asarray(lifetime_months, jnp.float32)
    t_x = jnp.where(x > 0, jnp.asarray(last_order_months, jnp.float32), 0.0)
    power = rate_shape + x
    active = log_active - power * jnp.log(rate_rate + big_t)
    dropped = log_dropped - power * jnp.log(rate_rate + t_x)
    earlier = jnp.where(x > 0, (x - 1.0) * jnp.log(jnp.maximum(t_x, 1e-30)), 0.0)
    return common + jnp.logaddexp(active, dropped) + earlier


def process_log_prob(
    repeat_orders: ArrayLike,
    last_order_months: ArrayLike,
    lifetime_months: ArrayLike,
    rate_shape: ArrayLike,
    rate_rate: ArrayLike,
    dropout_a: ArrayLike,
    dropout_b: ArrayLike,
) -> Array:
    """Log density of a customer's ``(x, t_x)`` given ``T``, rate and dropout laws integrated out.

    Parameters
    ----------
    repeat_orders : array of int
        ``x``, orders after the first.
    last_order_months : array
        ``t_x``, months from the first to the last order (ignored where ``x = 0``).
    lifetime_months : array
        ``T``, months from the first order to the as-of date.
    rate_shape, rate_rate : array
        ``r`` and ``alpha`` of the gamma law of the purchase rate (orders per month).
    dropout_a, dropout_b : array
        The beta law of the per-order dropout probability.

    Returns
    -------
    Array
        Broadcast over all arguments: ``log p(x, t_x | T)`` (a log density in ``t_x``,
        per month, where ``x >= 1``; a log probability where ``x = 0``).
    """
    terms = process_count_terms(repeat_orders, rate_shape, rate_rate, dropout_a, dropout_b)
    return combine_process_terms(
        terms, repeat_orders, last_order_months, lifetime_months, rate_shape, rate_rate
    )
