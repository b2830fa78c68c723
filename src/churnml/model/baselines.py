"""Baselines reported beside the model on the same split.

* :func:`logistic_baseline` — what a data scientist tries first: impute, scale, one-hot, a
  class-balanced logistic regression.
* :class:`HealthScore` — the incumbent: a customer-success platform's weighted health scorecard.
  Each indicator is turned into a 0–1 risk by where the account sits among all accounts
  (its percentile, flipped for indicators where *lower* is worse), and the risks are averaged with
  fixed weights. No label is used: that is how such scorecards are built, by judgement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: indicator -> (weight, direction); "down" means a lower value is riskier
HEALTH_WEIGHTS = {
    "active_users_change_30d": (0.30, "down"),
    "license_utilization_30d": (0.20, "down"),
    "tickets_90d": (0.15, "up"),
    "nps_latest_score": (0.20, "down"),
    "champion_left_90d": (0.15, "up"),
}


def _to_model_input(X):
    """Numeric (incl. nullable and boolean) columns to float64; everything else to object."""
    frame = pd.DataFrame(X).copy()
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            frame[c] = s.to_numpy(dtype="float64", na_value=np.nan)
        else:
            frame[c] = s.astype(object).where(s.notna(), np.nan)
    return frame


def logistic_baseline(*, C: float = 1.0, max_iter: int = 2000):
    """Logistic regression pipeline: median-impute (+ missing flags) and scale numbers,
    one-hot categoricals (unknown levels ignored), balanced class weights.

    Returns
    -------
    sklearn.pipeline.Pipeline
        With ``fit(X, y)`` and ``predict_proba(X)`` on a DataFrame of features.

    Examples
    --------
    >>> model = logistic_baseline().fit(X, y)  # doctest: +SKIP
    """
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(handle_unknown="ignore", min_frequency=5),
    )
    columns = ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include="number")),
            ("categorical", categorical, make_column_selector(dtype_exclude="number")),
        ]
    )
    return Pipeline(
        [
            ("types", FunctionTransformer(_to_model_input)),
            ("columns", columns),
            ("logistic", LogisticRegression(C=C, class_weight="balanced", max_iter=max_iter)),
        ]
    )


class HealthScore:
    """Rule-based health scorecard, the incumbent a CS team already has.

    Parameters
    ----------
    weights : dict, optional
        Indicator id -> ``(weight, direction)`` with direction ``"up"`` (higher is riskier) or
        ``"down"``; default :data:`HEALTH_WEIGHTS` (usage change 30 %, licence utilisation 20 %,
        tickets 15 %, NPS 20 %, champion loss 15 %).

    Notes
    -----
    ``fit`` learns only each indicator's distribution (no labels). A component risk is the share
    of fitted accounts with a lower value (``"up"``) or a higher value (``"down"``); a missing value
    counts as 0.5 (neutral). The risk is the weighted mean of the components, in [0, 1].
    Indicators absent from the frame are dropped and the remaining weights renormalised.

    Examples
    --------
    >>> X = pd.DataFrame({"tickets_90d": [0, 1, 5], "nps_latest_score": [9, 7, 2]})
    >>> HealthScore().fit(X).predict_proba(X)[:, 1].round(2).tolist()
    [0.0, 0.33, 0.67]
    """

    def __init__(self, *, weights=None):
        self.weights = weights

    def fit(self, X, y=None):
        weights = HEALTH_WEIGHTS if self.weights is None else self.weights
        for name, (_, direction) in weights.items():
            if direction not in ("up", "down"):
                raise ValueError(
                    f"HealthScore: direction of {name!r} must be 'up' or 'down', "
                    f"but got {direction!r}"
                )
        present = {k: v for k, v in weights.items() if k in X.columns}
        if not present:
            raise ValueError(
                f"HealthScore: none of the scorecard indicators {sorted(weights)} is in the frame"
            )
        total = sum(w for w, _ in present.values())
        self.weights_ = {k: (w / total, d) for k, (w, d) in present.items()}
        self.reference_ = {
            k: np.sort(_numeric(X[k])[~np.isnan(_numeric(X[k]))]) for k in self.weights_
        }
        self.classes_ = np.array([0, 1])
        return self

    def component_risks(self, X) -> pd.DataFrame:
        """Per-indicator risk in [0, 1] (0.5 where the value is missing)."""
        out = {}
        for name, (_, direction) in self.weights_.items():
            ref = self.reference_[name]
            values = _numeric(X[name]) if name in X.columns else np.full(len(X), np.nan)
            if len(ref) == 0:
                out[name] = np.full(len(X), 0.5)
                continue
            below = np.searchsorted(ref, values, side="left") / len(ref)
            above = 1 - np.searchsorted(ref, values, side="right") / len(ref)
            risk = below if direction == "up" else above
            out[name] = np.where(np.isnan(values), 0.5, risk)
        return pd.DataFrame(out, index=X.index)

    def predict_proba(self, X):
        components = self.component_risks(X)
        w = np.array([self.weights_[c][0] for c in components.columns])
        risk = components.to_numpy() @ w
        return np.column_stack([1 - risk, risk])


def _numeric(s) -> np.ndarray:
    return pd.to_numeric(pd.Series(s), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
