"""personagen: a Bayesian generative model of retail shoppers.

Personas (YAML priors) and a product hierarchy configure one NumPyro model
that both samples synthetic customers and, conditioned on sales data, infers
which personas make up a customer base.
"""

from importlib.metadata import PackageNotFoundError, version

from personagen.config import PersonagenConfig, load_config
from personagen.errors import ConfigError, DataError, Problem
from personagen.hierarchy import ProductHierarchy, slugify

try:
    __version__ = version("personagen")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = [
    "ConfigError",
    "DataError",
    "PersonagenConfig",
    "Problem",
    "ProductHierarchy",
    "__version__",
    "load_config",
    "slugify",
]
