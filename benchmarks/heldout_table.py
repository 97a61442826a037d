"""Tabulate several ``personagen evaluate`` runs: K by held-out density, against EM.

Usage::

    python benchmarks/heldout_table.py heldout/k2 heldout/k3 heldout/k4 ...

Each folder holds one run's ``heldout_customers.csv`` (any K; the K is read from the
largest label, so a run in which some persona is nobody's most likely one reads low).
Prints, per form, :func:`personagen.checks.choose_personas_heldout`'s table and choice,
then per K the split-half stability of personagen and of the EM mixture: the share of
customers with the same most likely persona (labels matched), the paired difference
with its standard error over customers, Cohen's kappa (agreement corrected for the
chance level of each labelling's own shares) and the adjusted Rand index.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from personagen.checks import agreement, choose_personas_heldout, stability


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="folders of personagen evaluate")
    args = parser.parse_args()
    tables = {}
    for folder in args.runs:
        table = pd.read_csv(folder / "heldout_customers.csv")
        labels = [f"{m}_label_{h}" for m in ("personagen", "em") for h in "ab"]
        k = int(table[labels].to_numpy().max()) + 1  # a K with an unused label reads low
        if k in tables:
            raise SystemExit(f"{folder}: a second run with K = {k}")
        tables[k] = table
    pd.set_option("display.width", 160)
    for form in ("class_only", "conjugate"):
        k, table = choose_personas_heldout(tables, form=form)
        print(f"== {form}: chooses K = {k}")
        print(table.round(3).to_string())
    print("== split-half stability (personagen / EM)")
    rows = []
    for k, table in sorted(tables.items()):
        ours = agreement(table["personagen_label_a"], table["personagen_label_b"], k)
        em = agreement(table["em_label_a"], table["em_label_b"], k)
        diff = ours.astype(float) - em
        s_ours = stability(table["personagen_label_a"], table["personagen_label_b"], k)
        s_em = stability(table["em_label_a"], table["em_label_b"], k)
        rows.append(
            {
                "k": k,
                "same": s_ours.same,
                "em_same": s_em.same,
                "diff": diff.mean(),
                "dse": diff.std(ddof=1) / np.sqrt(diff.size),
                "kappa": (s_ours.same - s_ours.chance) / (1 - s_ours.chance),
                "em_kappa": (s_em.same - s_em.chance) / (1 - s_em.chance),
                "ari": s_ours.ari,
                "em_ari": s_em.ari,
            }
        )
    print(pd.DataFrame(rows).set_index("k").round(3).to_string())


if __name__ == "__main__":
    main()
