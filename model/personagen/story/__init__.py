"""The generative story: the NumPyro model, its distributions and loop-free samplers.

The second stage of the data flow (``docs/architecture.md``): it reads the
:class:`~personagen.config.Structure` and :class:`~personagen.config.PriorArrays`
of a configuration and imports no pandas, YAML or I/O.

* :mod:`._population`: persona weights, profiles and locations (the prior written once);
* :mod:`._prices`: price levels, how spend splits over what a customer bought;
* :mod:`._process`: the purchase process (buy till you die) and its exact log density;
* :mod:`._model`: each customer's story (:func:`customer_core`, :func:`customer_details`)
  and :func:`persona_model` for ``numpyro.infer.Predictive``;
* :mod:`._distributions`, :mod:`._samplers`: numpyro distributions with exact
  ``log_prob`` and fixed-work samplers; :mod:`._money`: exact integer cents.
"""

from personagen.story._distributions import (
    FastBeta,
    FastBinomial,
    FastDirichletMultinomial,
    FastGamma,
    FastGeometric,
    FastMultinomial,
    FastPoisson,
    GroupedDirichletMultinomial,
)
from personagen.story._model import (
    CORE_SITES,
    DETAIL_SITES,
    N_PROFILE_DRAWS,
    customer_core,
    customer_details,
    department_log_price,
    fenton_wilkinson,
    gamma_from_lognormal,
    persona_model,
    rate_gamma,
)
from personagen.story._money import MAX_UNITS, split_cents
from personagen.story._population import (
    CONCENTRATION_LOG_SD,
    DROPOUT_LOC_SD,
    FITTED_SITES,
    MIN_FREE_CONCENTRATION,
    PRICE_CONCENTRATION_LOG_SD,
    PRICE_LOG_SD,
    RATE_SD_LOG_SD,
    SPREAD_LOG_SD,
    STORE_SITES,
    VALUE_SD_LOG_SD,
    DepartmentProfileSite,
    Population,
    anchored_department_profile,
    as_arrays,
    concentration_spread_site,
    dirichlet_department_profile,
    draw_population,
    mean_population,
    population_means,
    population_model,
    population_sites,
)
from personagen.story._prices import (
    GroupedSpendShares,
    SpendShares,
    spend_concentration,
    split_cents_by_shares,
    split_grouped_cents,
)
from personagen.story._process import (
    combine_process_terms,
    dropout_beta,
    process_count_terms,
    process_log_prob,
)
from personagen.story._samplers import cumsum, segment_sum
from personagen.story._spread import (
    SPREAD_NODES,
    SpreadDirichletMultinomial,
    dm_log_pmf,
    node_multipliers,
    quadrature,
)

__all__ = [
    "CONCENTRATION_LOG_SD",
    "CORE_SITES",
    "DETAIL_SITES",
    "DROPOUT_LOC_SD",
    "FITTED_SITES",
    "MAX_UNITS",
    "MIN_FREE_CONCENTRATION",
    "N_PROFILE_DRAWS",
    "PRICE_CONCENTRATION_LOG_SD",
    "PRICE_LOG_SD",
    "RATE_SD_LOG_SD",
    "SPREAD_LOG_SD",
    "SPREAD_NODES",
    "STORE_SITES",
    "VALUE_SD_LOG_SD",
    "DepartmentProfileSite",
    "FastBeta",
    "FastBinomial",
    "FastDirichletMultinomial",
    "FastGamma",
    "FastGeometric",
    "FastMultinomial",
    "FastPoisson",
    "GroupedDirichletMultinomial",
    "GroupedSpendShares",
    "Population",
    "SpendShares",
    "SpreadDirichletMultinomial",
    "anchored_department_profile",
    "as_arrays",
    "combine_process_terms",
    "concentration_spread_site",
    "cumsum",
    "customer_core",
    "customer_details",
    "department_log_price",
    "dirichlet_department_profile",
    "dm_log_pmf",
    "draw_population",
    "dropout_beta",
    "fenton_wilkinson",
    "gamma_from_lognormal",
    "mean_population",
    "node_multipliers",
    "persona_model",
    "population_means",
    "population_model",
    "population_sites",
    "process_count_terms",
    "process_log_prob",
    "quadrature",
    "rate_gamma",
    "segment_sum",
    "spend_concentration",
    "split_cents",
    "split_cents_by_shares",
    "split_grouped_cents",
]
