"""Inference: the same story conditioned on data, and the fitted model it gives.

The inference stage (``docs/architecture.md``): :func:`fit_customers` fits
:class:`~personagen.data.Observations` in one of three modes and returns one
immutable :class:`FittedModel`; :func:`to_inference_data`, :func:`assign_personas`,
:func:`write_fit_outputs` and the predictive checks take it whole, and
:func:`read_posterior` gives the same object back from ``posterior.nc``. This
package never imports the sampler (:mod:`personagen.sample`).
"""

from personagen.infer._fit import (
    SMALL_ELPD_DIFFERENCE,
    check_fit_arguments,
    choose_personas,
    fit_customers,
)
from personagen.infer._fitted import MODES, FittedModel, Mode, fit_priors, fitted_model, thin_draws
from personagen.infer._learn import exchangeable_config, learned_names, relabel_draws
from personagen.infer._likelihood import (
    FitData,
    customer_log_likelihood,
    fit_log_likelihood,
    last_order_months,
    order_count_log_prob,
    prepare_fit_data,
    process_parameters,
    purchase_log_prob,
)
from personagen.infer._memberships import (
    ASSIGN_CHUNK,
    MEMBERSHIP_DRAWS,
    Memberships,
    assign_personas,
    customer_memberships,
    membership_probabilities,
    memberships_table,
    pointwise_log_likelihood,
)
from personagen.infer._posterior import (
    ESS_MIN,
    RHAT_MAX,
    FitOutputs,
    check_diagnostics,
    diagnostics_summary,
    fitted_from_posterior,
    open_posterior,
    posterior_config,
    read_posterior,
    to_inference_data,
    write_fit_outputs,
)
from personagen.infer._profiles import (
    fit_profiles,
    initial_values,
    profiles_model,
    profiles_population,
)
from personagen.infer._runners import (
    NUTS_MAX_CUSTOMERS,
    SVI_CONVERGED,
    Diagnostics,
    Method,
    RunResult,
    SviRun,
    choose_method,
    run_nuts,
    run_svi,
)
from personagen.infer._warm_start import (
    Laplace,
    laplace_approximation,
    run_warm_nuts,
    warm_up_split,
)
from personagen.infer._weights import (
    fit_persona_weights,
    mixture_log_lik,
    persona_log_likelihood,
    weights_model,
)

__all__ = [
    "ASSIGN_CHUNK",
    "ESS_MIN",
    "MEMBERSHIP_DRAWS",
    "MODES",
    "NUTS_MAX_CUSTOMERS",
    "RHAT_MAX",
    "SMALL_ELPD_DIFFERENCE",
    "SVI_CONVERGED",
    "Diagnostics",
    "FitData",
    "FitOutputs",
    "FittedModel",
    "Laplace",
    "Memberships",
    "Method",
    "Mode",
    "RunResult",
    "SviRun",
    "assign_personas",
    "check_diagnostics",
    "check_fit_arguments",
    "choose_method",
    "choose_personas",
    "customer_log_likelihood",
    "customer_memberships",
    "diagnostics_summary",
    "exchangeable_config",
    "fit_customers",
    "fit_log_likelihood",
    "fit_persona_weights",
    "fit_priors",
    "fit_profiles",
    "fitted_from_posterior",
    "fitted_model",
    "initial_values",
    "laplace_approximation",
    "last_order_months",
    "learned_names",
    "membership_probabilities",
    "memberships_table",
    "mixture_log_lik",
    "open_posterior",
    "order_count_log_prob",
    "persona_log_likelihood",
    "pointwise_log_likelihood",
    "posterior_config",
    "prepare_fit_data",
    "process_parameters",
    "profiles_model",
    "profiles_population",
    "purchase_log_prob",
    "read_posterior",
    "relabel_draws",
    "run_nuts",
    "run_svi",
    "run_warm_nuts",
    "thin_draws",
    "to_inference_data",
    "warm_up_split",
    "weights_model",
    "write_fit_outputs",
]
