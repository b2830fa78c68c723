"""churnml: renewal-risk toolkit for B2B SaaS customer success.

The public verbs are re-exported here. They are resolved lazily on first use so that
``import churnml`` (and ``churnml --help``) stays fast: pandas, DuckDB, LightGBM, MLflow,
Optuna and SHAP load only when a verb that needs them is called.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "load_tables": "churnml.data.load",
    "read_mapping": "churnml.data.mapping",
    "validate": "churnml.data.validate",
    "DataQualityError": "churnml.data.validate",
    "make_spine": "churnml.snapshots",
    "label_audit": "churnml.label_report",
    "load_catalog": "churnml.features.catalog",
    "build_features": "churnml.features.engine",
    "indicator_report": "churnml.features.report",
    "leakage_report": "churnml.features.leakage",
    "ChurnModel": "churnml.model.estimator",
    "load_config": "churnml.model.config",
    "load_model": "churnml.model.registry",
    "tune": "churnml.model.tuning",
    "train": "churnml.model.training",
    "evaluate": "churnml.model.evaluation",
    "score": "churnml.scoring.score",
    "score_result": "churnml.scoring.score",
    "explain": "churnml.explain.contributions",
    "write_crm": "churnml.scoring.crm",
    "render_report": "churnml.report.render",
    "write_report": "churnml.report.render",
    "audit_health_score": "churnml.audit",
}

#: sub-modules reachable as attributes (``churnml.viz.plot_leading_indicators``) without importing
#: them eagerly
_SUBMODULES = (
    "audit", "data", "datasets", "explain", "features", "model", "report", "scoring", "snapshots",
    "sources", "spark", "viz",
)

__all__ = [*_EXPORTS, "datasets"]  # noqa: PLE0604 - dict keys are str


def __getattr__(name):
    if name in _SUBMODULES:
        return import_module(f"churnml.{name}")
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'churnml' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
