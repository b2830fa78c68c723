"""``ChurnModel``'s untuned LightGBM parameters, and how they adapt to small training sets.

Measured in ``benchmarks/model_quality.py`` and documented with the figures in
``models/default.yaml`` and ``benchmarks/RESULTS.md`` ("Model quality").
"""

from __future__ import annotations

#: LightGBM parameters used unless ``params`` overrides them: shallow, regularised trees that
#: hold up untuned on a few thousand rows
DEFAULT_PARAMS = {
    "objective": "binary",
    "metric": "binary_logloss",
    "num_leaves": 15,
    "min_child_samples": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "min_split_gain": 0.0,
    "cat_smooth": 10.0,
    "min_data_per_group": 30,
    "max_cat_to_onehot": 8,
    "max_bin": 255,
    "verbosity": -1,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,
}

#: below this many labelled rows a fit counts as small (see :func:`default_params`)
SMALL_DATA_ROWS = 20_000

#: what changes on small data (fewer than ``SMALL_DATA_ROWS`` labelled rows): smaller trees with
#: randomised split thresholds (``benchmarks/RESULTS.md``, "Model quality": +0.002 to +0.015
#: ROC-AUC on each of the five benchmark tables and +0.011 on the demo's out-of-time test)
SMALL_DATA_PARAMS = {"num_leaves": 7, "extra_trees": True}


def default_params(n_rows: int) -> dict:
    """The untuned LightGBM parameters for a fit on ``n_rows`` labelled rows.

    Examples
    --------
    >>> default_params(100_000)["num_leaves"]
    15
    """
    if n_rows < SMALL_DATA_ROWS:
        return {**DEFAULT_PARAMS, **SMALL_DATA_PARAMS}
    return dict(DEFAULT_PARAMS)


def size_params(n_rows: int) -> dict:
    """The parameters that depend on the data size, as they are for ``n_rows`` labelled rows.

    Tuning pins them for every trial and fit of one training frame, so folds, the held-out model
    and the deployed model (each fitted on a different number of rows) use the same set.

    Examples
    --------
    >>> size_params(5_000)
    {'num_leaves': 7, 'extra_trees': True}
    """
    params = default_params(n_rows)
    return {name: params.get(name, False) for name in SMALL_DATA_PARAMS}


def linear_penalty(n_rows: int):
    """The blend's linear part's ``C``: on small data a grid to choose from by cross-validation
    (:data:`churnml.model.linear.C_GRID`), on ``SMALL_DATA_ROWS`` rows or more a weak fixed penalty
    (the grid's 19 fits cost more there than the choice changes).

    Examples
    --------
    >>> linear_penalty(50_000)
    1.0
    """
    from churnml.model.linear import C_GRID

    return C_GRID if n_rows < SMALL_DATA_ROWS else 1.0
