"""``ChurnModel``: a calibrated LightGBM renewal-risk classifier that behaves like scikit-learn's.

Two ways in, one estimator:

* **tabular** — ``ChurnModel().fit(X, y)`` on any feature frame (numeric, category, string or
  boolean columns); a drop-in scikit-learn classifier (``clone``, ``cross_val_score``).
* **snapshot** — ``ChurnModel().fit(frame)`` on a training frame from
  :func:`churnml.features.engine.build_features` (or any account × ``as_of`` table with a label
  column); the label is read from ``label_column``, unlabelled rows (open renewals) are dropped and
  the features are every column that is not metadata (``account_id``, ``as_of``, ...).

What the booster, the blend and the calibrator are each fitted on
-----------------------------------------------------------------
The rows are split once. The *validation slice* is the latest ``validation_fraction`` of the
snapshots when there is a time column (``time_column``, or ``as_of`` in snapshot mode), otherwise
a stratified random share. When the frame carries ``renewal_date``, training rows whose renewal
falls on or after the first validation date are dropped (their outcome was not yet known at that
cut-off), so no contract's outcome is on both sides. A first booster trains on the rest and
early-stops on the validation slice.

With ``blend`` ("auto" by default) a regularised logistic model (:mod:`churnml.model.linear`) is
fitted on the same rows, and the two are stacked on the log-odds scale with weights learnt on
predictions for rows neither model trained on (:mod:`churnml.model.blend`): the validation slice
for time-ordered rows; for unordered rows under ``SMALL_DATA_ROWS``, five-fold cross-fitted
predictions of every row (a 20 % slice of a few thousand rows is too few to learn from). "auto"
keeps the blend only when it beats the booster alone out of fold by more than one standard error;
``blend_`` says which was chosen and why.

The calibrator is fitted on the validation slice's scores (booster, or blend) from the models
that did not train on it. With ``refit=True`` (the default) the booster in use is then refitted
on every labelled row, the slice included, with the early-stopped tree count scaled to the larger
data (by at most ``1 / (1 - validation_fraction)`` and never beyond ``n_estimators``), and so is
the linear model; the calibrator and the blend weights learnt before are applied to them. On the
demo data the refit lifts the out-of-time ROC-AUC of the defaults from 0.74 to 0.79
(``benchmarks/RESULTS.md``, "Model"). ``refit=False`` keeps the first models.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from churnml.model.calibration import fit_calibrator
from churnml.model.defaults import DEFAULT_PARAMS, SMALL_DATA_ROWS, default_params
from churnml.model.inputs import (
    as_frame,
    check_weight,
    learn_categories,
    target_type,
    to_float,
)
from churnml.model.validation_slice import MIN_ROWS_FOR_VALIDATION, split_validation

#: columns that identify or label a snapshot row and are never features
META_COLUMNS = (
    "account_id",
    "as_of",
    "contract_id",
    "renewal_date",
    "outcome",
    "label",
    "name",
    "csm",
)

def _one_of(*values):
    return (lambda v: v in values, f"one of {values!r}")


def _int_at_least(low):
    return (
        lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low,
        f"an integer of at least {low}",
    )


def _real_in(low, high, *, closed_low=False):
    def ok(v):
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            return False
        return (v >= low if closed_low else v > low) and v < high

    return ok, f"a number in {'[' if closed_low else '('}{low}, {high})"


def _optional(kind, what):
    return (lambda v: v is None or isinstance(v, kind), f"None or {what}")


#: allowed values of every constructor argument, checked in ``fit``
PARAMETER_CONSTRAINTS = {
    "params": _optional(dict, "a dict of LightGBM parameters"),
    "n_estimators": _int_at_least(1),
    "learning_rate": _real_in(0.0, 1.0),
    "early_stopping_rounds": (
        lambda v: v is None or _int_at_least(1)[0](v),
        "None or an integer of at least 1",
    ),
    "validation_fraction": _real_in(0.0, 0.9, closed_low=True),
    "calibration": _one_of("auto", "isotonic", "sigmoid", None),
    "time_column": _optional(str, "a column name"),
    "label_column": (lambda v: isinstance(v, str), "a column name"),
    "feature_columns": (
        lambda v: v is None or (not isinstance(v, str) and all(isinstance(c, str) for c in v)),
        "None or a list of column names",
    ),
    "random_state": _int_at_least(0),
    "refit": (lambda v: isinstance(v, bool), "True or False"),
    "blend": (lambda v: v == "auto" or isinstance(v, bool), "'auto', True or False"),
}

__all__ = ["ChurnModel", "DEFAULT_PARAMS", "META_COLUMNS", "MIN_ROWS_FOR_VALIDATION"]


@dataclass
class _Rows:
    """The labelled rows of one fit, prepared, with the split and the weights."""

    X: pd.DataFrame  # prepared features
    target: np.ndarray  # 0/1
    weight: np.ndarray | None  # the user's sample weights
    class_weight: np.ndarray  # sample weights x the positive-class weight (the booster's)
    train: np.ndarray  # positions of the early-stopping fit's rows
    valid: np.ndarray  # positions of the validation slice
    groups: np.ndarray | None  # account of each row, when known


class ChurnModel(ClassifierMixin, BaseEstimator):
    """LightGBM binary classifier, optionally blended with a logistic model, calibrated, in
    scikit-learn clothing.

    Parameters
    ----------
    params : dict, optional
        LightGBM parameters; they override the defaults (:func:`churnml.model.defaults.
        default_params`, which adapt below ``SMALL_DATA_ROWS`` labelled rows) and
        ``learning_rate``. The key ``scale_pos_weight`` sets the weight of a positive row (default
        ``sqrt(neg / pos)``, applied as sample weights to both the training and the validation
        slice).
    n_estimators : int, default 600
        Maximum boosting rounds.
    learning_rate : float, default 0.05
    early_stopping_rounds : int or None, default 50
        Stop when the validation log loss has not improved for this many rounds.
    validation_fraction : float, default 0.2
        Share of rows (latest snapshots first) held out for early stopping, the blend and
        calibration; 0 trains on everything with no early stopping, no blend and no calibration.
    calibration : {"auto", "isotonic", "sigmoid", None}, default "auto"
        "auto" picks isotonic or Platt (sigmoid) by cross-validated Brier score on the validation
        slice, or no calibration ("none") when the raw probabilities score better than both.
    time_column : str, optional
        Column ordering the rows in time (not a feature). In snapshot mode ``as_of`` is used when
        present.
    label_column : str, default "label"
        Label column in snapshot mode (``fit(frame)`` without ``y``).
    feature_columns : list of str, optional
        Feature columns; default every column that is not in :data:`META_COLUMNS`, the time column,
        the label column or of datetime dtype.
    random_state : int, default 0
    refit : bool, default True
        After early stopping has chosen the number of trees on the validation slice, refit the
        booster on every row (the slice included, so the latest snapshots count) with that number
        of trees scaled to the larger data (by at most ``1 / (1 - validation_fraction)``, never
        beyond ``n_estimators``), and the linear model of a blend on every row too. The calibrator
        stays fitted on the slice's out-of-sample scores from the models that did not see it.
        False keeps the models trained without the slice.
    blend : {"auto", True, False}, default "auto"
        Blend the booster with a regularised logistic model on the log-odds scale. "auto" keeps
        the blend only when it beats the booster alone out of fold by more than one standard
        error (``blend_`` says which was chosen); True always blends (unless the linear model gets
        no weight); False is the booster alone.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        Holds exactly ``best_iteration_`` trees (the refitted booster when ``refit``).
    linear_ : LinearPart or None
        The logistic model of the blend (:class:`churnml.model.linear.LinearPart`), None when the
        booster is used alone.
    blend_ : Blend
        Weights of the booster's and the linear model's log-odds, which was chosen and why
        (:class:`churnml.model.blend.Blend`).
    calibrator_ : object or None
        Maps raw probabilities (of the booster or the blend) to calibrated ones (``predict``),
        None when not calibrated.
    calibration_ : str or None
        The calibration method in use: "isotonic", "sigmoid", "none" (auto found none better)
        or None (``calibration=None``).
    feature_names_in_ : ndarray of str
    categories_ : dict
        Categorical column -> list of training levels.
    classes_ : ndarray
    n_features_in_ : int
    best_iteration_ : int
    params_ : dict
        The LightGBM parameters the booster was trained with.
    validation_ : dict
        How the rows were split (counts, cut-off, method).
    typical_values_ : dict
        Median of each numeric feature over the labelled rows fitted: the "typical account" that
        reason sentences compare an account with.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"usage": rng.normal(size=400), "plan": rng.choice(["a", "b"], 400)})
    >>> y = (X["usage"] + rng.normal(size=400) < -0.5).astype(int)
    >>> model = ChurnModel(n_estimators=50).fit(X, y)
    >>> model.predict_proba(X).shape
    (400, 2)
    >>> model.blend_.chosen in ("blend", "booster")
    True
    """

    # models pickled before these parameters existed read them from here
    refit = True
    blend = False

    def __init__(
        self,
        *,
        params=None,
        n_estimators=600,
        learning_rate=0.05,
        early_stopping_rounds=50,
        validation_fraction=0.2,
        calibration="auto",
        time_column=None,
        label_column="label",
        feature_columns=None,
        random_state=0,
        refit=True,
        blend="auto",
    ):
        self.params = params
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.time_column = time_column
        self.label_column = label_column
        self.feature_columns = feature_columns
        self.random_state = random_state
        self.refit = refit
        self.blend = blend

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = False
        tags.classifier_tags.multi_class = False
        return tags

    # ------------------------------------------------------------------ fit
    def _check_params(self):
        for name, (ok, what) in PARAMETER_CONSTRAINTS.items():
            value = getattr(self, name)
            if not ok(value):
                raise ValueError(f"ChurnModel: {name} must be {what}, but got {name}={value!r}")

    def fit(self, X, y=None, sample_weight=None):
        """Fit the booster (with early stopping), the blend and the calibrator.

        Parameters
        ----------
        X : DataFrame or array-like
            Features (tabular mode) or the whole snapshot frame with ``label_column`` (``y=None``).
        y : array-like, optional
            Binary labels (any two values; the larger one is the positive class). Missing labels
            are dropped.
        sample_weight : array-like, optional
            Row weights, multiplied with the class weight.

        Returns
        -------
        self
        """
        self._check_params()
        frame, target, weight, time_column = self._labelled_rows(X, y, sample_weight)
        X_all = self._learn_features(frame, time_column)
        train, valid, self.validation_ = split_validation(
            frame, target, time_column, self.validation_fraction, self.random_state
        )
        params, class_weight = self._booster_params(target, train, weight)
        groups = frame["account_id"].to_numpy() if "account_id" in frame.columns else None
        rows = _Rows(X_all, target, weight, class_weight, train, valid, groups)
        booster, best = self._early_stopped_booster(params, rows)
        valid_scores = self._fit_blend(params, rows, booster, best)
        self._fit_calibrator(valid_scores, target[valid])
        if self.refit and len(valid):
            booster, best = self._refit(params, rows, best)
        # keep only the trees in use, so explanations and saved models see the same model
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.booster_.best_iteration = best
        self.best_iteration_ = best
        return self

    def _labelled_rows(self, X, y, sample_weight):
        """The labelled rows as a frame, 0/1 targets, weights and the time column; sets
        ``classes_``."""
        frame = as_frame(X)
        if y is None:
            if self.label_column not in frame.columns:
                raise ValueError(
                    f"ChurnModel requires y to be passed, but the target y is None and the frame "
                    f"has no label column {self.label_column!r}; columns are "
                    f"{list(frame.columns)[:12]}"
                )
            y = frame[self.label_column]
            time_column = self.time_column or ("as_of" if "as_of" in frame.columns else None)
        else:
            time_column = self.time_column
        if not isinstance(y, pd.Series):
            from sklearn.utils.validation import column_or_1d

            y = pd.Series(column_or_1d(y, warn=True))
        if len(y) != len(frame):
            raise ValueError(f"ChurnModel.fit: X has {len(frame)} rows but y has {len(y)}")
        keep = ~pd.isna(y).to_numpy()
        weight = check_weight(sample_weight, len(frame))
        frame = frame.loc[keep].reset_index(drop=True)
        y = y[keep].reset_index(drop=True)
        weight = None if weight is None else weight[keep]
        numpy_dtype = getattr(y.dtype, "numpy_dtype", None)
        values = y.to_numpy(dtype=numpy_dtype) if numpy_dtype is not None else y.to_numpy()
        self.classes_ = np.unique(values)
        kind = target_type(values)
        if kind != "binary" or len(self.classes_) != 2:
            raise ValueError(
                f"ChurnModel.fit: Unknown label type: {kind!r}. Only binary classification is "
                f"supported: ChurnModel needs exactly two classes among the labelled rows, but got "
                f"{len(self.classes_)} class(es) {list(self.classes_)[:5]} in {len(y)} labelled rows"
            )
        target = (values == self.classes_[1]).astype(np.int8)
        return frame, target, weight, time_column

    def _learn_features(self, frame, time_column):
        """Feature columns, their categories and typical values; returns the prepared frame."""
        columns = self._select_features(frame, time_column)
        self.feature_names_in_ = np.asarray(columns, dtype=object)
        self.n_features_in_ = len(columns)
        self.categories_ = learn_categories(frame[columns])
        self._numeric_ = [c for c in columns if c not in self.categories_]
        X_all = self.prepare(frame)
        # the typical account: what explanations compare an account's values with
        self.typical_values_ = {
            c: float(v) for c, v in X_all[self._numeric_].median().items() if pd.notna(v)
        }
        return X_all

    def _select_features(self, frame, time_column):
        if self.feature_columns is not None:
            columns = list(self.feature_columns)
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(
                    f"ChurnModel.fit: {len(missing)} feature column(s) not in the frame: "
                    f"{missing[:10]}"
                )
            return columns
        skip = set(META_COLUMNS) | {self.label_column, time_column}
        return [
            c
            for c in frame.columns
            if c not in skip and not pd.api.types.is_datetime64_any_dtype(frame[c])
        ]

    def _booster_params(self, target, train, weight):
        """LightGBM parameters (``params_``) and the booster's sample weights."""
        params = {
            **default_params(len(target)),
            "learning_rate": self.learning_rate,
            "seed": self.random_state,
            **(self.params or {}),
        }
        params.pop("n_estimators", None)
        pos = max(int(target[train].sum()), 1)
        neg = max(int(len(train) - target[train].sum()), 1)
        spw = float(params.pop("scale_pos_weight", np.sqrt(neg / pos)))
        params.pop("is_unbalance", None)
        class_weight = np.where(target == 1, spw, 1.0)
        if weight is not None:
            class_weight = class_weight * weight
        self.params_ = {**params, "scale_pos_weight": spw}
        return params, class_weight

    def _early_stopped_booster(self, params, rows: _Rows):
        """The first booster, trained without the slice and stopped on it; and its tree count."""
        import lightgbm as lgb

        train, valid = rows.train, rows.valid
        train_set = lgb.Dataset(
            rows.X.iloc[train],
            rows.target[train],
            weight=rows.class_weight[train],
            free_raw_data=True,
        )
        callbacks, valid_sets = [], []
        if len(valid) and self.early_stopping_rounds:
            valid_sets = [
                lgb.Dataset(
                    rows.X.iloc[valid],
                    rows.target[valid],
                    weight=rows.class_weight[valid],
                    reference=train_set,
                )
            ]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            callbacks=callbacks,
        )
        return booster, booster.best_iteration or booster.current_iteration()

    def _fit_blend(self, params, rows: _Rows, booster, best):
        """Choose and fit the blend (``blend_``, ``linear_``); returns the slice's raw scores."""
        from churnml.model.blend import Blend, booster_only, choose_blend, out_of_fold_scores
        from churnml.model.linear import LinearPart

        self.linear_ = None
        valid = rows.valid
        if not len(valid):
            self.blend_ = booster_only("no validation slice to learn a blend on")
            return None
        scores = booster.predict(rows.X.iloc[valid], num_iteration=best, raw_score=True)
        if self.blend is False:
            self.blend_ = booster_only("blend=False")
            return scores
        train_weight = None if rows.weight is None else rows.weight[rows.train]
        linear = LinearPart().fit(rows.X.iloc[rows.train], rows.target[rows.train], train_weight)
        linear_scores = linear.decision_function(rows.X.iloc[valid])
        if self.validation_["method"] == "stratified" and len(rows.target) < SMALL_DATA_ROWS:
            # exchangeable rows, too few for a slice: learn the blend from every row, cross-fitted
            oof = out_of_fold_scores(params, rows, best, random_state=self.random_state)
            self.blend_ = choose_blend(*oof, rows.target, mode=self.blend, how="cross-fitted")
        else:
            groups = None if rows.groups is None else rows.groups[valid]
            self.blend_ = choose_blend(
                scores, linear_scores, rows.target[valid], mode=self.blend, groups=groups
            )
        if not self.blend_.blended:
            return scores
        self.linear_ = linear
        if self.refit:
            self.linear_ = LinearPart().fit(rows.X, rows.target, rows.weight)
        return self.blend_.combine(scores, linear_scores)

    def _fit_calibrator(self, scores, target):
        """Calibrator on the slice's out-of-sample log-odds (``calibrator_``, ``calibration_``)."""
        self.calibrator_, self.calibration_ = None, None
        if self.calibration is not None and scores is not None:
            self.calibrator_, self.calibration_ = fit_calibrator(
                _sigmoid(scores), target, method=self.calibration, random_state=self.random_state
            )

    def _refit(self, params, rows: _Rows, early):
        """The booster refitted on every row with the early-stopped tree count scaled up."""
        import lightgbm as lgb

        # the latest snapshots matter most under drift: refit on every row with the number
        # of trees early stopping chose, scaled to the larger data (bounded: the renewal guard
        # can leave far fewer training rows than the slice suggests)
        scale = min(len(rows.target) / len(rows.train), 1 / (1 - self.validation_fraction))
        best = int(min(self.n_estimators, max(1, round(early * scale))))
        booster = lgb.train(
            params,
            lgb.Dataset(rows.X, rows.target, weight=rows.class_weight, free_raw_data=True),
            num_boost_round=best,
        )
        self.validation_ = {
            **self.validation_,
            "early_stopped_trees": early,
            "refit_rows": len(rows.target),
            "refit_trees": best,
        }
        return booster, best

    # -------------------------------------------------------------- predict
    def prepare(self, X):
        """Align ``X`` to the training features: column order, numeric dtypes, category levels.

        Unknown category levels become missing. Raises ``ValueError`` naming missing columns.
        """
        check_is_fitted(self, "feature_names_in_")
        frame = as_frame(X, n_features=self.n_features_in_)
        columns = list(self.feature_names_in_)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"ChurnModel: {len(missing)} feature column(s) missing from the input "
                f"({len(frame)} rows): {missing[:10]}"
            )
        out = {}
        for c in columns:
            s = frame[c]
            if c in self.categories_:
                levels = self.categories_[c]
                values = s.astype("string")
                values = values.astype(object).where(values.isin(levels).fillna(False), None)
                out[c] = pd.Categorical(values, categories=levels)
            else:
                out[c] = to_float(s, c)
        return pd.DataFrame(out, index=frame.index)

    @property
    def blended_(self) -> bool:
        """Whether predictions blend the booster with the linear model."""
        blend = getattr(self, "blend_", None)
        return blend is not None and blend.blended

    def predict_raw(self, X):
        """Log-odds before calibration, shape ``(n,)``: the booster's, or the blend's."""
        check_is_fitted(self, "booster_")
        X = self.prepare(X)
        raw = self.booster_.predict(X, raw_score=True)
        if not self.blended_:
            return raw
        return self.blend_.combine(raw, self.linear_.decision_function(X))

    def predict_proba(self, X):
        """Calibrated class probabilities, shape ``(n, 2)``; column 1 is ``classes_[1]``."""
        p = _sigmoid(self.predict_raw(X))
        if self.calibrator_ is not None:
            p = self.calibrator_.predict(p)
        p = np.clip(p, 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Predicted class (probability of ``classes_[1]`` at least 0.5)."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
