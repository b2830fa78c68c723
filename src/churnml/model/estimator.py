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
a stratified random share. When the frame carries ``renewal_date`` (or ``label_date``, the date a
rolling-window label is known), training rows whose renewal
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

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from churnml.model.booster import FitRows, booster_params, early_stopped, refit
from churnml.model.calibration import fit_calibrator
from churnml.model.defaults import (
    DEFAULT_PARAMS,
    SMALL_DATA_ROWS,
    default_params,
    linear_penalty,
)
from churnml.model.inputs import as_frame, check_params, labelled_rows, learn_categories, to_float
from churnml.model.validation_slice import MIN_ROWS_FOR_VALIDATION, split_validation

#: columns that identify or label a snapshot row and are never features
META_COLUMNS = (
    "account_id",
    "as_of",
    "contract_id",
    "renewal_date",
    "label_date",
    "outcome",
    "label",
    "name",
    "csm",
)


__all__ = ["DEFAULT_PARAMS", "META_COLUMNS", "MIN_ROWS_FOR_VALIDATION", "ChurnModel"]


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
    base_rate_ : float
        Share of the labelled rows fitted that are positive (the training churn rate); relative
        tier thresholds are multiples of it.

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
        check_params(self)
        frame, target, weight, time_column, self.classes_ = labelled_rows(
            X, y, sample_weight, label_column=self.label_column, time_column=self.time_column
        )
        X_all = self._learn_features(frame, time_column)
        self.base_rate_ = float(target.mean())  # relative tier thresholds are multiples of it
        train, valid, self.validation_ = split_validation(
            frame, target, time_column, self.validation_fraction, self.random_state
        )
        defaults = {
            **default_params(len(target)),
            "learning_rate": self.learning_rate,
            "seed": self.random_state,
        }
        params, class_weight, spw = booster_params(defaults, self.params, target, train, weight)
        self.params_ = {**params, "scale_pos_weight": spw}
        groups = frame["account_id"].to_numpy() if "account_id" in frame.columns else None
        rows = FitRows(X_all, target, weight, class_weight, train, valid, groups)
        booster, best = early_stopped(params, rows, self.n_estimators, self.early_stopping_rounds)
        valid_scores = self._fit_blend(params, rows, booster, best)
        self._fit_calibrator(valid_scores, target[valid])
        if self.refit and len(valid):
            booster, best = self._refit(params, rows, best)
        # keep only the trees in use, so explanations and saved models see the same model (a
        # refitted booster has no others: it is kept, without its training rows)
        if booster.current_iteration() == best:
            self.booster_ = booster.free_dataset()
        else:
            import lightgbm as lgb

            self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.booster_.best_iteration = best
        self.best_iteration_ = best
        return self

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

    def features_of(self, frame) -> list[str]:
        """The feature columns :meth:`fit` learns from the snapshot frame ``frame``."""
        time_column = self.time_column or ("as_of" if "as_of" in frame.columns else None)
        return self._select_features(frame, time_column)

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

    def _fit_blend(self, params, rows: FitRows, booster, best):
        """Choose and fit the blend (``blend_``, ``linear_``); returns the slice's raw scores."""
        from churnml.model.blend import booster_only, choose_blend, out_of_fold_scores
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
        train = rows.train
        C = linear_penalty(len(rows.target))
        linear = LinearPart(C=C, random_state=self.random_state).fit(
            rows.X.iloc[train],
            rows.target[train],
            None if rows.weight is None else rows.weight[train],
            groups=None if rows.groups is None else rows.groups[train],
        )
        linear_scores = linear.decision_function(rows.X.iloc[valid])
        if self.validation_["method"] == "stratified" and len(rows.target) < SMALL_DATA_ROWS:
            # exchangeable rows, too few for a slice: learn the blend from every row, cross-fitted
            oof = out_of_fold_scores(params, rows, best, linear.C_, random_state=self.random_state)
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
            self.linear_ = LinearPart(C=linear.C_).fit(rows.X, rows.target, rows.weight)
        return self.blend_.combine(scores, linear_scores)

    def _fit_calibrator(self, scores, target):
        """Calibrator on the slice's out-of-sample log-odds (``calibrator_``, ``calibration_``)."""
        self.calibrator_, self.calibration_ = None, None
        if self.calibration is not None and scores is not None:
            self.calibrator_, self.calibration_ = fit_calibrator(
                _sigmoid(scores), target, method=self.calibration, random_state=self.random_state
            )

    def _refit(self, params, rows: FitRows, early):
        """The booster refitted on every row (see :func:`churnml.model.booster.refit`)."""
        booster, best = refit(params, rows, early, self.n_estimators, self.validation_fraction)
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
