"""What the service computes: memberships and look-alike samples from one fitted model.

Every request is computed by the library functions the command line uses
(:func:`personagen.infer.customer_memberships`, :func:`personagen.sample.sample_table`),
so the service answers with the numbers ``personagen assign`` and ``personagen sample
--posterior`` write. Both compute in batches of a fixed shape, so :func:`warm_up`
compiles everything a request can need before the service says it is ready.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from personagen.data import observations_from_table
from personagen.infer import FittedModel, customer_memberships
from personagen.sample import DEFAULT_AS_OF, SampleRequest, sample_table
from personagen.story import Population

__all__ = ["Service", "assign_records", "make_service", "model_info", "sample_rows", "warm_up"]


@dataclass(frozen=True, eq=False)
class Service:
    """The fitted model a service answers from, and its limits.

    Attributes
    ----------
    fitted : FittedModel
        The posterior (read by :func:`personagen.infer.read_posterior`).
    population : Population
        Its posterior-mean population, for look-alike samples (built once).
    source : str
        Where the posterior was read from.
    max_batch : int
        Most customers one request may assign or sample.
    """

    fitted: FittedModel
    population: Population
    source: str
    max_batch: int


def make_service(fitted: FittedModel, *, source: str, max_batch: int) -> Service:
    """Return the :class:`Service` of a fitted model."""
    return Service(fitted, fitted.mean_population(), source, max_batch)


def assign_records(service: Service, table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return each customer's persona probabilities, 90% intervals and most likely persona.

    Raises
    ------
    DataError
        As ``personagen assign`` does, naming the column and rows of bad values.
    """
    fitted = service.fitted
    obs = observations_from_table(table, fitted.config.hierarchy, source="request")
    m = customer_memberships(fitted, obs)
    names = fitted.persona_names
    ids = table["customer_id"].astype(str).tolist()
    best = [names[k] for k in m.mean.argmax(axis=1).tolist()]
    return [
        {
            "customer_id": customer,
            "probabilities": dict(zip(names, mean, strict=True)),
            "interval_90": {n: [a, b] for n, a, b in zip(names, low, high, strict=True)},
            "most_likely_persona": top,
        }
        for customer, mean, low, high, top in zip(
            ids, m.mean.tolist(), m.low.tolist(), m.high.tolist(), best, strict=True
        )
    ]


def sample_rows(
    service: Service,
    *,
    n_customers: int | None,
    persona_counts: Mapping[str, int] | None,
    seed: int,
    table: Literal["basic", "enriched"],
    locale: str = "en_US",
    as_of: dt.date = DEFAULT_AS_OF,
) -> pa.Table:
    """Return look-alike customers: the rows ``personagen sample --posterior`` writes.

    Raises
    ------
    ParameterError
        Naming the field of an invalid request (``persona_counts``, ``locale``, ...).
    """
    request = SampleRequest(
        out_dir="",
        n_customers=n_customers or 0,
        seed=seed,
        basic_only=table == "basic",
        persona_counts=persona_counts,
        population=service.population,
        population_source=service.source,
        locale=locale,
        as_of=as_of,
    )
    return sample_table(service.fitted.config, request)


def model_info(service: Service) -> dict[str, Any]:
    """Return the personas, their weights with 90% intervals, and where the model came from."""
    fitted = service.fitted
    weights = np.asarray(fitted.weights).reshape(-1, fitted.weights.shape[-1])
    low, high = np.quantile(weights, [0.05, 0.95], axis=0)
    means = fitted.posterior_means()["persona_weights"]
    personas = [
        {"name": name, "weight": float(m), "interval_90": [float(lo), float(hi)]}
        for name, m, lo, hi in zip(fitted.persona_names, means, low, high, strict=True)
    ]
    return {
        "personas": personas,
        "mode": fitted.mode,
        "method": fitted.method,
        "config_hash": fitted.config.config_hash(),
        "posterior": service.source,
        "personagen_version": version("personagen"),
        "max_batch": service.max_batch,
    }


def warm_up(service: Service) -> None:
    """Compile the membership batch and both samplers (one compiled shape each).

    Samples run in chunks of ``MIN_BATCH`` customers and memberships in batches of
    ``ASSIGN_CHUNK``, whatever the request's size, so one call of each compiles all.
    """
    hierarchy = service.fitted.config.hierarchy
    first = {service.fitted.persona_names[0]: 1}  # exact persona counts: another trace
    for table in ("enriched", "basic"):
        sample_rows(service, n_customers=None, persona_counts=first, seed=0, table=table)
        basic = sample_rows(service, n_customers=1, persona_counts=None, seed=0, table=table)
    customer_memberships(
        service.fitted, observations_from_table(basic.to_pandas(), hierarchy, source="warm-up")
    )
