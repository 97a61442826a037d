"""Clustering the basic table, as the seed's segmentation pipeline did.

KMeans and a Gaussian mixture on log-scaled basic features, scored with the
silhouette and the adjusted Rand index against the true persona and segment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from personagen.config import DEPARTMENT_UNITS_PREFIX, DEPARTMENT_VALUE_PREFIX

__all__ = ["basic_features", "cluster_scores"]

#: Columns of the basic table that are identifiers or ground truth, not features.
NON_FEATURES = ("customer_id", "true_segment", "signup_date", "persona_type", "draw")


def basic_features(table: pd.DataFrame) -> np.ndarray:
    """Return standardised ``log1p`` features of the basic table's numeric columns.

    Department values and units are divided by the customer's totals first, so
    the features describe *what* a customer buys as well as how much.
    """
    numeric = table.drop(columns=[c for c in NON_FEATURES if c in table.columns])
    values = numeric.filter(like=DEPARTMENT_VALUE_PREFIX)
    units = numeric.filter(like=DEPARTMENT_UNITS_PREFIX)
    shares = pd.concat(
        [
            values.div(values.sum(axis=1).clip(lower=1e-9), axis=0),
            units.div(units.sum(axis=1).clip(lower=1), axis=0),
        ],
        axis=1,
    )
    rfm = numeric.drop(columns=list(values.columns) + list(units.columns))
    x = np.column_stack([np.log1p(rfm.to_numpy(dtype=np.float64)), shares.to_numpy()])
    return StandardScaler().fit_transform(x)


def cluster_scores(
    table: pd.DataFrame, *, n_clusters: int, seed: int
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Cluster customers with KMeans and a Gaussian mixture and score the clusterings.

    Returns
    -------
    scores : pandas.DataFrame
        One row per method: silhouette, ARI against ``persona_type`` and against
        ``true_segment``.
    labels : dict of str to ndarray
        The cluster label of every customer, per method.
    """
    x = basic_features(table)
    labels = {
        "kmeans": KMeans(n_clusters=n_clusters, n_init=5, random_state=seed).fit_predict(x),
        "gaussian_mixture": GaussianMixture(
            n_components=n_clusters, covariance_type="diag", random_state=seed
        )
        .fit(x)
        .predict(x),
    }
    sample = min(len(x), 5_000)
    rows = []
    for method, lab in labels.items():
        rows.append(
            {
                "method": method,
                "silhouette": silhouette_score(x, lab, sample_size=sample, random_state=seed),
                "ari_persona": adjusted_rand_score(table["persona_type"], lab),
                "ari_segment": adjusted_rand_score(table["true_segment"], lab),
            }
        )
    return pd.DataFrame(rows).set_index("method"), labels
