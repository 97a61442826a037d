"""Held-out evaluation: the split, the reference models, personagen's scores, stability."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

from personagen.checks import (
    agreement,
    choose_personas_heldout,
    dm_log_pmf,
    fit_dm_mixture,
    heldout_scores,
    reference_scores,
    split_orders,
    stability,
)
from personagen.checks._dm_mixture import multinomial_log_pmf
from personagen.cli import main
from personagen.config import build_prior_arrays, load_config
from personagen.data import Observations
from personagen.errors import ParameterError
from personagen.infer import customer_log_likelihood
from personagen.story import as_arrays

from tests.helpers import dominant_weights, fake_fit


def synthetic_transactions(n_customers: int, seed: int) -> pd.DataFrame:
    """Line items of two customer types with different department mixes (2-15 orders)."""
    hierarchy = load_config().hierarchy
    rng = np.random.default_rng(seed)
    d = hierarchy.n_departments
    mixes = rng.dirichlet(np.full(d, 0.3), size=2)
    rows = []
    for c in range(n_customers):
        mix = rng.dirichlet(40 * mixes[c % 2])
        days = np.sort(rng.choice(700, rng.integers(2, 16), replace=False))
        for o, day in enumerate(days):
            for _ in range(rng.integers(1, 5)):
                units = int(rng.integers(1, 4))
                rows.append(
                    (
                        f"c{c:04d}",
                        f"c{c}o{o}",
                        np.datetime64("2024-01-01") + np.timedelta64(int(day), "D"),
                        hierarchy.departments[rng.choice(d, p=mix)],
                        units,
                        round(units * rng.lognormal(3, 0.3), 2),
                    )
                )
    return pd.DataFrame(
        rows, columns=["customer_id", "order_id", "date", "department", "units", "value"]
    )


def test_orders_alternate_between_the_halves_in_time_order():
    table = pd.DataFrame(
        {
            "customer_id": ["a"] * 5 + ["b"] * 2 + ["c"],
            "order_id": ["a3", "a1", "a1", "a2", "a4", "b1", "b2", "c1"],
            "date": [
                "2024-01-04",
                "2024-01-01",
                "2024-01-01",
                "2024-01-02",
                "2024-01-05",
                "2024-02-01",
                "2024-01-01",
                "2024-01-01",
            ],
            "department": ["Home"] * 8,
            "units": [1] * 8,
            "value": [1.0] * 8,
        }
    ).sample(frac=1.0, random_state=0)  # row order must not matter
    a, b = split_orders(table)
    assert sorted(a["order_id"]) == ["a1", "a1", "a3", "b2"]  # ranks 0 and 2 of a; b2 first
    assert sorted(b["order_id"]) == ["a2", "a4", "b1"]
    assert "c" not in set(a["customer_id"]) | set(b["customer_id"])  # one order: left out


def test_dm_and_multinomial_pmfs_match_scipy():
    rng = np.random.default_rng(0)
    alpha = rng.gamma(2.0, size=6)
    y = rng.multinomial(17, rng.dirichlet(alpha))
    expected = stats.dirichlet_multinomial.logpmf(y, alpha, 17)
    assert dm_log_pmf(y.astype(float), alpha) == pytest.approx(expected, rel=1e-10)
    p = rng.dirichlet(np.ones(6))
    assert multinomial_log_pmf(y.astype(float), p) == pytest.approx(
        stats.multinomial.logpmf(y, 17, p), rel=1e-10
    )


#: EM recovery: customers, and the tolerance on each component's recovered mean shares
#: (a component of ~1,000 customers with ~30 units each pins its shares to about 0.01).
N_EM = 2_000
SHARE_TOLERANCE = 0.03


def test_em_recovers_a_two_component_dirichlet_multinomial_mixture():
    rng = np.random.default_rng(1)
    truth = np.stack([rng.dirichlet(np.full(8, 0.5)) for _ in range(2)])
    z = rng.random(N_EM) < 0.3
    counts = np.stack(
        [rng.multinomial(rng.integers(5, 60), rng.dirichlet(20 * truth[int(k)])) for k in z]
    )
    fit = fit_dm_mixture(counts, 2, seed=0)
    shares = fit.alpha / fit.alpha.sum(1, keepdims=True)
    order = np.argsort(fit.weights)[::-1]  # the larger component is truth[0] (70%)
    assert np.abs(shares[order] - truth).max() < SHARE_TOLERANCE
    assert fit.weights[order[0]] == pytest.approx(0.7, abs=0.03)
    labels = fit.log_responsibilities(counts).argmax(1)
    assert stability(labels, z.astype(int), 2).same > 0.97


def test_reference_scores_are_the_documented_laws():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 5, size=(50, 6)).astype(float)
    b = rng.integers(0, 5, size=(50, 6)).astype(float)
    mixture = fit_dm_mixture(a, 2, seed=0, n_init=1)
    scores = reference_scores(a, b, mixture)
    pooled = (a.sum(0) + 1) / (a.sum() + 6)
    assert np.allclose(scores["pooled"], multinomial_log_pmf(b, pooled[None]))
    log_r = mixture.log_responsibilities(a)
    conj = logsumexp(log_r + dm_log_pmf(b[:, None], mixture.alpha[None] + a[:, None]), axis=1)
    assert np.allclose(scores["em_conjugate"], conj)
    assert all(np.isfinite(v).all() and (v <= 0).all() for v in scores.values())


def test_stability_ignores_the_labels_and_knows_chance():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, size=3_000)
    perm = np.array([2, 0, 1])
    same = stability(a, perm[a], 3)
    assert same.same == 1.0 and same.ari == pytest.approx(1.0)
    independent = stability(a, rng.integers(0, 3, size=3_000), 3)
    # independent labels: agreement near chance (1/3), within 4 binomial SE plus the
    # matching's optimism (the best of 6 label permutations)
    assert abs(independent.same - independent.chance) < 4 * np.sqrt(1 / 3 * 2 / 3 / 3_000) + 0.02
    assert abs(independent.ari) < 0.01
    # per customer: every relabelled customer agrees; the mean is the stability's share
    assert agreement(a, perm[a], 3).all()
    b = rng.integers(0, 3, size=3_000)
    assert agreement(a, b, 3).mean() == pytest.approx(stability(a, b, 3).same)


#: Nodes of the test's own quadrature of the spread (its error is far below the rtol).
SPREAD_CHECK_NODES = 64


@pytest.mark.parametrize("spread", [0.0, 0.6])
def test_personagen_scores_are_the_dirichlet_multinomial_mixture_of_the_draw(spread):
    config = load_config()
    fitted = fake_fit(config, dominant_weights(), n_chains=1, n_draws=1)
    n_personas = len(config.persona_names)
    spread_draws = np.full((1, 1, n_personas), spread, np.float32)
    fitted = dataclasses.replace(
        fitted, draws={**fitted.draws, "concentration_spread": spread_draws}
    )
    rng = np.random.default_rng(4)
    n = 30

    def half(seed: int) -> Observations:
        r = np.random.default_rng(seed)
        dept = r.integers(0, 4, size=(n, config.hierarchy.n_departments)).astype(np.int32)
        units = dept.sum(1)
        orders = np.maximum(1, units // 3).astype(np.int32)
        revenue = (units * rng.lognormal(3, 0.2, n)).astype(np.float32)
        return Observations(
            n_orders=orders,
            units=units.astype(np.int32),
            department_units=dept,
            revenue=revenue,
            department_revenue=(revenue[:, None] * dept / units[:, None]).astype(np.float32),
            lifetime_months=np.full(n, 12.0, np.float32),
            recency_days=np.full(n, 10.0, np.float32),
            return_rate=np.full(n, np.nan, np.float32),
        )

    a, b = half(5), half(6)
    got = heldout_scores(fitted, a, b)
    pop = fitted.population_draws(1)
    priors = build_prior_arrays(fitted.config)
    one = type(pop)(*(np.asarray(x)[0] for x in pop))
    ll = np.asarray(customer_log_likelihood(as_arrays(one), as_arrays(priors), as_arrays(a)))
    log_pi = np.log(one.persona_weights) + ll
    log_pi -= logsumexp(log_pi, axis=1, keepdims=True)
    alpha = np.asarray(priors.customer_concentration)[:, None] * np.asarray(one.department_profile)
    y_a, y_b = a.department_units.astype(float), b.department_units.astype(float)
    # the concentration spread by an independent quadrature (64 nodes, float64): per node
    # j, c_j = c exp(spread sqrt2 x_j); class only re-draws c, the conjugate form weights
    # each node by its posterior given half A
    nodes, weights = np.polynomial.hermite.hermgauss(SPREAD_CHECK_NODES)
    scale = np.exp(spread * np.sqrt(2.0) * nodes)[None, None, :, None]  # (1, 1, J, 1)
    log_w = np.log(weights / np.sqrt(np.pi))
    alpha_j = alpha[None, :, None, :] * scale  # (1, P, J, D)
    ya, yb = y_a[:, None, None, :], y_b[:, None, None, :]
    class_only = logsumexp(log_pi + logsumexp(log_w + dm_log_pmf(yb, alpha_j), axis=2), axis=1)
    from_a = log_w + dm_log_pmf(ya, alpha_j)
    post = from_a - logsumexp(from_a, axis=2, keepdims=True)
    conj_p = logsumexp(post + dm_log_pmf(yb, alpha_j + ya), axis=2)
    conjugate = logsumexp(log_pi + conj_p, axis=1)
    assert np.allclose(got["class_only"], class_only, rtol=1e-4)
    assert np.allclose(got["conjugate"], conjugate, rtol=1e-4)
    assert np.isfinite(got.to_numpy()).all()


#: End to end: customers of the synthetic transactions (two types, SVI fits of K = 2).
N_EVAL = 150
#: A third of the default steps: two well-separated types are found long before (the
#: assertions below are about the pipeline, not the optimum).
EVAL_SVI_STEPS = 1_000


@pytest.fixture(scope="module")
def transactions(tmp_path_factory):
    path = tmp_path_factory.mktemp("tx") / "lines.csv"
    synthetic_transactions(N_EVAL, seed=7).to_csv(path, index=False)
    return path


def test_evaluate_reports_scores_and_stability(transactions, tmp_path, capsys):
    args = ["evaluate", str(transactions), "--out", str(tmp_path), "-k", "2", "--method", "svi"]
    args += ["--svi-steps", str(EVAL_SVI_STEPS)]
    assert main([*args, "-q"]) == 0
    out = capsys.readouterr().out
    assert f"{N_EVAL} customers split in two halves (0 with one order left out)" in out
    customers = pd.read_csv(tmp_path / "heldout_customers.csv")
    summary = pd.read_csv(tmp_path / "heldout_summary.csv", index_col="score")
    assert len(customers) == N_EVAL
    assert summary.loc["em_class_only", "mean_log_density"] == pytest.approx(
        customers["em_class_only"].mean()
    )
    # two well-separated types: both mixtures find them in either half, and keeping a
    # customer's own mix (conjugate) predicts its other half better than re-drawing it
    assert "split-half stability, personagen" in out
    assert (
        summary.loc["conjugate", "mean_log_density"] > summary.loc["class_only", "mean_log_density"]
    )
    # two clearly different types: EM finds them again in either half, and personagen's
    # personas agree between the halves more often than chance
    em = next(line for line in out.splitlines() if line.startswith("split-half stability, em"))
    assert float(em.split(": ")[1].split("%")[0]) > 90.0
    ours = next(line for line in out.splitlines() if "stability, personagen" in line)
    same, chance = (float(x.split("%")[0]) for x in (ours.split(": ")[1], ours.split("chance ")[1]))
    assert same > chance
    # the per-customer labels are the ones the printed stability was computed from
    again = stability(
        customers["personagen_label_a"].to_numpy(), customers["personagen_label_b"].to_numpy(), 2
    )
    assert f"{again.same:.1%} the same persona" in ours
    assert main([*args, "-q"]) == 2  # the outputs exist: --overwrite is needed
    assert "--overwrite" in capsys.readouterr().err


def _scores(ids: np.ndarray, personagen: np.ndarray, em: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": ids, "conjugate": personagen, "em_conjugate": em, "class_only": personagen}
    )


def test_held_out_choice_is_the_smallest_k_within_one_paired_se_of_the_best():
    rng = np.random.default_rng(0)
    n = 400
    ids = np.arange(n).astype(str)
    common = rng.normal(-20.0, 5.0, n)  # what every K shares: large, cancels when paired
    z = rng.normal(0.0, 1.0, (2, n))
    z = (z - z.mean(1, keepdims=True)) / z.std(1, ddof=1, keepdims=True)  # mean 0, sd 1
    # K = 4 is best by 0.01 over K = 3 with a paired se of 0.05; K = 2 is 1 nat worse
    k3 = common + z[0]
    tables = {
        2: _scores(ids, k3 - 1.0, k3),
        3: _scores(ids, k3, k3 - 0.5),
        4: _scores(ids, k3 + 0.01 + z[1], k3 + z[1]),
    }
    k, table = choose_personas_heldout(tables)
    best = int(table["mean"].idxmax())
    assert best == 4 and k == 3  # K = 3 within one paired se of the best, K = 2 not
    assert list(table.index) == [2, 3, 4]
    assert table.loc[best, "diff"] == 0.0 and table.loc[best, "dse"] == 0.0
    diff = tables[2]["conjugate"] - tables[best]["conjugate"]
    assert table.loc[2, "diff"] == pytest.approx(diff.mean())
    assert table.loc[3, "dse"] == pytest.approx(1.0 / np.sqrt(n))
    assert table.loc[2, "dse"] == pytest.approx(diff.std(ddof=1) / np.sqrt(n))
    # against the EM mixture of the same K, paired: -1, +0.5, +0.01 exactly
    assert table["vs_em"].to_numpy() == pytest.approx([-1.0, 0.5, 0.01])
    assert table["vs_em_se"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def test_held_out_choice_refuses_other_customers_unknown_forms_and_one_k():
    ids = np.array(["a", "b", "c"])
    one = _scores(ids, np.zeros(3), np.zeros(3))
    other = _scores(np.array(["a", "b", "d"]), np.zeros(3), np.zeros(3))
    with pytest.raises(ParameterError, match="other customers"):
        choose_personas_heldout({2: one, 3: other})
    with pytest.raises(ParameterError, match="class_only, conjugate"):
        choose_personas_heldout({2: one, 3: one}, form="conjugal")
    with pytest.raises(ParameterError, match="at least two K"):
        choose_personas_heldout({2: one})
