"""MLflow tracking: store defaults, the experiment, and what one training run logs.

With ``MLFLOW_TRACKING_URI`` unset, runs go to a SQLite store ``<cwd>/mlflow.db`` with artifacts in
``<cwd>/mlruns`` (no server). ``tracking_uri=`` (or the environment variable) points at any other
store, e.g. a real ``mlflow server`` over HTTP. MLflow's telemetry is switched off first: nothing
leaves the machine unless the tracking URI says so.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

EXPERIMENT = "churnml"


def quiet_mlflow() -> None:
    """Disable MLflow telemetry and usage tracking for this process, and the notices that say
    nothing to a churnml user (store creation, cloudpickle). Idempotent."""
    import logging

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    # store creation and "Validating input example against model signature" (INFO)
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration", "mlflow.pyfunc"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # the model is churnml's own class, logged and loaded by churnml
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    if _not_cloudpickle_notice not in pyfunc_log.filters:
        pyfunc_log.addFilter(_not_cloudpickle_notice)


@contextmanager
def no_artifact_progress():
    """MLflow's artifact-copy progress bar off inside the block (MLflow draws it on any stream, a
    cron log included; churnml draws its own bars with :mod:`churnml.progress`)."""
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _not_cloudpickle_notice(record) -> bool:
    return "Passing a Python object as `python_model`" not in record.getMessage()


def default_tracking_uri(cwd=None) -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<cwd>/mlflow.db``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    base = Path(cwd or os.getcwd()).resolve()
    return f"sqlite:///{base / 'mlflow.db'}"


def configure(tracking_uri: str | None = None, experiment: str = EXPERIMENT, cwd=None) -> str:
    """Point MLflow at ``tracking_uri`` (default :func:`default_tracking_uri`) and return the id of
    ``experiment``, creating it (artifacts under ``<cwd>/mlruns`` for a local SQLite store).
    Inside ``mlflow run`` (``MLFLOW_RUN_ID`` set) it is the experiment of that run."""
    quiet_mlflow()
    import mlflow

    uri = tracking_uri or default_tracking_uri(cwd)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(uri)
    started = os.environ.get("MLFLOW_RUN_ID")
    if started:  # inside `mlflow run`: log into the run MLflow started, in its experiment
        return client.get_run(started).info.experiment_id
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith(("sqlite:", "file:")) or "://" not in uri:
        location = (Path(cwd or os.getcwd()).resolve() / "mlruns").as_uri()
    return client.create_experiment(experiment, artifact_location=location)


def flat_params(config_dict: dict, prefix: str = "") -> dict:
    """Nested config -> flat ``{"search_space.num_leaves": "[4, 63]", ...}`` MLflow params."""
    out = {}
    for key, value in config_dict.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_params(value, prefix=f"{name}."))
        else:
            out[name] = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return out


def metric_dict(metrics: pd.DataFrame) -> dict:
    """Tidy evaluation metrics -> ``{"model.roc_auc": v, "model.smb.roc_auc": v, ...}`` (finite
    values only; segment "all" has no segment part)."""
    out = {}
    for model, segment, metric, value in metrics[
        ["model", "segment", "metric", "value"]
    ].itertuples(index=False):
        if value is None or not np.isfinite(value):
            continue
        key = f"{model}.{metric}" if segment == "all" else f"{model}.{segment}.{metric}"
        out[_safe(key)] = float(value)
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in str(name))


def log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """Log a small frame as a CSV artifact of the active run."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_csv(path, index=False)
        folder = str(Path(artifact_file).parent)
        mlflow.log_artifact(str(path), artifact_path=None if folder == "." else folder)


def log_figures(figures: dict, folder: str = "figures") -> None:
    """Log matplotlib figures as PNG artifacts (closing them)."""
    import matplotlib.pyplot as plt
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        for name, figure in figures.items():
            path = Path(tmp) / f"{name}.png"
            figure.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(figure)
        mlflow.log_artifacts(tmp, artifact_path=folder)


def log_trials(trials: pd.DataFrame, parent_run_id: str, experiment_id: str) -> int:
    """One nested run per Optuna trial (``trials_frame`` rows): its parameters, ``value``,
    ``seconds`` and the per-fold AUCs (``fold_auc`` with step = fold), and its state as the tag
    ``optuna.state``; written in one batch per trial. Returns the number of runs created."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient()
    made = 0
    for row in trials.to_dict("records"):
        number = int(row.get("number", made))
        state = str(row.get("state", "complete")).lower()
        run = client.create_run(
            experiment_id,
            run_name=f"trial-{number:03d}",
            tags={
                "mlflow.parentRunId": parent_run_id,
                "optuna.state": state,
                "optuna.trial": str(number),
            },
        )
        params, metrics = [], []
        for key, value in row.items():
            if key.startswith("param_"):
                params.append(Param(_safe(key.removeprefix("param_")), str(value)))
            elif key == "fold_auc":
                metrics += [Metric("fold_auc", float(v), 0, i) for i, v in enumerate(value or [])]
            elif key in ("value", "seconds", "n_folds_run") and _finite(value):
                metrics.append(Metric(key, float(value), 0, 0))
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        status = {"complete": "FINISHED", "pruned": "KILLED"}.get(state, "FAILED")
        client.set_terminated(run.info.run_id, status=status)
        made += 1
    return made


def _finite(value) -> bool:
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False
