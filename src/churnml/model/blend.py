"""Blending a booster with a linear model on the log-odds scale, and deciding whether it pays.

The blend is a stacked logistic regression with one input per model: ``log-odds = w_booster *
booster_log_odds + w_linear * linear_log_odds + intercept``, fitted on predictions for rows neither
model trained on (a :class:`~churnml.model.estimator.ChurnModel`'s validation slice, or cross-fitted
predictions of every row, :func:`out_of_fold_scores`). A weight that comes out negative is dropped
(that model is left out and the other refitted alone), so each model only adds its own evidence.

:func:`choose_blend` decides ``blend="auto"``: the same stacking is cross-fitted on five folds of
those rows, once with the booster alone (a Platt scaling of its log-odds) and once with both
models, so each row gets an out-of-fold prediction of each; the blend is kept only when it lowers
the mean log loss by more than ``MIN_GAIN_SE`` standard errors of the per-row paired differences
(clustered by account when rows share one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churnml.model.logistic import ridge_logistic

#: penalty of the stacking regression: large C, i.e. nearly none (two inputs, hundreds of rows)
STACK_C = 100.0
#: "auto" blends when the out-of-fold log-loss gain exceeds this many standard errors
MIN_GAIN_SE = 1.0
#: folds of the cross-fitting (stacking weights, and the models themselves on small tables)
N_SPLITS = 5


@dataclass(frozen=True)
class Blend:
    """How a fitted :class:`ChurnModel` turns its parts into log-odds.

    Attributes
    ----------
    booster, linear : float
        Weights of the booster's and the linear model's log-odds (``linear`` 0: booster alone).
    intercept : float
    chosen : str
        ``"blend"`` or ``"booster"``.
    reason : str
        Why, in a sentence (printed in training's summary, logged to MLflow).
    gain, se : float
        Out-of-fold log-loss gain of the blend over the booster alone and its standard error
        (NaN when not measured).
    """

    booster: float
    linear: float
    intercept: float
    chosen: str
    reason: str
    gain: float = float("nan")
    se: float = float("nan")

    @property
    def blended(self) -> bool:
        return self.chosen == "blend"

    def combine(self, booster_log_odds, linear_log_odds=None):
        """Blended log-odds (the booster's own when not blended)."""
        if not self.blended:
            return np.asarray(booster_log_odds, dtype=np.float64)
        return (
            self.booster * np.asarray(booster_log_odds, dtype=np.float64)
            + self.linear * np.asarray(linear_log_odds, dtype=np.float64)
            + self.intercept
        )


def booster_only(why: str) -> Blend:
    """The :class:`Blend` of a model that uses its booster alone, for the reason ``why``."""
    return Blend(1.0, 0.0, 0.0, "booster", f"booster alone: {why}")


def stack(scores: np.ndarray, y, sample_weight=None) -> tuple[np.ndarray, float]:
    """Non-negative stacking weights (one per column of ``scores``) and the intercept."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.ones(scores.shape[1], dtype=bool)
    while True:
        coef, intercept = ridge_logistic(scores[:, keep], y, sample_weight, l2=1.0 / STACK_C)
        if (coef >= 0).all() or keep.sum() == 1:
            weights = np.zeros(scores.shape[1])
            weights[keep] = np.maximum(coef, 0.0)
            return weights, intercept
        keep[np.flatnonzero(keep)[np.argmin(coef)]] = False


def _log_loss(p, y):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def cross_fitted_gain(booster, linear, y, *, groups=None, n_splits=5, random_state=0):
    """Out-of-fold log loss of the booster alone minus that of the blend, per row.

    Both stackings are fitted on all folds but one and scored on the one left out, so every row
    gets an out-of-fold prediction of each. Folds are stratified by label and keep each group
    (an account's snapshots) in one fold when ``groups`` is given.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(y, dtype=int)
    both = np.column_stack([booster, linear])
    minority = int(min(y.sum(), len(y) - y.sum()))
    k = min(n_splits, minority)
    if k < 2:
        return np.zeros(0)
    if groups is not None:
        folds = StratifiedGroupKFold(k, shuffle=True, random_state=random_state).split(
            both, y, groups
        )
    else:
        folds = StratifiedKFold(k, shuffle=True, random_state=random_state).split(both, y)
    p_one, p_two = np.full(len(y), np.nan), np.full(len(y), np.nan)
    for fit, held in folds:
        if len(np.unique(y[fit])) < 2:
            continue
        one, b1 = stack(both[fit, :1], y[fit])
        two, b2 = stack(both[fit], y[fit])
        p_one[held] = 1 / (1 + np.exp(-(both[held, :1] @ one + b1)))
        p_two[held] = 1 / (1 + np.exp(-(both[held] @ two + b2)))
    scored = ~np.isnan(p_one)
    diff = np.full(len(y), np.nan)
    diff[scored] = _log_loss(p_one[scored], y[scored]) - _log_loss(p_two[scored], y[scored])
    return diff


def mean_and_se(diff, groups=None) -> tuple[float, float]:
    """Mean of per-row differences and its standard error (clustered by ``groups`` if given)."""
    keep = ~np.isnan(diff)
    diff = diff[keep]
    n = len(diff)
    if n < 2:
        return float("nan"), float("nan")
    mean = float(diff.mean())
    if groups is None:
        return mean, float(diff.std(ddof=1) / np.sqrt(n))
    _, cluster = np.unique(np.asarray(groups)[keep], return_inverse=True)
    sums = np.bincount(cluster, weights=diff - mean)
    g = len(sums)
    if g < 2:
        return mean, float("nan")
    return mean, float(np.sqrt((sums**2).sum() * g / (g - 1)) / n)


def choose_blend(
    booster, linear, y, *, mode="auto", groups=None, how="validation slice", random_state=0
):
    """The :class:`Blend` to use, from out-of-sample log-odds of both models on the same rows.

    Parameters
    ----------
    booster, linear : array-like of shape (n,)
        Log-odds of each model for rows neither trained on.
    y : array-like of shape (n,)
        0/1 labels of those rows.
    mode : {"auto", True}
        True blends unless the linear model gets no weight; "auto" blends only when the blend
        beats the booster alone out of fold by more than ``MIN_GAIN_SE`` standard errors.
    groups : array-like, optional
        Rows that must share a fold (an account's snapshots).
    how : str
        Where the predictions come from, for the reason sentence.
    """
    y = np.asarray(y, dtype=int)
    weights, intercept = stack(np.column_stack([booster, linear]), y)
    diff = cross_fitted_gain(booster, linear, y, groups=groups, random_state=random_state)
    gain, se = mean_and_se(diff, groups)
    measured = (
        f"log loss {-gain:+.4f} (standard error {se:.4f}) against the booster alone, "
        f"out of fold on {len(y)} rows ({how}); weights booster {weights[0]:.2f}, "
        f"linear {weights[1]:.2f}"
    )
    if weights[1] == 0:
        chosen, reason = "booster", f"booster alone: the linear model got no weight ({how})"
    elif mode is True:
        chosen, reason = "blend", f"blend (blend=True): {measured}"
    elif np.isfinite(se) and gain > MIN_GAIN_SE * se and gain > 0:
        chosen, reason = "blend", f"blend: {measured}"
    else:
        chosen, reason = "booster", f"booster alone: the blend's {measured}, within noise"
    return Blend(
        booster=float(weights[0]),
        linear=float(weights[1]),
        intercept=intercept,
        chosen=chosen,
        reason=reason,
        gain=gain,
        se=se,
    )


def out_of_fold_scores(params, rows, n_trees, linear_C, *, random_state=0):
    """Cross-fitted log-odds of the booster and the linear model for every row of ``rows``.

    ``N_SPLITS`` stratified folds; on each, a booster with ``n_trees`` trees (the early-stopped
    count of the model's own first booster) and a :class:`~churnml.model.linear.LinearPart` with
    penalty ``linear_C`` (the model's own choice) train on the other folds and score this one.

    Parameters
    ----------
    params : dict
        LightGBM parameters of the model's booster.
    rows : churnml.model.booster.FitRows
        Prepared features, targets and weights of the fit.
    n_trees : int
    linear_C : float

    Returns
    -------
    (booster, linear) : two ndarrays of shape (n,)
    """
    import lightgbm as lgb
    from sklearn.model_selection import StratifiedKFold

    from churnml.model.linear import LinearPart

    booster, linear = np.zeros(len(rows.target)), np.zeros(len(rows.target))
    folds = StratifiedKFold(N_SPLITS, shuffle=True, random_state=random_state)
    for fit, held in folds.split(rows.X, rows.target):
        data = lgb.Dataset(
            rows.X.iloc[fit], rows.target[fit], weight=rows.class_weight[fit], free_raw_data=True
        )
        model = lgb.train(params, data, num_boost_round=n_trees)
        booster[held] = model.predict(rows.X.iloc[held], raw_score=True)
        weight = None if rows.weight is None else rows.weight[fit]
        part = LinearPart(C=linear_C).fit(rows.X.iloc[fit], rows.target[fit], weight)
        linear[held] = part.decision_function(rows.X.iloc[held])
    return booster, linear
