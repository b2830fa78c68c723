"""The LightGBM booster of a :class:`~churnml.model.estimator.ChurnModel` fit: its parameters and
class weights, the early-stopped first booster and the refit on every row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class FitRows:
    """The labelled rows of one fit, prepared, with the split and the weights."""

    X: pd.DataFrame  # prepared features (ChurnModel.prepare)
    target: np.ndarray  # 0/1
    weight: np.ndarray | None  # the user's sample weights
    class_weight: np.ndarray  # sample weights x the positive-class weight (the booster's)
    train: np.ndarray  # positions of the early-stopping fit's rows
    valid: np.ndarray  # positions of the validation slice
    groups: np.ndarray | None  # account of each row, when known


def booster_params(defaults: dict, overrides: dict, target, train, weight):
    """LightGBM parameters and the booster's sample weights.

    ``scale_pos_weight`` (default ``sqrt(neg / pos)`` of the training rows) becomes a weight on
    every positive row, multiplied with ``weight``; it is returned among the parameters for the
    record but not passed to LightGBM.

    Returns
    -------
    (params, class_weight, spw)
    """
    params = {**defaults, **(overrides or {})}
    params.pop("n_estimators", None)
    pos = max(int(target[train].sum()), 1)
    neg = max(int(len(train) - target[train].sum()), 1)
    spw = float(params.pop("scale_pos_weight", np.sqrt(neg / pos)))
    params.pop("is_unbalance", None)
    class_weight = np.where(target == 1, spw, 1.0)
    if weight is not None:
        class_weight = class_weight * weight
    return params, class_weight, spw


def early_stopped(params, rows: FitRows, n_estimators: int, early_stopping_rounds):
    """The first booster, trained without the slice and stopped on it; and its tree count."""
    import lightgbm as lgb

    train, valid = rows.train, rows.valid
    train_set = lgb.Dataset(
        rows.X.iloc[train], rows.target[train], weight=rows.class_weight[train], free_raw_data=True
    )
    callbacks, valid_sets = [], []
    if len(valid) and early_stopping_rounds:
        valid_sets = [
            lgb.Dataset(
                rows.X.iloc[valid],
                rows.target[valid],
                weight=rows.class_weight[valid],
                reference=train_set,
            )
        ]
        callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=n_estimators,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )
    return booster, booster.best_iteration or booster.current_iteration()


def refit(params, rows: FitRows, early: int, n_estimators: int, validation_fraction: float):
    """The booster refitted on every row, with the early-stopped tree count scaled up.

    The latest snapshots matter most under drift: refit on every row with the number of trees
    early stopping chose, scaled to the larger data (bounded by ``1 / (1 - validation_fraction)``:
    the renewal guard can leave far fewer training rows than the slice suggests) and never beyond
    ``n_estimators``.

    Returns
    -------
    (booster, n_trees)
    """
    import lightgbm as lgb

    scale = min(len(rows.target) / len(rows.train), 1 / (1 - validation_fraction))
    best = int(min(n_estimators, max(1, round(early * scale))))
    booster = lgb.train(
        params,
        lgb.Dataset(rows.X, rows.target, weight=rows.class_weight, free_raw_data=True),
        num_boost_round=best,
    )
    return booster, best
