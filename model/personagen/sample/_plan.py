"""What a sample run draws, and the run drawn into one table in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from personagen.config import (
    PersonagenConfig,
    PriorArrays,
    Structure,
    build_prior_arrays,
    build_structure,
)
from personagen.sample._counter_rng import key_word
from personagen.sample._request import SampleRequest, check_request
from personagen.sample._simulate import MIN_BATCH, CustomerChunk, iter_customer_chunks, run_keys
from personagen.sample._tables import basic_batch, enriched_batch, table_layout
from personagen.story import Population, draw_population, mean_population

__all__ = ["RunPlan", "plan_run", "sample_table"]


@dataclass(frozen=True)
class RunPlan:
    """What a sample run draws: the population, the priors, the keys, the persona counts.

    Attributes
    ----------
    population : Population
        The population the customers are drawn from.
    priors : PriorArrays
        Numeric priors of the configuration.
    structure : Structure
        Its static structure.
    customer_key : Array
        The run's customer key (:func:`~personagen.sample.run_keys`).
    personas : ndarray of int32, optional
        Fixed persona of each customer (exact persona counts), else ``None``.
    n_customers : int
        Customers in the run.
    """

    population: Population
    priors: PriorArrays
    structure: Structure
    customer_key: Any
    personas: np.ndarray | None
    n_customers: int

    @property
    def line_word(self) -> int:
        """The run's key word for line-level draws (transactions), from the customer key."""
        import jax

        return key_word(np.asarray(jax.random.key_data(jax.random.fold_in(self.customer_key, 3))))

    def chunks(self, *, chunk_size: int, enriched: bool) -> Iterator[CustomerChunk]:
        """Yield the run's customers chunk by chunk (any chunk size gives the same ones)."""
        return iter_customer_chunks(
            self.population,
            self.priors,
            self.structure,
            key=self.customer_key,
            n_customers=self.n_customers,
            chunk_size=chunk_size,
            enriched=enriched,
            personas=self.personas,
        )


def plan_run(config: PersonagenConfig, request: SampleRequest) -> RunPlan:
    """Return what ``request`` draws from ``config`` (after :func:`sample_to_files`' checks)."""
    priors, structure = build_prior_arrays(config), build_structure(config)
    names = config.persona_names
    personas = None
    n = request.n_customers
    if request.persona_counts:
        personas = np.concatenate(
            [np.full(k, names.index(p), np.int32) for p, k in request.persona_counts.items()]
        )
        n = int(personas.shape[0])
    pop_key, customer_key = run_keys(request.seed)
    if request.population is not None:
        pop = request.population
    elif request.draw_population:
        pop = draw_population(priors, structure, key=pop_key)
    else:
        pop = mean_population(priors, structure)
    return RunPlan(pop, priors, structure, customer_key, personas, n)


def sample_table(config: PersonagenConfig, request: SampleRequest) -> pa.Table:
    """Sample ``request`` into one Arrow table in memory instead of files.

    The rows are those :func:`sample_to_files` writes for the same configuration and
    request: the basic table if ``request.basic_only``, else the enriched one
    (``out_dir``, ``file_format`` and ``overwrite`` are not used). For requests that fit
    in memory (the service caps them).

    Raises
    ------
    ParameterError
        If the request is invalid (naming the field).
    """
    check_request(request, config)
    run = plan_run(config, request)
    layout = table_layout(config.hierarchy)
    segments = list(config.segments.labels)
    batches = []
    for chunk in run.chunks(chunk_size=MIN_BATCH, enriched=not request.basic_only):
        basic = basic_batch(chunk, layout, segments, request.as_of)
        if request.basic_only:
            batches.append(basic)
        else:
            names = config.persona_names
            batches.append(enriched_batch(basic, chunk, layout, names, request.locale))
    schema = layout.basic_schema if request.basic_only else layout.enriched_schema
    return pa.Table.from_batches(batches, schema=schema)
