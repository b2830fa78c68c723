"""The indicator report: coverage, univariate AUC and churn rate by decile, per indicator."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from churnml.features.catalog import load_catalog
from churnml.features.engine import feature_columns
from churnml.features.leakage import LEAKAGE_AUC, find_leaks


def indicator_report(features: pd.DataFrame, spine=None, *, label: str = "label", top: int | None = None,
                     catalog=None, deciles: int = 10) -> pd.DataFrame:
    """One row per numeric indicator, strongest univariate signal first.

    Columns: indicator, family, coverage (non-null share over all rows), auc (univariate ROC-AUC
    on resolved rows, oriented so 0.5 is no signal and 1 is perfect), risk_when ("high" when
    larger values mean more churn, else "low"), churn_rate (overall), decile_1 ... decile_10
    (churn rate per decile of the indicator, low to high values; ties share a decile, so a
    flag fills two) and leakage (a probable leak by :func:`churnml.features.leakage.find_leaks`:
    ROC-AUC of at least 0.95 in either direction with at least 30 churned rows, which also raises
    a warning naming the indicator and what to check).

    Parameters
    ----------
    features : DataFrame
        Output of :func:`churnml.build_features`.
    spine : DataFrame, optional
        Supplies the label when ``features`` has none (same row order).
    label : str
        The label column (1 churned, 0 renewed, missing when unresolved; unresolved rows count
        for coverage only).
    top : int, optional
        Keep only the ``top`` strongest indicators (the leakage check still covers all).
    catalog : Catalog, optional
        Defaults to the catalog in the top-level ``features/`` folder.
    deciles : int
        Number of quantile bins of the churn-rate profile.

    The decile profile is one row per indicator with columns ``decile_1 .. decile_<deciles>``
    (a wide, fixed-width form that prints as a heat table); a decile no row falls into (ties of a
    flag or a count) is NaN.

    Examples
    --------
    >>> import churnml
    >>> tables = churnml.datasets.make_saas(n_accounts=200, months=12, seed=1)
    >>> spine = churnml.make_spine(tables, start="2025-01-01", end="2025-06-01")
    >>> report = churnml.indicator_report(churnml.build_features(tables, spine), top=5)
    >>> len(report)
    5
    """
    from sklearn.metrics import roc_auc_score

    catalog = catalog or load_catalog()
    if label not in features and spine is not None:
        features = features.assign(**{label: spine[label].to_numpy()})
    if label not in features:
        raise ValueError(f"indicator_report needs a {label!r} column in features or spine")
    resolved = features[features[label].notna()]
    y = resolved[label].astype(int).to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError(f"indicator_report needs both outcomes among resolved rows; got {len(y)} rows")
    numeric = [c for c in feature_columns(features, catalog)
               if pd.api.types.is_numeric_dtype(features[c])]
    rows = []
    for col in numeric:  # one vectorised pass per indicator column
        x = resolved[col].astype("float64")
        known = x.notna().to_numpy()
        auc = roc_auc_score(y[known], x[known]) if known.any() and len(np.unique(y[known])) == 2 \
            and x[known].nunique() > 1 else 0.5
        rank = x.rank(method="average", pct=True)
        decile = np.minimum(np.ceil(rank * deciles), deciles)
        by_decile = pd.Series(y).groupby(decile.to_numpy()).mean()
        rows.append({
            "indicator": col,
            "family": catalog[col].family,
            "coverage": float(features[col].notna().mean()),
            "auc": max(auc, 1 - auc),
            "risk_when": "high" if auc >= 0.5 else "low",
            "churn_rate": float(y.mean()),
            **{f"decile_{int(d)}": float(by_decile.get(float(d), np.nan))
               for d in range(1, deciles + 1)},
        })
    report = pd.DataFrame(rows).sort_values("auc", ascending=False, ignore_index=True)
    leaks = find_leaks(features, label=label, catalog=catalog, threshold=LEAKAGE_AUC)
    report["leakage"] = report["indicator"].isin(leaks["signal"])
    for message in leaks["message"]:
        warnings.warn(message, stacklevel=2)
    return report if top is None else report.head(int(top))
