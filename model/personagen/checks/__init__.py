"""Checks: prior and posterior predictive checks, calibration, segmentation.

The last stage of the data flow (``docs/architecture.md``): it may use every
package above it (configuration, story, sampling, data, inference) and none
uses it. The notebooks call these helpers and stay thin.
"""

from personagen.checks._basket_fit import (
    BasketEstimate,
    BasketStatistics,
    basket_statistics,
    estimate_baskets,
    line_price_spread,
)
from personagen.checks._baskets import TransactionProfile, pair_lift, transaction_profile
from personagen.checks._calibration import rank_uniformity_pvalues, sbc_weight_ranks
from personagen.checks._dm_mixture import DMMixture, dm_log_pmf, fit_dm_mixture, reference_scores
from personagen.checks._heldout import (
    HeldOut,
    Stability,
    agreement,
    evaluate_heldout,
    heldout_scores,
    split_orders,
    stability,
)
from personagen.checks._heldout_choice import HELDOUT_FORMS, choose_personas_heldout
from personagen.checks._predictive import (
    AS_OF,
    add_predictive_groups,
    department_share_report,
    fit_prior_predictive,
    observations_from_chunks,
    posterior_predictive,
    predictive_group,
    price_report,
    prior_predictive,
    range_report,
    sample_customers,
)
from personagen.checks._segmentation import NON_FEATURES, basic_features, cluster_scores
from personagen.config import persona_colours  # re-exported: the notebooks' colours

__all__ = [
    "AS_OF",
    "HELDOUT_FORMS",
    "NON_FEATURES",
    "BasketEstimate",
    "BasketStatistics",
    "DMMixture",
    "HeldOut",
    "Stability",
    "TransactionProfile",
    "add_predictive_groups",
    "agreement",
    "basic_features",
    "basket_statistics",
    "choose_personas_heldout",
    "cluster_scores",
    "department_share_report",
    "dm_log_pmf",
    "estimate_baskets",
    "evaluate_heldout",
    "fit_dm_mixture",
    "fit_prior_predictive",
    "heldout_scores",
    "line_price_spread",
    "observations_from_chunks",
    "pair_lift",
    "persona_colours",
    "posterior_predictive",
    "predictive_group",
    "price_report",
    "prior_predictive",
    "range_report",
    "rank_uniformity_pvalues",
    "reference_scores",
    "sample_customers",
    "sbc_weight_ranks",
    "split_orders",
    "stability",
    "transaction_profile",
]
