"""Chunked, deterministic forward sampling of synthetic customers.

Customer ``i`` of a run draws everything from ``fold_in(customer_key, i)``
(core story from ``fold_in(., 0)``, enriched details from ``fold_in(., 1)``),
so its values do not depend on the chunk size, on how many workers share the
run, or on whether the enriched details are drawn at all: the basic table is
exactly the enriched table restricted to its columns. Each chunk has a fixed
shape (the last one is padded and trimmed), so the sampler is compiled once.

Money is integer cents: revenue is split over departments by the customer's spend
shares (units times price levels, :mod:`personagen.story._prices`) and each
department's over its classes the same way, by
:func:`personagen.story.split_cents_by_shares` and
:func:`~personagen.story.split_grouped_cents`, so department values sum to the
total and class values to their department, exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax import Array
from jaxtyping import Float, Int
from numpyro import handlers

from personagen._compilation_cache import use_compilation_cache
from personagen.config import DAYS_PER_MONTH, SIZE_KIND_KIDS, PriorArrays, Structure
from personagen.errors import ConfigError, Problem, bad_argument
from personagen.story import (
    MAX_UNITS,
    Population,
    as_arrays,
    customer_core,
    customer_details,
    split_cents_by_shares,
    split_grouped_cents,
)

__all__ = [
    "MIN_BATCH",
    "CustomerChunk",
    "iter_customer_chunks",
    "run_keys",
]

#: Smallest compiled batch (unless ``chunk_size`` is smaller): runs of fewer
#: customers are padded to it, so that small runs of different sizes share one
#: compilation (about 10 s) instead of compiling once per size.
MIN_BATCH = 1_024


def batch_size(n_customers: int, chunk_size: int) -> int:
    """Return the customers per compiled batch of a run.

    ``n_customers`` rounded up to a power of two (at least :data:`MIN_BATCH`), at most
    ``chunk_size``. Runs of similar sizes then share a compiled sampler (in one process
    and through the persistent compilation cache): 1,500 and 2,000 customers both
    compile 2,048, at the cost of padding rows that take milliseconds against 10-17 s
    of compilation.
    """
    bucket = MIN_BATCH
    while bucket < n_customers:
        bucket *= 2
    return min(chunk_size, bucket)


@dataclass(frozen=True)
class CustomerChunk:
    """One chunk of simulated customers as NumPy arrays (rows ``start:start + n``).

    ``core`` holds, per customer: ``customer_index``, ``persona``, ``segment`` (the
    ``true_segment`` label: an engagement segment, or S for a dropped-out customer),
    ``n_orders``, ``units``, ``revenue_cents``, ``lifetime_days``, ``recency_days``,
    ``return_rate`` (the customer's propensity), ``returned_cents`` (its value returned,
    ``round(return_rate * revenue_cents)``), ``department_units`` (n, D),
    ``department_cents`` (n, D).
    ``details`` (enriched only, else empty) adds ``class_units`` (n, C),
    ``class_cents`` (n, C), ``baby_units``, ``child_units``, ``adult_size_units``
    (n, 5), ``gender``, ``age``, ``profile_draws`` (n, 8).
    """

    start: int
    core: Mapping[str, np.ndarray]
    details: Mapping[str, np.ndarray]

    @property
    def n(self) -> int:
        """Number of customers in the chunk."""
        return int(self.core["persona"].shape[0])

    def rows(self, lo: int, hi: int) -> CustomerChunk:
        """Return the customers of rows ``lo:hi`` of this chunk as a chunk of their own."""
        return CustomerChunk(
            start=self.start + lo,
            core={k: v[lo:hi] for k, v in self.core.items()},
            details={k: v[lo:hi] for k, v in self.details.items()},
        )


def run_keys(seed: int) -> tuple[Array, Array]:
    """Return ``(population_key, customer_key)`` of a run seed."""
    use_compilation_cache()
    root = jax.random.key(seed)
    return jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)


def _given_lifetime(pop, priors, key, persona, lifetime):
    """Draw ``(persona, segment)`` from their law given the customer's lifetime.

    ``p(z, s | T) ∝ w_z P(s | z) LogNormal(T; segment s)``; with the persona fixed, the
    segment alone. The lifetime is a segment observable (the fit scores it so), so a
    customer with a known observation window is more likely in a segment whose
    lifetimes look like it.
    """
    lifetime_law = dist.LogNormal(priors.log_lifetime_loc, priors.log_lifetime_sd)
    logits = (
        jnp.log(pop.persona_weights)[:, None]
        + jnp.log(jnp.asarray(priors.segment_probs))
        + lifetime_law.log_prob(lifetime)[None, :]
    )
    if persona is not None:
        row = logits[persona]
        return persona, jax.random.categorical(key, row).astype(jnp.int32)
    flat = jax.random.categorical(key, logits.reshape(-1))
    n_segments = logits.shape[1]
    return (flat // n_segments).astype(jnp.int32), (flat % n_segments).astype(jnp.int32)


def _one_core(pop, priors, key, persona, lifetime):
    fn = customer_core
    if lifetime is not None:
        z, s = _given_lifetime(pop, priors, jax.random.fold_in(key, 2), persona, lifetime)
        fn = handlers.condition(fn, data={"persona": z, "segment": s, "lifetime_months": lifetime})
    elif persona is not None:
        fn = handlers.condition(fn, data={"persona": persona})
    site = handlers.seed(fn, jax.random.fold_in(key, 0))(pop, priors)
    units = site["units"]
    revenue_cents = jnp.maximum(jnp.round(site["total_revenue"] * 100.0), 1.0).astype(jnp.int32)
    dept_units = site["department_units"]
    dept_cents = split_cents_by_shares(revenue_cents, site["department_spend_shares"])
    # whole cents returned: the table's return rate and the transactions' returns agree
    returned_cents = jnp.round(site["return_rate"] * revenue_cents).astype(jnp.int32)
    lifetime_days = jnp.maximum(jnp.round(site["lifetime_months"] * DAYS_PER_MONTH), 1.0)
    lifetime_days = lifetime_days.astype(jnp.int32)
    # days from the first to the last order; one-order customers: 0, so recency = lifetime
    last_day = jnp.floor(site["last_order_months"] * DAYS_PER_MONTH).astype(jnp.int32)
    recency = lifetime_days - jnp.minimum(last_day, lifetime_days)
    return {
        "persona": site["persona"].astype(jnp.int32),
        "segment": site["true_segment"].astype(jnp.int32),
        "n_orders": site["n_orders"],
        "units": units,
        "revenue_cents": revenue_cents,
        "lifetime_days": lifetime_days,
        "recency_days": recency,
        "return_rate": site["return_rate"],
        "returned_cents": returned_cents,
        "department_units": dept_units,
        "department_cents": dept_cents,
    }


def _one_details(pop, priors, structure, key, core):
    site_core = {"persona": core["persona"], "department_units": core["department_units"]}
    seeded = handlers.seed(customer_details, jax.random.fold_in(key, 1))
    d = seeded(pop, priors, structure, site_core)
    class_units = d["class_units"]
    class_cents = split_grouped_cents(
        core["department_cents"], d["class_spend_shares"], structure.class_index
    )
    kind = structure.size_kind
    kids = jnp.sum(jnp.where(kind == SIZE_KIND_KIDS, core["department_units"], 0), axis=-1)
    return {
        "class_units": class_units,
        "class_cents": class_cents,
        "baby_units": d["baby_units"].astype(jnp.int32),
        "child_units": kids - d["baby_units"].astype(jnp.int32),
        "adult_size_units": d["adult_size_units"].astype(jnp.int32),
        "gender": d["gender"].astype(jnp.int32),
        "age": d["age"].astype(jnp.int32),
        "profile_draws": d["profile_draws"],
    }


@partial(jax.jit, static_argnames=("structure", "n", "enriched"))
def _sample_chunk(
    pop: Population,
    priors: PriorArrays,
    customer_key: Array,
    start: Array,
    personas: Array | None,
    lifetimes: Array | None,
    *,
    structure: Structure,
    n: int,
    enriched: bool,
) -> tuple[dict[str, Array], dict[str, Array]]:
    """Draw customers ``start .. start + n - 1`` (one compiled batch).

    The structure, the batch size and whether the details are drawn are static (the
    compiled function's cache key, kept by ``jax.jit`` itself); the population, the
    prior values and the keys are traced arguments, so priors that differ only in
    their values (a sweep over a concentration, a posterior population) share one
    compilation. ``personas`` is ``None`` (drawn) or an int32 array of shape (n,);
    ``lifetimes`` is ``None`` (drawn) or a float32 array of months, shape (n,).
    """
    index = start + jnp.arange(n, dtype=jnp.uint32)
    keys = jax.vmap(lambda i: jax.random.fold_in(customer_key, i))(index)
    axes = (None, None, 0, None if personas is None else 0, None if lifetimes is None else 0)
    core = jax.vmap(_one_core, in_axes=axes)(pop, priors, keys, personas, lifetimes)
    details = (
        jax.vmap(_one_details, in_axes=(None, None, None, 0, 0))(pop, priors, structure, keys, core)
        if enriched
        else {}
    )
    return core, details


def _check_given(name: str, values: np.ndarray | None, n_customers: int) -> None:
    if values is not None and np.shape(values) != (n_customers,):
        raise bad_argument(
            name, f"expected one value per customer, shape ({n_customers},), got {np.shape(values)}"
        )


def _padded(values, offset, n_here, size, dtype, fill) -> Array | None:
    """One chunk's slice of a conditioning array, padded to the compiled batch size."""
    if values is None:
        return None
    padded = np.full(size, fill, dtype=dtype)
    padded[:n_here] = values[offset : offset + n_here]
    return jnp.asarray(padded)


def iter_customer_chunks(
    pop: Population,
    priors: PriorArrays,
    structure: Structure,
    *,
    key: Array,
    n_customers: int,
    chunk_size: int,
    enriched: bool,
    personas: Int[np.ndarray, " customers"] | None = None,
    lifetime_months: Float[np.ndarray, " customers"] | None = None,
    start: int = 0,
) -> Iterator[CustomerChunk]:
    """Yield simulated customers chunk by chunk.

    Parameters
    ----------
    pop : Population
        Population parameters (:func:`~personagen.story.mean_population`,
        :func:`~personagen.story.draw_population` or a fitted model's).
    priors : PriorArrays
        Numeric priors.
    structure : Structure
        Static structure of the configuration.
    key : Array
        The run's customer key (:func:`run_keys`).
    n_customers : int
        Number of customers to draw (indices ``start .. start + n_customers - 1``).
    chunk_size : int
        Customers per compiled batch; any value gives the same customers.
    enriched : bool
        Also draw the enriched-only details (class units, sizes, profile draws).
        The core arrays are identical either way.
    personas : ndarray of int, shape (n_customers,), optional
        Fixed persona of each customer (conditional generation); drawn if omitted.
    lifetime_months : ndarray of float, shape (n_customers,), optional
        Fixed lifetime of each customer in months (its observation window, e.g. for a
        posterior predictive check of real customers); the persona (unless fixed) and
        the segment are then drawn from their law given the lifetime, and the purchase
        process runs over exactly that window. Drawn from the segment's law if omitted.
    start : int
        Index of the first customer (for shards of a larger run).

    Yields
    ------
    CustomerChunk

    Raises
    ------
    ParameterError
        If ``chunk_size < 1`` or ``n_customers < 0``, or a conditioning array does not
        hold ``n_customers`` values (lifetimes: positive and finite), naming the parameter.
    ConfigError
        If a customer draws more units than exact money arithmetic allows (priors whose
        baskets or lifetimes are far too large).
    """
    if chunk_size < 1:
        raise bad_argument("chunk_size", f"expected a positive integer, got {chunk_size}")
    if n_customers < 0:
        raise bad_argument("n_customers", f"expected a count >= 0, got {n_customers}")
    _check_given("personas", personas, n_customers)
    _check_given("lifetime_months", lifetime_months, n_customers)
    if lifetime_months is not None and not np.all(
        np.isfinite(lifetime_months) & (lifetime_months > 0)
    ):
        raise bad_argument("lifetime_months", "expected positive, finite months for every customer")
    use_compilation_cache()
    size = batch_size(n_customers, chunk_size)
    numeric = as_arrays(priors)
    for offset in range(0, n_customers, size):
        n_here = min(size, n_customers - offset)
        core, details = _sample_chunk(
            pop,
            numeric,
            key,
            jnp.uint32(start + offset),
            _padded(personas, offset, n_here, size, np.int32, 0),
            _padded(lifetime_months, offset, n_here, size, np.float32, 1.0),
            structure=structure,
            n=size,
            enriched=enriched,
        )
        core_np = {k: np.asarray(v)[:n_here] for k, v in core.items()}
        if core_np["units"].size and int(core_np["units"].max()) >= MAX_UNITS:
            message = (
                f"a customer drew {int(core_np['units'].max())} units; exact int32 money "
                f"arithmetic allows at most {MAX_UNITS - 1} (docs/sampling.md): lower the "
                "basket_size or lifetime ranges of the priors"
            )
            raise ConfigError([Problem("the personas and segments files", "", message)])
        core_np["customer_index"] = np.arange(
            start + offset, start + offset + n_here, dtype=np.int64
        )
        details_np = {k: np.asarray(v)[:n_here] for k, v in details.items()}
        yield CustomerChunk(start=start + offset, core=core_np, details=details_np)
