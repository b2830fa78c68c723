"""What :class:`~churnml.model.estimator.ChurnModel` accepts as input: tables, labels, weights.

Checks in scikit-learn's words (the estimator checks test them) and the typing rules shared by
``fit`` and ``prepare``: which columns are categorical, which levels they have, how numbers are read.
"""

from __future__ import annotations

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
