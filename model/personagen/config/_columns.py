"""Column names of the customer tables: the one place every reader and writer takes them from.

The basic table has ten customer-level columns (:data:`BASIC_CORE_COLUMNS`) followed by
``dept_total_value_<slug>`` and ``dept_total_units_<slug>`` for every department of the
hierarchy, in hierarchy order (slug rule in :mod:`personagen.config._hierarchy`). The
sampler's writers, the customer-table reader, the transactions roll-up, the checks and
the segmentation features all build names with these functions; nothing spells them out.
"""

from __future__ import annotations

from personagen.config._hierarchy import ProductHierarchy

__all__ = [
    "BASIC_CORE_COLUMNS",
    "DAYS_PER_MONTH",
    "DEPARTMENT_UNITS_PREFIX",
    "DEPARTMENT_VALUE_PREFIX",
    "basic_columns",
    "department_units_columns",
    "department_value_columns",
]

#: Average days per month (365.25 / 12): lifetimes in days <-> months, in every table.
DAYS_PER_MONTH = 30.4375

#: The customer-level columns of the basic table, in order.
BASIC_CORE_COLUMNS = (
    "customer_id",
    "total_purchases",
    "total_revenue",
    "avg_order_value",
    "recency_days",
    "frequency_per_month",
    "customer_lifetime_months",
    "return_rate",
    "true_segment",
    "signup_date",
)
DEPARTMENT_VALUE_PREFIX = "dept_total_value_"
DEPARTMENT_UNITS_PREFIX = "dept_total_units_"


def department_value_columns(hierarchy: ProductHierarchy) -> list[str]:
    """Return ``dept_total_value_<slug>`` for every department, in hierarchy order."""
    return [f"{DEPARTMENT_VALUE_PREFIX}{slug}" for slug in hierarchy.department_slugs]


def department_units_columns(hierarchy: ProductHierarchy) -> list[str]:
    """Return ``dept_total_units_<slug>`` for every department, in hierarchy order."""
    return [f"{DEPARTMENT_UNITS_PREFIX}{slug}" for slug in hierarchy.department_slugs]


def basic_columns(hierarchy: ProductHierarchy) -> list[str]:
    """Return every column of the basic table, in order (52 for the shipped hierarchy)."""
    return [
        *BASIC_CORE_COLUMNS,
        *department_value_columns(hierarchy),
        *department_units_columns(hierarchy),
    ]
