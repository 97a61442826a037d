"""Real data in: customer tables, transactions, department mappings, bundled data sets.

The data-in stage (``docs/architecture.md``): everything here is pandas and NumPy
(no JAX), so reading and checking a file is fast. A customer table in the basic
schema (:func:`read_customer_table`, :func:`observations_from_table`) or a
transactions table rolled up to one (:func:`transactions_to_customers`) gives the
:class:`Observations` that :mod:`personagen.infer` fits.
"""

from personagen.data._customers import observations_from_table, read_customer_table
from personagen.data._datasets import (
    COMPLETE_JOURNEY_DROPPED,
    COMPLETE_JOURNEY_TIME_ZONE,
    CompleteJourney,
    cdnow_transactions,
    complete_journey_transactions,
)
from personagen.data._observations import Observations
from personagen.data._timing_estimate import estimate_timing, map_departments
from personagen.data._transactions import (
    DepartmentMapping,
    TransactionColumns,
    load_mapping,
    transactions_to_customers,
)

__all__ = [
    "COMPLETE_JOURNEY_DROPPED",
    "COMPLETE_JOURNEY_TIME_ZONE",
    "CompleteJourney",
    "DepartmentMapping",
    "Observations",
    "TransactionColumns",
    "cdnow_transactions",
    "complete_journey_transactions",
    "estimate_timing",
    "load_mapping",
    "map_departments",
    "observations_from_table",
    "read_customer_table",
    "transactions_to_customers",
]
