"""Exact per-row contributions of a model's log-odds behind one small interface.

:func:`contributions` explains a LightGBM booster; :func:`model_contributions` explains a fitted
``ChurnModel``, whose log-odds may blend the booster with a linear model: then each feature's
contribution is ``w_booster`` × its TreeSHAP value + ``w_linear`` × its linear contribution
(coefficient × (value − training mean), summed over the feature's one-hot or flag columns), and
the base value is blended the same way, so contributions still add up to the log-odds exactly.

Backends (all exact, path-dependent TreeSHAP, in log-odds):

- ``"native"``: LightGBM's own ``predict(pred_contrib=True)``; the reference.
- ``"woodelf"``: WOODELF (package ``woodelf-explainer``), vectorised over rows; built from the
  booster's own dump so categorical splits and missing-value routing match LightGBM exactly.
- ``"shap"``: ``shap.TreeExplainer``; for comparison only (for LightGBM it calls ``pred_contrib``),
  so ``shap`` is an optional extra (``pip install 'churnml[shap]'``).

``"auto"`` picks the fastest exact backend that is installed, by the order in ``AUTO_ORDER`` (set
from ``benchmarks/scoring.py``: WOODELF 12.9 s against native 220 s for 100,000 rows of a 400-tree,
31-leaf model), falling back to ``"native"``. WOODELF's cost is mostly per leaf, not per row (about
4 s for 400 trees however few rows), so below ``AUTO_MIN_ROWS`` rows ``"auto"`` uses native.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

BACKENDS = ("native", "woodelf", "shap")
#: Preference of ``backend="auto"``, fastest first (see benchmarks/RESULTS.md).
AUTO_ORDER = ("woodelf", "native")
#: Below this many rows ``backend="auto"`` uses native (WOODELF's fixed per-leaf cost dominates).
AUTO_MIN_ROWS = 2_000
_MODULES = {"native": "lightgbm", "woodelf": "woodelf", "shap": "shap"}
#: What to install for a backend whose package is missing.
_INSTALL = {"native": "lightgbm", "woodelf": "woodelf-explainer", "shap": "churnml[shap]"}
DEFAULT_CHUNK = 250_000


def available_backends() -> list[str]:
    """Names of the backends whose package is installed, in :data:`BACKENDS` order.

    Examples
    --------
    >>> "native" in available_backends()
    True
    """
    return [name for name in BACKENDS if importlib.util.find_spec(_MODULES[name]) is not None]


def resolve_backend(backend: str = "auto", n_rows: int | None = None) -> str:
    """The concrete backend ``backend`` stands for; raises ``ValueError`` for an unknown name.

    ``n_rows`` (rows to explain) lets ``"auto"`` use native for small inputs.
    """
    if backend == "auto":
        if n_rows is not None and n_rows < AUTO_MIN_ROWS:
            return "native"
        installed = available_backends()
        return next(name for name in AUTO_ORDER if name in installed)
    if backend not in BACKENDS:
        raise ValueError(
            f"backend must be one of {('auto', *BACKENDS)}, but got backend={backend!r}"
        )
    if backend not in available_backends():
        raise ValueError(
            f"backend={backend!r} needs the package {_MODULES[backend]!r}, which is not "
            f"installed: pip install '{_INSTALL[backend]}'"
        )
    return backend


def numeric_frame(booster, X: pd.DataFrame) -> pd.DataFrame:
    """``X`` as float64 columns in the booster's feature order, categoricals as LightGBM's codes.

    Categorical columns are re-coded to the levels the booster was trained on (its
    ``pandas_categorical``), exactly as LightGBM does for pandas input; unknown levels become NaN.
    """
    names = booster.feature_name()
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise ValueError(
            f"the frame to explain lacks {len(missing)} of the model's feature columns, "
            f"e.g. {missing[:5]}"
        )
    X = X[names]
    levels = list(getattr(booster, "pandas_categorical", None) or [])
    cat_cols = [c for c in names if isinstance(X[c].dtype, pd.CategoricalDtype)]
    columns = {}
    for col in names:
        s = X[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            i = cat_cols.index(col)
            if i < len(levels):
                s = s.cat.set_categories(levels[i])
            codes = s.cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            columns[col] = codes
        else:
            columns[col] = pd.to_numeric(s, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
    return pd.DataFrame(columns, index=pd.RangeIndex(len(X)))


def _native(booster, X):
    out = np.asarray(booster.predict(X, pred_contrib=True), dtype=np.float64)
    return out[:, :-1], out[:, -1]


def _shap(booster, X):
    import shap

    explainer = shap.TreeExplainer(booster)
    best = getattr(booster, "best_iteration", 0) or 0  # LightGBM predicts with it by default
    values = explainer.shap_values(X, tree_limit=best if best > 0 else None)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 3:  # older shap: one matrix per class
        values = values[..., -1]
    base = np.broadcast_to(np.ravel(explainer.expected_value)[-1], len(X)).astype(np.float64)
    return values, base


def contributions(
    booster,
    X: pd.DataFrame,
    *,
    backend: str = "auto",
    chunk_size: int = DEFAULT_CHUNK,
    n_jobs: int | None = None,
):
    """Per-row, per-feature SHAP contributions of ``booster`` on ``X``, in log-odds.

    Parameters
    ----------
    booster : lightgbm.Booster
        A fitted binary booster (``ChurnModel.booster_``).
    X : pandas.DataFrame
        The prepared feature frame (``ChurnModel.prepare(features)``), pandas categoricals allowed.
    backend : {"auto", "native", "woodelf", "shap"}
        Which exact TreeSHAP implementation to use; see the module docstring.
    chunk_size : int
        Rows explained at a time, to cap memory.
    n_jobs : int, optional
        Worker processes for the ``"woodelf"`` backend on large inputs (default: one per CPU);
        LightGBM's own backends use its OpenMP threads.

    Returns
    -------
    values : ndarray of shape (n, p), float64
        Columns in ``booster.feature_name()`` order.
    base_value : ndarray of shape (n,), float64
        Expected raw score; ``values.sum(1) + base_value`` equals
        ``booster.predict(X, raw_score=True)``.

    Examples
    --------
    >>> values, base = contributions(model.booster_, model.prepare(features))  # doctest: +SKIP
    """
    return start_contributions(
        booster, X, backend=backend, chunk_size=chunk_size, n_jobs=n_jobs
    ).result()


class PendingContributions:
    """Contributions started by :func:`start_contributions` or :func:`start_model_contributions`.

    ``backend`` names the backend used; ``result()`` returns ``(values, base_value)``, waiting
    for the worker processes that explain the first chunk while the caller does other work;
    ``cancel()`` stops them when the result is no longer wanted.
    """

    def __init__(self, backend: str, compute, running=None):
        self.backend = backend
        self._compute, self._running, self._done = compute, running, None

    def result(self):
        if self._done is None:
            try:
                self._done = self._compute()
            finally:
                self.cancel()
        return self._done

    def cancel(self) -> None:
        if self._running is not None:
            self._running.cancel()


def start_contributions(
    booster,
    X: pd.DataFrame,
    *,
    backend: str = "auto",
    chunk_size: int = DEFAULT_CHUNK,
    n_jobs: int | None = None,
) -> PendingContributions:
    """:func:`contributions`, started: WOODELF's worker processes (large inputs on Linux) begin
    on the first chunk at once, and the returned object's ``result()`` gives the value."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, but got chunk_size={chunk_size}")
    n, p = len(X), booster.num_feature()
    name = resolve_backend(backend, n)
    if name != "woodelf":

        def compute():
            values, base = np.empty((n, p), dtype=np.float64), np.empty(n, dtype=np.float64)
            frame = X[booster.feature_name()]
            for start in range(0, n, chunk_size):
                part = frame.iloc[start : start + chunk_size]
                stop = start + len(part)
                values[start:stop], base[start:stop] = (_native if name == "native" else _shap)(
                    booster, part
                )
            return values, base

        return PendingContributions(name, compute)
    from churnml.explain._woodelf import load_ensemble, start_woodelf

    ensemble, base_value = load_ensemble(booster)
    frame = numeric_frame(booster, X)
    chunks = [frame.iloc[s : s + chunk_size].reset_index(drop=True) for s in range(0, n, chunk_size)]
    first = start_woodelf(ensemble, chunks[0], n_jobs) if chunks else None

    def compute():
        values = np.empty((n, p), dtype=np.float64)
        start = 0
        for k, part in enumerate(chunks):
            running = first if k == 0 else start_woodelf(ensemble, part, n_jobs)
            values[start : start + len(part)] = running.result()
            start += len(part)
        return values, np.full(n, base_value, dtype=np.float64)

    return PendingContributions(name, compute, first)


def model_contributions(
    model,
    X: pd.DataFrame,
    *,
    backend: str = "auto",
    chunk_size: int = DEFAULT_CHUNK,
    n_jobs: int | None = None,
):
    """Per-row, per-feature contributions to a fitted ``ChurnModel``'s log-odds (``predict_raw``).

    Parameters
    ----------
    model : ChurnModel
        Fitted; a blended model (``model.blend_``) adds its linear part's exact contributions.
    X : pandas.DataFrame
        The prepared feature frame (``model.prepare(features)``).
    backend, chunk_size, n_jobs
        For the booster's TreeSHAP, see :func:`contributions`.

    Returns
    -------
    values : ndarray of shape (n, p), float64
        Columns in ``model.feature_names_in_`` order (the booster's feature order).
    base_value : ndarray of shape (n,), float64
        ``values.sum(1) + base_value`` equals ``model.predict_raw(X)``.

    Examples
    --------
    >>> values, base = model_contributions(model, model.prepare(features))  # doctest: +SKIP
    """
    return start_model_contributions(
        model, X, backend=backend, chunk_size=chunk_size, n_jobs=n_jobs
    ).result()


def start_model_contributions(
    model,
    X: pd.DataFrame,
    *,
    backend: str = "auto",
    chunk_size: int = DEFAULT_CHUNK,
    n_jobs: int | None = None,
) -> PendingContributions:
    """:func:`model_contributions`, started as :func:`start_contributions` starts the booster's
    (a blend's linear part is computed in ``result()``, while the workers run)."""
    booster = start_contributions(
        model.booster_, X, backend=backend, chunk_size=chunk_size, n_jobs=n_jobs
    )
    blend = getattr(model, "blend_", None)
    if blend is None or not blend.blended:
        return booster

    def compute():
        linear, linear_base = model.linear_.contributions(X)
        values, base = booster.result()
        return (
            blend.booster * values + blend.linear * linear,
            blend.booster * base + blend.linear * linear_base + blend.intercept,
        )

    return PendingContributions(booster.backend, compute, booster)
