"""What :class:`~churnml.model.estimator.ChurnModel` accepts: constructor arguments, tables, labels,
weights.

Checks in scikit-learn's words (the estimator checks test them) and the typing rules shared by
``fit`` and ``prepare``: which columns are categorical, which levels they have, how numbers are read.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd


def as_frame(X, n_features=None) -> pd.DataFrame:
    """A DataFrame view of ``X``; arrays get columns x0, x1, ... and must match ``n_features``."""
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        from scipy import sparse

        if sparse.issparse(X):
            raise TypeError(
                "ChurnModel: sparse input is not supported; pass a dense DataFrame or array"
            )
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(
                f"ChurnModel: expected a 2-D table, got an array of shape {arr.shape}. "
                f"Reshape your data with X.reshape(-1, 1) for a single feature"
            )
        if np.iscomplexobj(arr):
            raise ValueError("ChurnModel: Complex data not supported")
        if n_features is not None and arr.shape[1] != n_features:
            raise ValueError(
                f"X has {arr.shape[1]} features, but ChurnModel is expecting {n_features} "
                f"features as input"
            )
        frame = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(
            f"ChurnModel: found array with {frame.shape[0]} sample(s) and {frame.shape[1]} "
            f"feature(s) (shape={frame.shape}) while a minimum of 1 is required."
        )
    return frame


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


#: allowed values of every ChurnModel constructor argument, checked in ``fit``
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


def check_params(estimator) -> None:
    """Raise ``ValueError`` naming the first constructor argument outside its allowed values."""
    for name, (ok, what) in PARAMETER_CONSTRAINTS.items():
        value = getattr(estimator, name)
        if not ok(value):
            raise ValueError(f"ChurnModel: {name} must be {what}, but got {name}={value!r}")


def labelled_rows(X, y, sample_weight, *, label_column="label", time_column=None):
    """The labelled rows of a fit and how to read them.

    With ``y=None`` the labels are ``X[label_column]`` (snapshot mode) and the time column
    defaults to ``as_of`` when present. Rows with a missing label are dropped.

    Returns
    -------
    (frame, target, weight, time_column, classes)
        The labelled rows (fresh RangeIndex), 0/1 targets (``classes[1]`` is 1), their weights
        (or None), the time column (or None) and the two sorted label values.
    """
    frame = as_frame(X)
    if y is None:
        if label_column not in frame.columns:
            raise ValueError(
                f"ChurnModel requires y to be passed, but the target y is None and the frame "
                f"has no label column {label_column!r}; columns are {list(frame.columns)[:12]}"
            )
        y = frame[label_column]
        time_column = time_column or ("as_of" if "as_of" in frame.columns else None)
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
    classes = np.unique(values)
    kind = target_type(values)
    if kind != "binary" or len(classes) != 2:
        raise ValueError(
            f"ChurnModel.fit: Unknown label type: {kind!r}. Only binary classification is "
            f"supported: ChurnModel needs exactly two classes among the labelled rows, but got "
            f"{len(classes)} class(es) {list(classes)[:5]} in {len(y)} labelled rows"
        )
    target = (values == classes[1]).astype(np.int8)
    return frame, target, weight, time_column, classes


def check_weight(sample_weight, n):
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=float)
    if weight.shape != (n,):
        raise ValueError(
            f"ChurnModel.fit: sample_weight.shape == {weight.shape}, expected ({n},) for {n} rows"
        )
    if (weight < 0).any() or not np.isfinite(weight).all() or weight.sum() <= 0:
        raise ValueError(
            "ChurnModel.fit: sample_weight must be finite and non-negative and not all zero, "
            f"but got {int((weight < 0).sum())} negative and sum {weight.sum()}"
        )
    return weight


def target_type(values) -> str:
    from sklearn.utils.multiclass import type_of_target

    try:
        return type_of_target(values)
    except ValueError:
        return "unknown"


def is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(s.dtype)
        or s.dtype == object
    )


def learn_categories(frame: pd.DataFrame) -> dict:
    categories = {}
    for c in frame.columns:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            categories[c] = [str(v) for v in s.cat.categories]
        elif is_categorical(s):
            if s.dtype == object:
                numeric = pd.to_numeric(s, errors="coerce")
                if numeric.notna().sum() == s.notna().sum():
                    continue  # object column holding numbers
            categories[c] = sorted(s.dropna().astype(str).unique().tolist())
    return categories


def to_float(s: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    numeric = pd.to_numeric(s, errors="coerce")
    bad = numeric.isna() & s.notna()
    if bad.any():
        warnings.warn(
            f"ChurnModel: column {column!r} has {int(bad.sum())} non-numeric value(s) treated as "
            f"missing, e.g. {s[bad].head(3).tolist()}",
            stacklevel=3,
        )
    return numeric.to_numpy(dtype="float64", na_value=np.nan)
