"""MLflow tracking: store defaults, the experiment, what one training run logs, and the tuning
trials as nested runs logged while tuning runs (:class:`TrialRuns`).

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
#: seconds a failed tuning waits for a store that is still being opened (TrialRuns)
EXIT_WAIT_SECONDS = 3.0


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
    with _local_store_lock(uri):  # tuning workers started at once create the store only once
        from churnml.model.store_template import seed

        seed(uri)  # a new local store copied, not migrated (seconds less)
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


@contextmanager
def _local_store_lock(uri: str):
    """Hold ``<store>.lock`` (beside a local SQLite store) while the store and the experiment are
    created: two processes creating them at once make MLflow's schema migration or the
    experiment's unique name fail in one of them. Other stores need no lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        fcntl = None
    from churnml.model.store_template import sqlite_file

    store = sqlite_file(uri)
    if fcntl is None or store is None:
        yield
        return
    lock = store.with_name(f"{store.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


def figure_images(figures: dict) -> dict[str, bytes]:
    """PNG images of matplotlib figures, by name."""
    import io

    images = {}
    for name, figure in figures.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        images[name] = buffer.getvalue()
    return images


def log_images(images: dict[str, bytes], folder: str = "figures") -> None:
    """Log PNG images (by name, as :func:`figure_images` makes them) as artifacts."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        for name, image in images.items():
            (Path(tmp) / f"{name}.png").write_bytes(image)
        mlflow.log_artifacts(tmp, artifact_path=folder)


class TrialRuns:
    """A parent MLflow run, and a nested run per trial as each finishes.

    Pass the object as an Optuna callback: it only queues the finished trial, and a background
    thread writes the nested run (:func:`log_trial`, with the trial's own start and end time), so
    a slow tracking server does not hold up the next trial. The same thread first imports MLflow,
    opens the store (creating a fresh local one runs its schema migrations: seconds) and creates
    the parent run, so the first trial starts at once; a store that cannot be opened fails the
    tuning at the next finished trial. Used as a context manager it waits for the queue on exit
    and marks the parent run ``FAILED`` when tuning raised; otherwise the parent stays open for
    the caller to finish (:meth:`finish`, or ``mlflow.start_run(run_id=)``). ``run_id`` and
    ``experiment_id`` are set once the thread has created the run (always after :meth:`wait`).
    Inside ``mlflow run`` (``MLFLOW_RUN_ID`` set) the project's run is the parent.

    Parameters
    ----------
    tracking_uri : str, optional
        As in :func:`configure`.
    run_name : str
    tags : dict, optional
        Tags of the parent run.
    enabled : bool, default True
        False: no run at all, and the callback does nothing (``run_id`` is None).

    Examples
    --------
    >>> with TrialRuns(run_name="tune") as runs:  # doctest: +SKIP
    ...     study.optimize(objective, n_trials=20, callbacks=[runs])
    >>> runs.finish()  # doctest: +SKIP
    """

    def __init__(self, tracking_uri=None, *, run_name="train", tags=None, enabled=True):
        self.run_id = self.experiment_id = self._adopted = None
        self.logged, self.errors = 0, []
        self._thread = self._failure = None
        self._raised = False
        if not enabled:
            return
        import queue
        import threading
        import time

        self._queue = queue.SimpleQueue()
        where = {  # decided now: the caller may change its folder or environment meanwhile
            "uri": tracking_uri or default_tracking_uri(),
            "cwd": os.getcwd(),
            "adopted": os.environ.get("MLFLOW_RUN_ID"),
            "started": int(time.time() * 1000),  # the parent run starts before its trials
        }
        self._thread = threading.Thread(
            target=self._run, args=(where, run_name, tags or {}),
            name="churnml-trial-runs", daemon=True,
        )  # fmt: skip
        self._thread.start()

    def _open(self, where, run_name, tags) -> None:
        import mlflow

        experiment_id = configure(where["uri"], cwd=where["cwd"])
        self._client = mlflow.MlflowClient(where["uri"])
        # inside `mlflow run` the project's run is the parent, and MLflow ends it
        run_id = self._adopted = where["adopted"]
        if run_id is None:
            run_id = self._client.create_run(
                experiment_id, start_time=where["started"], run_name=run_name, tags=tags
            ).info.run_id
        else:
            for key, value in tags.items():
                self._client.set_tag(run_id, key, value)
        self.experiment_id, self.run_id = experiment_id, run_id

    def __call__(self, study, trial) -> None:
        """Optuna callback: queue the finished ``trial`` for logging (raises the error that
        kept the store from opening)."""
        if self._thread is not None:
            from churnml.model.tuning import trial_row

            self._raise_failure()
            self._queue.put(trial_row(trial))

    def _run(self, *opening) -> None:
        try:
            self._open(*opening)
            opened = True
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
            self._failure, opened = error, False
        while (row := self._queue.get()) is not None:
            if not opened:
                continue
            try:
                log_trial(self._client, row, self.run_id, self.experiment_id)
                self.logged += 1
            except Exception as error:  # noqa: BLE001 - tracking must not sink a tuning
                self.errors.append(error)

    def _raise_failure(self) -> None:
        """Raise the store's error once (the thread sets it, the caller's thread raises it)."""
        failure = self._failure
        if failure is not None and not self._raised:
            self._raised = True
            raise failure

    def wait(self, timeout: float | None = None) -> None:
        """Return once every queued trial is logged (raise the error that kept the store from
        opening); warn about trials that could not be logged. With ``timeout``, give up waiting
        after that many seconds (the thread goes on alone)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        self._raise_failure()
        if self.errors:
            import warnings

            warnings.warn(
                f"MLflow: {len(self.errors)} trial run(s) not logged ({self.errors[0]})",
                stacklevel=2,
            )
            self.errors = []

    def finish(self, status: str = "FINISHED", *, timeout: float | None = None) -> None:
        """Wait for the queue, then end the parent run with ``status``."""
        self.wait(timeout)
        if self.run_id is not None and not self._adopted:
            self._client.set_terminated(self.run_id, status=status)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.wait()
            return False
        # the tuning failed or was interrupted: a store still being opened (a server that does
        # not answer) is not waited for beyond a few seconds
        try:
            status = "KILLED" if issubclass(kind, KeyboardInterrupt) else "FAILED"
            self.finish(status, timeout=EXIT_WAIT_SECONDS if self.run_id is None else None)
        except Exception:  # noqa: BLE001, S110 - the store's own error: the tuning's goes on
            pass
        return False


def log_trials(trials: pd.DataFrame, parent_run_id: str, experiment_id: str) -> int:
    """One nested run per Optuna trial (``trials_frame`` rows), after tuning: see
    :func:`log_trial`. Returns the number of runs created."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for row in trials.to_dict("records"):
        log_trial(client, row, parent_run_id, experiment_id)
    return len(trials)


def log_trial(client, row: dict, parent_run_id: str, experiment_id: str) -> str:
    """One trial (a :func:`~churnml.model.tuning.trial_row`) as a nested run of
    ``parent_run_id``, with the trial's own start and end time: its parameters, ``value``,
    ``seconds`` and the per-fold AUCs (``fold_auc`` with step = fold) in one batch, its state as
    the tag ``optuna.state`` (and the run status). Returns the run id."""
    from mlflow.entities import Metric, Param

    number, state = int(row["number"]), str(row["state"]).lower()
    start, end = _millis(row.get("datetime_start")), _millis(row.get("datetime_complete"))
    tags = {"mlflow.parentRunId": parent_run_id, "optuna.state": state, "optuna.trial": str(number)}
    if row.get("worker") is not None and _finite(row["worker"]):
        tags["optuna.worker"] = str(int(row["worker"]))
    run = client.create_run(
        experiment_id, start_time=start, run_name=f"trial-{number:03d}", tags=tags
    )
    params, metrics = [], []
    stamp = end or start or 0
    for key, value in row.items():
        if key.startswith("param_"):
            params.append(Param(_safe(key.removeprefix("param_")), str(value)))
        elif key == "fold_auc":
            metrics += [Metric("fold_auc", float(v), stamp, i) for i, v in enumerate(value or [])]
        elif key in ("value", "seconds", "n_folds_run") and _finite(value):
            metrics.append(Metric(key, float(value), stamp, 0))
    client.log_batch(run.info.run_id, metrics=metrics, params=params)
    status = {"complete": "FINISHED", "pruned": "KILLED"}.get(state, "FAILED")
    client.set_terminated(run.info.run_id, status=status, end_time=end)
    return run.info.run_id


def _millis(when) -> int | None:
    """A naive local (Optuna) or aware datetime as MLflow's epoch milliseconds."""
    if when is None or pd.isna(when):
        return None
    return int(pd.Timestamp(when).to_pydatetime().timestamp() * 1000)


def _finite(value) -> bool:
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False
