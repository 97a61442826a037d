"""Chunked, deterministic forward sampling of synthetic customers.

Customer ``i`` of a run draws everything from ``fold_in(customer_key, i)``
(core story from ``fold_in(., 0)``, enriched details from ``fold_in(., 1)``),
so its values do not depend on the chunk size, on how many workers share the
run, or on whether the enriched details are drawn at all: the basic table is
exactly the enriched table restricted to its columns. Each chunk has a fixed
shape (the last one is padded and trimmed), so the sampler is compiled once.

Money is integer cents: revenue is split over departments and classes by
exact integer arithmetic on cumulative units (``floor(R * cum_units / units)``),
so department values sum to the total and class values to their department.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from numpyro import handlers

from personagen._samplers import cumsum
from personagen.model import Population, customer_core, customer_details, population_means
from personagen.model import population_model as _population_model
from personagen.priors import SIZE_KIND_KIDS, PriorArrays

__all__ = [
    "DAYS_PER_MONTH",
    "CustomerChunk",
    "as_jax_priors",
    "draw_population",
    "iter_customer_chunks",
    "mean_population",
    "run_keys",
]

#: Average days per month (365.25 / 12), used to turn lifetimes into days.
DAYS_PER_MONTH = 30.4375
#: Exact int32 cents need ``(R % U) * cum_units < 2**31``, i.e. fewer units than this.
MAX_UNITS = 46_341
#: Smallest compiled batch (unless ``chunk_size`` is smaller): runs of fewer
#: customers are padded to it, so that small runs of different sizes share one
#: compilation (about 10 s) instead of compiling once per size.
MIN_BATCH = 1_024


@dataclass(frozen=True)
class CustomerChunk:
    """One chunk of simulated customers as NumPy arrays (rows ``start:start + n``).

    ``core`` holds, per customer: ``customer_index``, ``persona``, ``segment``,
    ``n_orders``, ``units``, ``revenue_cents``, ``lifetime_days``, ``recency_days``,
    ``return_rate``, ``department_units`` (n, D), ``department_cents`` (n, D).
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


def run_keys(seed: int) -> tuple[Array, Array]:
    """Return ``(population_key, customer_key)`` of a run seed."""
    root = jax.random.key(seed)
    return jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)


def mean_population(priors: PriorArrays) -> Population:
    """Return the population parameters fixed at their prior means (the YAML values)."""
    return _trace_population(
        priors, handlers.substitute(_population_model, data=population_means(priors)), None
    )


def draw_population(priors: PriorArrays, *, key: Array) -> Population:
    """Draw the population parameters from their priors."""
    return _trace_population(priors, _population_model, key)


def _trace_population(priors, fn, key) -> Population:
    seeded = handlers.seed(fn, key if key is not None else jax.random.key(0))
    return jax.tree.map(jnp.asarray, seeded(as_jax_priors(priors)))


def _cum_cents(revenue_cents: Array, cum_units: Array, units: Array) -> Array:
    """Exact ``floor(revenue * cum_units / units)`` in int32 without overflow."""
    q = revenue_cents // units
    r = revenue_cents % units
    return q[..., None] * cum_units + (r[..., None] * cum_units) // units[..., None]


def _diff0(cum: Array) -> Array:
    return jnp.diff(jnp.concatenate([jnp.zeros_like(cum[..., :1]), cum], axis=-1), axis=-1)


def _one_core(pop, priors, key, persona):
    fn = customer_core
    if persona is not None:
        fn = handlers.condition(fn, data={"persona": persona})
    site = handlers.seed(fn, jax.random.fold_in(key, 0))(pop, priors)
    units = site["units"]
    revenue_cents = jnp.maximum(jnp.round(site["total_revenue"] * 100.0), 1.0).astype(jnp.int32)
    dept_units = site["department_units"]
    dept_cents = _diff0(_cum_cents(revenue_cents, cumsum(dept_units), units))
    lifetime_days = jnp.maximum(jnp.round(site["lifetime_months"] * DAYS_PER_MONTH), 1.0)
    lifetime_days = lifetime_days.astype(jnp.int32)
    recency = jnp.minimum(jnp.floor(site["recency_days"]).astype(jnp.int32), lifetime_days)
    return {
        "persona": site["persona"].astype(jnp.int32),
        "segment": site["segment"].astype(jnp.int32),
        "n_orders": site["n_orders"],
        "units": units,
        "revenue_cents": revenue_cents,
        "lifetime_days": lifetime_days,
        "recency_days": recency,
        "return_rate": site["return_rate"],
        "department_units": dept_units,
        "department_cents": dept_cents,
    }


def _one_details(pop, priors, key, core):
    site_core = {"persona": core["persona"], "department_units": core["department_units"]}
    d = handlers.seed(customer_details, jax.random.fold_in(key, 1))(pop, priors, site_core)
    class_units = d["class_units"]
    class_cents = _diff0(_cum_cents(core["revenue_cents"], cumsum(class_units), core["units"]))
    kind = jnp.asarray(priors.department_size_kind)
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


def as_jax_priors(priors: PriorArrays) -> PriorArrays:
    """Convert prior arrays to JAX arrays, keeping the class -> department index in NumPy.

    The index is structure (it fixes shapes and segment sums), so it stays a
    concrete array when the sampler is traced.
    """
    return PriorArrays(
        *(
            v if name == "class_department" else jnp.asarray(v)
            for name, v in zip(PriorArrays._fields, priors, strict=True)
        )
    )


_SAMPLERS: dict[tuple, object] = {}


def _structure(priors: PriorArrays) -> str:
    """Hash what a compiled sampler depends on: the class index, every shape and dtype."""
    digest = hashlib.sha256(np.ascontiguousarray(priors.class_department).tobytes())
    for value in priors:
        arr = np.asarray(value)
        digest.update(str(arr.dtype).encode() + str(arr.shape).encode())
    return digest.hexdigest()


def _chunk_sampler(priors: PriorArrays, n: int, enriched: bool, conditioned: bool):
    """Return the jitted sampler of one chunk shape.

    The prior values are arguments of the compiled function, not constants in it,
    so priors that differ only in their values (a sweep over a concentration, a
    posterior population) share one compilation. Call it as
    ``sampler(pop, _numeric_priors(priors), customer_key, start, personas)``.
    """
    cache_key = (_structure(priors), n, enriched, conditioned)
    if cache_key in _SAMPLERS:
        return _SAMPLERS[cache_key]
    group = priors.class_department

    def sample(pop, numeric, customer_key, start, personas):
        pj = numeric._replace(class_department=group)
        index = start + jnp.arange(n, dtype=jnp.uint32)
        keys = jax.vmap(lambda i: jax.random.fold_in(customer_key, i))(index)
        core = jax.vmap(_one_core, in_axes=(None, None, 0, 0 if conditioned else None))(
            pop, pj, keys, personas
        )
        details = (
            jax.vmap(_one_details, in_axes=(None, None, 0, 0))(pop, pj, keys, core)
            if enriched
            else {}
        )
        return core, details

    fn = jax.jit(sample)
    if len(_SAMPLERS) > 16:
        _SAMPLERS.clear()
    _SAMPLERS[cache_key] = fn
    return fn


def _numeric_priors(priors: PriorArrays) -> PriorArrays:
    """Return the traced arguments of a chunk sampler: every prior array but the class index."""
    return as_jax_priors(priors)._replace(class_department=None)


def iter_customer_chunks(
    pop: Population,
    priors: PriorArrays,
    *,
    key: Array,
    n_customers: int,
    chunk_size: int,
    enriched: bool,
    personas: np.ndarray | None = None,
    start: int = 0,
) -> Iterator[CustomerChunk]:
    """Yield simulated customers chunk by chunk.

    Parameters
    ----------
    pop : Population
        Population parameters (:func:`mean_population` or :func:`draw_population`).
    priors : PriorArrays
        Numeric priors.
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
    start : int
        Index of the first customer (for shards of a larger run).

    Yields
    ------
    CustomerChunk
    """
    if chunk_size < 1 or n_customers < 0:
        raise ValueError(
            f"chunk_size must be >= 1 and n_customers >= 0, got {chunk_size}, {n_customers}"
        )
    size = min(chunk_size, max(n_customers, MIN_BATCH))
    sampler = _chunk_sampler(priors, size, enriched, personas is not None)
    numeric = _numeric_priors(priors)
    for offset in range(0, n_customers, size):
        n_here = min(size, n_customers - offset)
        fixed = None
        if personas is not None:
            fixed = np.zeros(size, dtype=np.int32)
            fixed[:n_here] = personas[offset : offset + n_here]
            fixed = jnp.asarray(fixed)
        core, details = sampler(pop, numeric, key, jnp.uint32(start + offset), fixed)
        core_np = {k: np.asarray(v)[:n_here] for k, v in core.items()}
        if core_np["units"].size and int(core_np["units"].max()) >= MAX_UNITS:
            raise ValueError(
                f"a customer drew {int(core_np['units'].max())} units; exact int32 money "
                f"arithmetic allows at most {MAX_UNITS - 1} (docs/sampling.md): lower the "
                "basket_size or lifetime ranges of the priors"
            )
        core_np["customer_index"] = np.arange(
            start + offset, start + offset + n_here, dtype=np.int64
        )
        details_np = {k: np.asarray(v)[:n_here] for k, v in details.items()}
        yield CustomerChunk(start=start + offset, core=core_np, details=details_np)
