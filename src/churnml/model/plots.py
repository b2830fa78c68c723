"""Evaluation figures: ROC, precision-recall, cumulative gain, calibration, SHAP summary.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no global backend
switch), so they render the same in scripts, tests, notebooks and MLflow (``log_figure``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _figure(title, xlabel, ylabel, size=(5.0, 4.2)):
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    ax = fig.add_subplot()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def roc_figure(y_true, predictions: dict):
    """ROC curve of each model, with its AUC in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = _figure("ROC", "false positive rate", "true positive rate")
    for name, p in predictions.items():
        fpr, tpr, _ = roc_curve(y_true, p)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, p):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def pr_figure(y_true, predictions: dict):
    """Precision-recall curve of each model, with its average precision and the base rate."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = _figure("Precision-recall", "recall", "precision")
    for name, p in predictions.items():
        precision, recall, _ = precision_recall_curve(y_true, p)
        ax.plot(recall, precision, label=f"{name} (AP {average_precision_score(y_true, p):.3f})")
    ax.axhline(np.mean(y_true), color="grey", linestyle=":", linewidth=1, label="base rate")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def gain_figure(y_true, predictions: dict):
    """Cumulative gain: share of churners found when working the riskiest x % of accounts."""
    fig, ax = _figure("Cumulative gain", "share of accounts contacted", "share of churners found")
    y = np.asarray(y_true, dtype=float)
    share = np.arange(1, len(y) + 1) / len(y)
    for name, p in predictions.items():
        order = np.argsort(-np.asarray(p, dtype=float), kind="stable")
        ax.plot(share, np.cumsum(y[order]) / max(y.sum(), 1), label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random")
    ax.axvline(0.1, color="grey", linewidth=0.8, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def calibration_figure(calibration: pd.DataFrame):
    """Observed churn rate against mean predicted probability, per bin (from ``.calibration``)."""
    fig, ax = _figure("Calibration", "mean predicted probability", "observed churn rate")
    for name, part in calibration.groupby("model", sort=False):
        ax.plot(part["mean_predicted"], part["observed"], marker="o", markersize=3, label=name)
    top = float(np.nanmax(calibration[["mean_predicted", "observed"]].to_numpy(), initial=0.1))
    ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1)
    ax.legend(loc="upper left", fontsize=8)
    return fig


#: rows the SHAP summary draws at most (a seeded sample of the evaluated rows)
SHAP_ROWS = 2000


def shap_rows(X: pd.DataFrame, max_rows: int = SHAP_ROWS, seed: int = 0) -> pd.DataFrame:
    """The rows of ``X`` the SHAP summary draws: all of them, or a seeded sample of
    ``max_rows``."""
    return X if len(X) <= max_rows else X.sample(max_rows, random_state=seed)


def shap_summary_figure(model, X, *, max_features=15, max_rows=SHAP_ROWS, seed=0):
    """Beeswarm-style SHAP summary from LightGBM's exact TreeSHAP (``pred_contrib``); for a
    blended ChurnModel, the blend's exact contributions (TreeSHAP and linear, weighted).

    Parameters
    ----------
    model : ChurnModel or lightgbm.Booster
    X : DataFrame
        Features (a ChurnModel's ``prepare`` aligns them).
    """
    booster = getattr(model, "booster_", model)
    frame = shap_rows(model.prepare(X) if hasattr(model, "prepare") else X, max_rows, seed)
    if hasattr(model, "booster_"):  # a ChurnModel: a blend's linear part counts too
        from churnml.explain.backends import model_contributions

        contrib, _ = model_contributions(model, frame, backend="native")
    else:
        contrib = booster.predict(frame, pred_contrib=True)[:, :-1]
    names = list(frame.columns)
    order = np.argsort(-np.abs(contrib).mean(axis=0))[:max_features][::-1]
    fig, ax = _figure(
        "SHAP summary (log-odds)",
        "contribution to log-odds of churn (colour: indicator value, blue low, red high)",
        "",
        size=(6.0, 0.32 * len(order) + 1.2),
    )
    rng = np.random.default_rng(seed)
    for row, j in enumerate(order):
        values = frame.iloc[:, j]
        if isinstance(values.dtype, pd.CategoricalDtype):
            colour = np.full(len(values), 0.5)
        else:
            colour = pd.Series(values.to_numpy(dtype=float)).rank(pct=True).fillna(0.5).to_numpy()
        jitter = rng.uniform(-0.3, 0.3, len(values))
        ax.scatter(
            contrib[:, j],
            row + jitter,
            c=colour,
            cmap="coolwarm",
            s=4,
            alpha=0.6,
            vmin=0,
            vmax=1,
            linewidths=0,
        )
    ax.set_yticks(range(len(order)), [names[j] for j in order], fontsize=8)
    ax.axvline(0, color="grey", linewidth=0.8)
    return fig
