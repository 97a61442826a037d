"""personagen: a Bayesian generative model of retail shoppers.

Personas (YAML priors) and a product hierarchy configure one NumPyro model
that both samples synthetic customers and, conditioned on sales data, infers
which personas make up a customer base.

The package is a few subpackages that read as the data flow (``docs/architecture.md``):
:mod:`personagen.config` -> :mod:`personagen.story` -> :mod:`personagen.sample` |
:mod:`personagen.data` -> :mod:`personagen.infer` -> :mod:`personagen.checks`.
The names of the README's tour are re-exported here and imported on first use,
so ``import personagen`` (or reading a file with :mod:`personagen.data`) does not
import JAX.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from personagen.errors import ConfigError, DataError, ParameterError, Problem

try:
    __version__ = version("personagen")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

#: Public name -> the subpackage that defines it (imported lazily, PEP 562).
_LAZY = {
    "PersonagenConfig": "personagen.config",
    "ProductHierarchy": "personagen.config",
    "load_config": "personagen.config",
    "slugify": "personagen.config",
    "persona_model": "personagen.story",
    "SampleRequest": "personagen.sample",
    "iter_customer_chunks": "personagen.sample",
    "sample_to_files": "personagen.sample",
    "observations_from_table": "personagen.data",
    "read_customer_table": "personagen.data",
    "transactions_to_customers": "personagen.data",
    "FittedModel": "personagen.infer",
    "assign_personas": "personagen.infer",
    "check_diagnostics": "personagen.infer",
    "fit_customers": "personagen.infer",
    "read_posterior": "personagen.infer",
    "to_inference_data": "personagen.infer",
    "write_fit_outputs": "personagen.infer",
    "posterior_predictive": "personagen.checks",
    "prior_predictive": "personagen.checks",
}

__all__ = [
    "ConfigError",
    "DataError",
    "FittedModel",
    "ParameterError",
    "PersonagenConfig",
    "Problem",
    "ProductHierarchy",
    "SampleRequest",
    "__version__",
    "assign_personas",
    "check_diagnostics",
    "fit_customers",
    "iter_customer_chunks",
    "load_config",
    "observations_from_table",
    "persona_model",
    "posterior_predictive",
    "prior_predictive",
    "read_customer_table",
    "read_posterior",
    "sample_to_files",
    "slugify",
    "to_inference_data",
    "transactions_to_customers",
    "write_fit_outputs",
]

if TYPE_CHECKING:
    from personagen.checks import posterior_predictive, prior_predictive
    from personagen.config import PersonagenConfig, ProductHierarchy, load_config, slugify
    from personagen.data import (
        observations_from_table,
        read_customer_table,
        transactions_to_customers,
    )
    from personagen.infer import (
        FittedModel,
        assign_personas,
        check_diagnostics,
        fit_customers,
        read_posterior,
        to_inference_data,
        write_fit_outputs,
    )
    from personagen.sample import SampleRequest, iter_customer_chunks, sample_to_files
    from personagen.story import persona_model


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'personagen' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
