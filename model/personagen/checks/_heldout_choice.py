"""Choose the number of personas by held-out density (an alternative to PSIS-LOO).

:func:`choose_personas_heldout` takes the per-customer scores of several
``personagen evaluate`` runs (:attr:`HeldOut.customers`, or the
``heldout_customers.csv`` files the command writes), one per K, and applies the rule
:func:`personagen.infer.choose_personas` applies to PSIS-LOO: the smallest K whose mean
held-out density is within one paired standard error of the best. Differences are
paired over customers (every run scores the same customers: the split depends on the
data only), so their standard errors are those of the per-customer differences, much
smaller than the se of each mean.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from personagen.checks._heldout import mean_se
from personagen.errors import bad_argument

__all__ = ["HELDOUT_FORMS", "choose_personas_heldout"]

#: The held-out department-count forms a choice can use (see ``evaluate_heldout``).
HELDOUT_FORMS = ("class_only", "conjugate")


def choose_personas_heldout(
    scores: Mapping[int, pd.DataFrame], *, form: str = "conjugate"
) -> tuple[int, pd.DataFrame]:
    """Choose K by mean held-out log density: the smallest K within one paired se of the best.

    Parameters
    ----------
    scores : dict of int to pandas.DataFrame
        Per K, the per-customer scores of an evaluation (``customer_id``, ``form`` and
        ``em_<form>`` columns), the same customers in every table.
    form : {"class_only", "conjugate"}
        Which held-out form decides.

    Returns
    -------
    k : int
    table : pandas.DataFrame
        Indexed by K (increasing): ``mean`` and ``se`` of personagen's score, ``diff`` and
        ``dse`` (paired, against the best K), ``em_mean``, and ``vs_em`` and ``vs_em_se``
        (personagen minus the EM mixture of the same K, paired).

    Raises
    ------
    ParameterError
        For an unknown form, fewer than two K, or tables of different customers.
    """
    if form not in HELDOUT_FORMS:
        raise bad_argument("form", f"expected one of {', '.join(HELDOUT_FORMS)}, got {form!r}")
    if len(scores) < 2:
        raise bad_argument("scores", f"choosing K needs at least two K, got {sorted(scores)}")
    ks = sorted(scores)
    ids = scores[ks[0]]["customer_id"].astype(str).to_numpy()
    for k in ks[1:]:
        other = scores[k]["customer_id"].astype(str).to_numpy()
        if not np.array_equal(other, ids):
            raise bad_argument(
                "scores",
                f"K = {k} scores other customers than K = {ks[0]} ({len(other):,} against "
                f"{len(ids):,}): evaluations to compare must use the same data",
            )
    ours = {k: scores[k][form].reset_index(drop=True) for k in ks}
    em = {k: scores[k][f"em_{form}"].reset_index(drop=True) for k in ks}
    best = max(ks, key=lambda k: ours[k].mean())
    rows = []
    for k in ks:
        mean, se = mean_se(ours[k])
        diff, dse = mean_se(ours[k] - ours[best])
        vs_em, vs_em_se = mean_se(ours[k] - em[k])
        rows.append(
            {
                "mean": mean,
                "se": se,
                "diff": diff,
                "dse": dse,
                "em_mean": float(em[k].mean()),
                "vs_em": vs_em,
                "vs_em_se": vs_em_se,
            }
        )
    table = pd.DataFrame(rows, index=pd.Index(ks, name="k"))
    within = table.index[table["diff"] >= -table["dse"]]
    return int(min(within)), table
