"""The basket keys estimated from line items: the figures matched, recovery, bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml

from personagen import load_config
from personagen.checks import basket_statistics, estimate_baskets, line_price_spread, pair_lift
from personagen.data import TransactionColumns
from personagen.errors import DataError, ParameterError
from personagen.sample import SampleRequest, sample_to_files

from tests.helpers import ROOT

#: The keys the synthetic lines are made with, and how many customers.
TRUE_BASKET_SIZE_SD = 0.9
TRUE_ORDER_MIX_SD = 1.1
N_CUSTOMERS = 2_000
#: 4 x the sd of the estimates over 10 independent data sets of 2,000 customers (seeds
#: 0-9, measured: mean 0.905 and 1.099, sd 0.040 and 0.019; ``docs/transactions.md``).
BASKET_SIZE_SD_TOLERANCE = 0.16
ORDER_MIX_SD_TOLERANCE = 0.08
TRUE_LINE_PRICE_SD = 0.15
#: The pooled sd's standard error is about sd / sqrt(2 dof) (normal log prices). Cents
#: rounding moves a line's log price by at most 1 / its cents, independently across lines:
#: with the median line near $24 (2,400 cents) that adds about (1/2400)**2 / 3 to the
#: variance, far below 0.002 on the sd, which also covers the few lines under $1.
PRICE_Z = 4.5
ROUNDING_ALLOWANCE = 0.002
LINES = TransactionColumns(date="timestamp")


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    """The shipped priors with known basket keys and no shopping missions (the
    estimate simulates none)."""
    raw = yaml.safe_load((ROOT / "priors" / "personas.yml").read_text())
    timing = raw["population"]["timing"]
    timing.pop("missions", None)
    timing["basket_size_sd"] = TRUE_BASKET_SIZE_SD
    timing["order_mix_sd"] = TRUE_ORDER_MIX_SD
    timing["line_price_sd"] = TRUE_LINE_PRICE_SD
    for persona in raw["personas"].values():
        persona.get("knobs", {}).get("timing", {}).pop("missions", None)
    path = tmp_path_factory.mktemp("baskets") / "personas.yml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(priors=path)


@pytest.fixture(scope="module")
def lines(config, tmp_path_factory):
    out = tmp_path_factory.mktemp("lines")
    request = SampleRequest(
        out_dir=out,
        n_customers=N_CUSTOMERS,
        seed=3,
        chunk_size=4096,  # the compiled shape of the transactions tests
        as_of=dt.date(2026, 1, 1),
        transactions=True,
        basic_only=True,
    )
    sample_to_files(config, request)
    table = pd.read_parquet(out / "transactions.parquet")
    return table.assign(department=table["department"].astype(str))


def test_basket_statistics_count_each_department_once_per_basket():
    order = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    department = np.array([0, 1, 1, 0, 2, 1, 0, 1])  # basket 0 holds department 1 twice
    stats = basket_statistics(order, department)
    assert stats.departments_per_basket == pytest.approx(7 / 4)  # 2 + 2 + 1 + 2
    # departments 0 and 1 meet in 2 of 4 baskets; 0 is in 3, 1 in 3: lift (2/4) / (3/4)^2
    lifts = pair_lift(order, department)
    assert lifts["lift"].tolist() == pytest.approx([(2 / 4) / (3 / 4) ** 2, (1 / 4) / (3 / 16)])
    assert stats.median_pair_lift == pytest.approx(lifts["lift"].median())


def test_the_keys_of_synthetic_lines_are_recovered(lines, config):
    est = estimate_baskets(lines, config, columns=LINES, n_customers=None, class_column="class")
    assert est.n_customers == N_CUSTOMERS
    assert abs(est.timing.basket_size_sd - TRUE_BASKET_SIZE_SD) < BASKET_SIZE_SD_TOLERANCE
    assert abs(est.timing.order_mix_sd - TRUE_ORDER_MIX_SD) < ORDER_MIX_SD_TOLERANCE
    # the simulation at the estimate reproduces the figures it matched
    assert est.simulated.median_pair_lift == pytest.approx(est.observed.median_pair_lift, abs=0.01)
    assert est.simulated.departments_per_basket == pytest.approx(
        est.observed.departments_per_basket, abs=0.01
    )
    assert "estimate_baskets" in est.timing.note
    # the rest of the timing is the configuration's
    estimated = {"basket_size_sd", "order_mix_sd", "line_price_sd", "note"}
    kept = config.personas.population.timing.model_dump(exclude=estimated)
    assert est.timing.model_dump(exclude=estimated) == kept
    # the unit price spread: the pooled within-(customer, class) sd of log unit prices
    # class names repeat across departments (Accessories): a class is a name in a department
    klass = lines["department"] + "/" + lines["class"].astype(str)
    sd, dof = line_price_spread(
        lines["customer_id"], klass, lines["units"], lines["value"].to_numpy()
    )
    assert dof > 10_000 and est.timing.line_price_sd == round(sd, 3)
    tolerance = PRICE_Z * TRUE_LINE_PRICE_SD / np.sqrt(2 * dof) + ROUNDING_ALLOWANCE
    assert abs(sd - TRUE_LINE_PRICE_SD) < tolerance
    assert f"line_price_sd {est.timing.line_price_sd} from" in est.timing.note
    assert est.at_bounds == ()


def test_without_a_class_column_the_line_price_spread_is_the_configurations(lines, config):
    est = estimate_baskets(lines, config, columns=LINES, n_customers=50)
    assert est.timing.line_price_sd == TRUE_LINE_PRICE_SD
    assert "degrees of freedom" not in est.timing.note


def test_a_subsample_is_reproducible_from_its_seed(lines, config):
    a, b = (estimate_baskets(lines, config, columns=LINES, n_customers=300) for _ in range(2))
    assert a == b and a.n_customers == 300
    shuffled = lines.sample(frac=1.0, random_state=0)  # the subset does not follow row order
    assert estimate_baskets(shuffled, config, columns=LINES, n_customers=300) == a
    c = estimate_baskets(lines, config, columns=LINES, n_customers=300, seed=1)
    assert c.observed != a.observed


def test_bad_input_is_named(lines, config):
    with pytest.raises(DataError, match="units"):
        estimate_baskets(lines.drop(columns="units"), config, columns=LINES)
    with pytest.raises(DataError, match="missing class column; did you mean 'class'"):
        estimate_baskets(lines, config, columns=LINES, class_column="clas")
    no_id = lines.copy()
    no_id.loc[no_id.index[:3], "order_id"] = None
    with pytest.raises(DataError, match="3 lines with no order id"):
        estimate_baskets(no_id, config, columns=LINES)
    with pytest.raises(ParameterError, match="n_customers"):
        estimate_baskets(lines, config, columns=LINES, n_customers=1)
    with pytest.raises(DataError, match="no rows"):
        estimate_baskets(lines.iloc[:0], config, columns=LINES)
    one_department = lines.assign(department=config.hierarchy.departments[0])
    with pytest.raises(DataError, match="no lift to match"):
        estimate_baskets(one_department, config, columns=LINES, n_customers=50)
