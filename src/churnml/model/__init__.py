"""Renewal-risk model: estimator, out-of-time folds, tuning, calibration, baselines, evaluation.

Names are re-exported lazily so that importing a sub-module stays cheap.
"""

from importlib import import_module

_EXPORTS = {
    "ChurnModel": "churnml.model.estimator",
    "out_of_time_folds": "churnml.model.folds",
    "trainable_before": "churnml.model.folds",
    "search_space": "churnml.model.search_space",
    "tune": "churnml.model.tuning",
    "TuneResult": "churnml.model.tuning",
    "tune_worker": "churnml.model.study",
    "IsotonicCalibrator": "churnml.model.calibration",
    "SigmoidCalibrator": "churnml.model.calibration",
    "fit_calibrator": "churnml.model.calibration",
    "logistic_baseline": "churnml.model.baselines",
    "HealthScore": "churnml.model.baselines",
    "evaluate": "churnml.model.evaluation",
    "Evaluation": "churnml.model.evaluation",
    "ModelConfig": "churnml.model.config",
    "load_config": "churnml.model.config",
    "train": "churnml.model.training",
    "load_model": "churnml.model.registry",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'churnml.model' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
