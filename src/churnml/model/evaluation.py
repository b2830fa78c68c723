"""``evaluate``: the model beside its baselines (and the oracle) as tidy frames and figures.

Metrics per model and per segment ("all" plus each segment):

========================  ==============================================================
roc_auc, pr_auc           ranking quality (PR-AUC = average precision)
brier, log_loss           probability quality
top_decile_lift           churn rate among the riskiest 10 % ÷ overall churn rate
recall_at_k               share of churners among the riskiest ``capacity`` accounts
arr_captured_at_k         share of churned ARR among the riskiest ``capacity`` accounts
ratio_to_oracle           a model's ROC-AUC ÷ the oracle's (synthetic data only)
n, positives              rows and churners evaluated
========================  ==============================================================

When ``frame`` has an ``as_of`` column, "riskiest" is taken within each scoring date (a CS team
works its top ``capacity`` accounts per run) and the counts are pooled over dates. For a segment,
the capacity is scaled by the segment's share of the rows of each date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "top_decile_lift",
    "recall_at_k",
    "arr_captured_at_k",
    "ratio_to_oracle",
    "n",
    "positives",
)


@dataclass
class Evaluation:
    """Evaluation results: tidy ``metrics`` and ``calibration`` frames plus what made them.

    Attributes
    ----------
    metrics : DataFrame
        model, segment, metric, value.
    calibration : DataFrame
        model, bin, mean_predicted, observed, n (quantile bins of the predicted probability).
    """

    metrics: pd.DataFrame
    calibration: pd.DataFrame
    y_true: np.ndarray = field(repr=False)
    predictions: dict = field(repr=False)
    capacity: int = 50

    def summary(self, segment: str = "all") -> pd.DataFrame:
        """Wide table, one row per model and one column per metric, for printing."""
        part = self.metrics[self.metrics["segment"] == segment]
        table = part.pivot(index="model", columns="metric", values="value")
        table = table[[m for m in METRICS if m in table.columns]]
        order = list(dict.fromkeys(part["model"]))
        return table.loc[order].rename_axis(columns=None)

    def metric(self, model: str, metric: str, segment: str = "all") -> float:
        """One value, e.g. ``ev.metric("model", "roc_auc")``."""
        m = self.metrics
        hit = m[(m.model == model) & (m.metric == metric) & (m.segment == segment)]
        if hit.empty:
            raise KeyError(f"no metric {metric!r} for model {model!r}, segment {segment!r}")
        return float(hit["value"].iloc[0])

    def figures(self, model=None, X=None) -> dict:
        """Figures by name: roc, pr, gain, calibration, and shap_summary when ``model`` and ``X``
        (the evaluated features) are given."""
        from churnml.model import plots

        figures = {
            "roc": plots.roc_figure(self.y_true, self.predictions),
            "pr": plots.pr_figure(self.y_true, self.predictions),
            "gain": plots.gain_figure(self.y_true, self.predictions),
            "calibration": plots.calibration_figure(self.calibration),
        }
        if model is not None and X is not None:
            figures["shap_summary"] = plots.shap_summary_figure(model, X)
        return figures


def evaluate(
    y_true,
    predictions: dict,
    *,
    frame: pd.DataFrame | None = None,
    capacity: int = 50,
    oracle=None,
    segment_column: str = "segment",
    arr_column: str = "arr",
    time_column: str = "as_of",
    n_bins: int = 10,
) -> Evaluation:
    """Score several models' probabilities against the same labels.

    Parameters
    ----------
    y_true : array-like of 0/1
    predictions : dict
        Model name -> predicted probability of churn (one value per row of ``y_true``).
    frame : DataFrame, optional
        Rows aligned with ``y_true``; supplies ``segment``, ``arr`` and ``as_of`` when present.
    capacity : int, default 50
        Accounts a CS team can work per scoring date (the k of recall@k).
    oracle : array-like, optional
        True churn probabilities (synthetic data); adds model "oracle" and ``ratio_to_oracle``.
    n_bins : int, default 10
        Quantile bins of the calibration table.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> ev = evaluate([0, 0, 1, 1], {"m": [0.1, 0.4, 0.35, 0.8]}, capacity=1)
    >>> round(ev.metric("m", "roc_auc"), 2), ev.metric("m", "recall_at_k")
    (0.75, 0.5)
    """
    y = np.asarray(pd.Series(y_true).astype(float), dtype=float)
    if np.isnan(y).any():
        raise ValueError(f"evaluate: y_true has {int(np.isnan(y).sum())} missing label(s)")
    preds = {str(k): np.asarray(v, dtype=float) for k, v in predictions.items()}
    if oracle is not None:
        preds["oracle"] = np.asarray(oracle, dtype=float)
    for name, p in preds.items():
        if p.shape != y.shape:
            raise ValueError(
                f"evaluate: predictions of {name!r} have shape {p.shape}, labels {y.shape}"
            )
        if np.isnan(p).any():
            raise ValueError(f"evaluate: predictions of {name!r} have {int(np.isnan(p).sum())} NaN")
    if frame is not None and len(frame) != len(y):
        raise ValueError(f"evaluate: frame has {len(frame)} rows, labels {len(y)}")

    has = frame is not None
    segments = (
        frame[segment_column]
        .astype(object)
        .where(frame[segment_column].notna(), "(missing)")
        .astype(str)
        .to_numpy()
        if has and segment_column in frame.columns
        else None
    )
    arr = frame[arr_column].to_numpy(dtype=float) if has and arr_column in frame.columns else None
    groups = (
        pd.to_datetime(frame[time_column]).to_numpy()
        if has and time_column in frame.columns
        else np.zeros(len(y))
    )

    rows = []
    subsets = [("all", np.ones(len(y), bool))]
    if segments is not None:
        subsets += [(s, segments == s) for s in sorted(set(segments))]
    for segment, mask in subsets:
        k_share = _capacity_per_group(groups, mask, capacity)
        auc = {}
        for name, p in preds.items():
            values = _metrics(
                y[mask], p[mask], groups[mask], k_share, None if arr is None else arr[mask]
            )
            auc[name] = values["roc_auc"]
            rows += [(name, segment, metric, value) for metric, value in values.items()]
        if oracle is not None:
            rows += [
                (name, segment, "ratio_to_oracle", _ratio(auc[name], auc["oracle"]))
                for name in preds
                if name != "oracle"
            ]
    metrics = pd.DataFrame(rows, columns=["model", "segment", "metric", "value"])
    return Evaluation(
        metrics=metrics,
        calibration=calibration_table(y, preds, n_bins=n_bins),
        y_true=y,
        predictions=preds,
        capacity=capacity,
    )


def _ratio(value, reference) -> float:
    return float(value / reference) if reference and np.isfinite(reference) else np.nan


def _capacity_per_group(groups, mask, capacity) -> dict:
    """k for each group: the capacity scaled by the subset's share of that group's rows."""
    g = pd.Series(mask).groupby(groups)
    share = g.mean()
    return {key: max(1, round(capacity * s)) for key, s in share.items() if s > 0}


def top_mask(scores, groups, k_by_group) -> np.ndarray:
    """True for the ``k`` highest scores of each group (ties broken by row order)."""
    ranks = pd.Series(scores).groupby(groups).rank(method="first", ascending=False).to_numpy()
    k = pd.Series(groups).map(k_by_group).to_numpy(dtype=float)
    return ranks <= k


def _metrics(y, p, groups, k_by_group, arr) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    n, positives = len(y), float(y.sum())
    both = 0 < positives < n
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    decile = {key: int(np.ceil(0.1 * c)) for key, c in pd.Series(groups).value_counts().items()}
    top10 = top_mask(p, groups, decile)
    topk = top_mask(p, groups, k_by_group)
    base = positives / n if n else np.nan
    out = {
        "roc_auc": float(roc_auc_score(y, p)) if both else np.nan,
        "pr_auc": float(average_precision_score(y, p)) if both else np.nan,
        "brier": float(np.mean((p - y) ** 2)) if n else np.nan,
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
        if n
        else np.nan,
        "top_decile_lift": float(y[top10].mean() / base) if base else np.nan,
        "recall_at_k": float(y[topk].sum() / positives) if positives else np.nan,
    }
    if arr is not None:
        churned = np.nan_to_num(arr) * y
        out["arr_captured_at_k"] = (
            float(churned[topk].sum() / churned.sum()) if churned.sum() else np.nan
        )
    out["n"] = float(n)
    out["positives"] = positives
    return out


def calibration_table(y, predictions: dict, *, n_bins: int = 10) -> pd.DataFrame:
    """Quantile bins of each model's probability: mean predicted vs observed churn rate."""
    parts = []
    for name, p in predictions.items():
        ranks = pd.Series(p).rank(method="first").to_numpy()
        bins = np.minimum((ranks - 1) * n_bins // len(p), n_bins - 1).astype(int) if len(p) else []
        table = (
            pd.DataFrame({"bin": bins, "p": p, "y": y})
            .groupby("bin", sort=True)
            .agg(mean_predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size"))
            .reset_index()
        )
        table.insert(0, "model", name)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)
