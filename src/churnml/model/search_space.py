"""The define-by-run LightGBM search space; its bounds come from the model config."""

from __future__ import annotations

from churnml.model.config import SearchSpace

#: parameters sampled on a log scale
LOG_SCALE = ("learning_rate", "lambda_l1", "lambda_l2", "scale_pos_weight")


def search_space(trial, bounds: SearchSpace | None = None) -> dict:
    """Sample one set of LightGBM parameters for an Optuna trial.

    Parameters
    ----------
    trial : optuna.Trial
    bounds : SearchSpace, optional
        ``(low, high)`` per parameter (default ``load_config().search_space``). A parameter whose
        low equals its high is fixed, not searched.

    Returns
    -------
    dict
        Parameters for ``ChurnModel(params=...)``.

    Examples
    --------
    >>> import optuna
    >>> trial = optuna.trial.FixedTrial({"learning_rate": 0.05, "num_leaves": 15,
    ...     "min_child_samples": 20, "feature_fraction": 0.8, "bagging_fraction": 0.8,
    ...     "lambda_l1": 1e-3, "lambda_l2": 1.0, "scale_pos_weight": 2.0})
    >>> search_space(trial)["num_leaves"]
    15
    """
    if bounds is None:
        from churnml.model.config import load_config

        bounds = load_config().search_space
    params = {}
    for name, (low, high) in vars(bounds).items():
        if low == high:
            params[name] = low
        elif isinstance(low, int) and isinstance(high, int):
            params[name] = trial.suggest_int(name, low, high, log=name in LOG_SCALE)
        else:
            low = max(float(low), 1e-12) if name in LOG_SCALE else float(low)
            params[name] = trial.suggest_float(name, low, float(high), log=name in LOG_SCALE)
    return params
