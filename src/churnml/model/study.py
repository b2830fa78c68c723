"""One Optuna study shared by several tuning workers (processes or machines).

Workers share a study through an Optuna RDB storage (``sqlite:///study.db``, a PostgreSQL URL).
Each draws its own trials: its sampler is seeded from the config seed and its worker id
(:func:`sampler_seed`), and TPE's constant liar treats trials still running elsewhere as bad, so
two workers do not sample the same point. The study records a digest of the folds it was tuned on
(:func:`folds_digest`); a worker with other data or settings is refused, because fold AUCs of
different folds cannot be compared when the best trial is selected.

The best trial is selected once, after the workers: ``churnml train --storage URL --study-name
NAME --trials 0`` selects it with :func:`~churnml.model.tuning.select_trial` over every trial of
the study and fits, evaluates and registers the model.
"""

from __future__ import annotations

import hashlib
import os
import socket
import zlib

import numpy as np

from churnml.errors import ChurnmlError, UsageError

__all__ = [
    "folds_digest",
    "open_study",
    "rdb_storage",
    "redacted",
    "sampler_seed",
    "tune_worker",
    "worker_id",
]

_DIGEST = "churnml.folds_digest"


def worker_id(worker: int | None, storage=None) -> int:
    """The worker id: ``worker`` when given; 0 without a shared storage (one process: the config
    seed as it is); otherwise derived from the host name and process id, so that two workers
    started without ``--worker`` draw different trials.

    Examples
    --------
    >>> worker_id(3, "sqlite:///study.db"), worker_id(None)
    (3, 0)
    """
    if worker is not None:
        if isinstance(worker, bool) or not isinstance(worker, int | np.integer) or worker < 0:
            raise UsageError(f"tune: worker must be an integer >= 0, but got worker={worker!r}")
        return int(worker)
    if storage is None:
        return 0
    return zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) % 100_000


def sampler_seed(seed: int, worker: int) -> int:
    """The sampler seed of ``worker``: ``seed`` for worker 0, a different one for each other id.

    Examples
    --------
    >>> sampler_seed(0, 0), sampler_seed(0, 1), sampler_seed(7, 1)
    (0, 1, 8)
    """
    return (int(seed) + int(worker)) % 2**32


def folds_digest(frame, folds, label_column: str = "label", feature_columns=None) -> str:
    """16 hex digits identifying the tuning problem: rows, feature columns, folds and labels.

    Two workers that load the same data with the same mapping and config get the same digest.
    """
    h = hashlib.sha256()
    h.update(str(len(frame)).encode())
    h.update(repr(sorted(map(str, feature_columns or frame.columns))).encode())
    labels = frame[label_column].to_numpy(dtype="float64", na_value=np.nan)
    for train, valid in folds:
        for idx in (train, valid):
            idx = np.asarray(idx, dtype=np.int64)
            h.update(idx.tobytes())
            h.update(np.nan_to_num(labels[idx], nan=-1.0).tobytes())
    return h.hexdigest()[:16]


def open_study(storage, study_name, *, sampler, pruner, digest: str, create: bool = True):
    """Create the study, or join it when it exists: ``(study, created)``.

    Creating is atomic in the storage, so of several workers started at once exactly one creates
    the study (and enqueues the untuned defaults); the others join it. A joining worker whose
    ``digest`` differs from the study's is refused. With ``create=False`` the study must exist.
    """
    import optuna

    url, storage = storage, rdb_storage(storage)
    if not create:
        try:
            study = optuna.load_study(
                study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
            )
        except KeyError:
            raise ChurnmlError(
                f"tune: no study {study_name!r} in {redacted(url)} to select a trial from",
                hint="run tuning workers on it first (churnml tune), or give a trial budget",
            ) from None
        return _joined(study, study_name, digest), False
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            direction="maximize",
            sampler=sampler,
            pruner=pruner,
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=study_name, storage=storage, sampler=sampler, pruner=pruner
        )
    else:
        study.set_user_attr(_DIGEST, digest)
        return study, True
    return _joined(study, study_name, digest), False


def rdb_storage(storage, attempts: int = 4):
    """An Optuna storage for ``storage`` (a URL or a storage object, returned as it is).

    Workers started at once on a fresh database all create Optuna's tables, and all but one fail
    (``duplicate key value`` on PostgreSQL): creating is retried after a short random pause, by
    when the tables exist. SQLite waits up to a minute for a busy database instead of failing.
    """
    if not isinstance(storage, str):
        return storage
    import random
    import time

    import optuna
    import sqlalchemy.exc

    kwargs = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else {}
    for attempt in range(1, attempts + 1):
        try:
            return optuna.storages.RDBStorage(storage, engine_kwargs=kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError,
                sqlalchemy.exc.OperationalError):  # fmt: skip
            if attempt == attempts:
                raise
            time.sleep(0.2 + random.random())  # jitter, so the workers do not collide again


def _joined(study, study_name, digest: str):
    """``study`` after checking it was tuned on the same folds as this worker's."""
    import optuna

    theirs = study.user_attrs.get(_DIGEST)
    if theirs is None:  # its creator has not written it yet, or an older study
        study.set_user_attr(_DIGEST, digest)
    elif theirs != digest:
        raise ChurnmlError(
            f"tune: study {study_name!r} was tuned on other data or settings (folds digest "
            f"{theirs}, this worker's {digest}); fold AUCs of different folds cannot be compared",
            hint="run every worker on the same data, mapping and model config, or start a new "
            "--study-name",
        )
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ChurnmlError(
            f"tune: study {study_name!r} minimises; churnml studies maximise the fold ROC-AUC",
            hint="start a new --study-name",
        )
    return study


def tune_worker(
    data=None,
    *,
    storage,
    study_name: str,
    features=None,
    mapping=None,
    config=None,
    trials: int | None = None,
    timeout: float | None = None,
    worker: int | None = None,
    tracking_uri=None,
    log: bool = True,
    progress: bool = True,
    catalog=None,
):
    """One tuning worker: add trials to a shared study, fit and register nothing.

    The training frame is built exactly as :func:`~churnml.model.training.train` builds it, so
    the study's folds digest matches and ``train(..., storage=, study_name=, trials=0)`` can then
    select among every worker's trials. With ``log`` the worker's trials are nested runs of an
    MLflow run ``tune-worker-<id>``, logged as they finish.

    Parameters
    ----------
    data : dict of DataFrame or path, optional
        As in :func:`~churnml.model.training.train` (or ``features``: a ready training frame).
    storage : str or optuna storage
        Shared by every worker (``sqlite:///study.db``, ``postgresql://...``).
    study_name : str
    trials, timeout : optional
        This worker's budget (default the config's ``trials`` and ``timeout_seconds``).
    worker : int, optional
        Worker id (default derived from the host and process id).

    Returns
    -------
    TuneResult
        ``trials`` lists every trial of the study so far; ``worker`` is this worker's id.

    Examples
    --------
    >>> tune_worker("data/", storage="sqlite:///study.db", study_name="q3", worker=1)  # doctest: +SKIP
    """
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.tracking import TrialRuns
    from churnml.model.training import _config, build_training_frame
    from churnml.model.tuning import tune

    if storage is None or not study_name:
        raise UsageError("tune worker: give both storage (an Optuna storage URL) and study_name")
    worker = worker_id(worker, storage)
    config = _config(config)
    catalog = catalog if catalog is not None else load_catalog()
    if features is None:
        tables = data
        if not isinstance(data, dict):
            from churnml.data.load import open_tables

            tables = open_tables(data, mapping)  # usage stays in DuckDB
        features = build_training_frame(tables, config, catalog, progress=progress)
    frame = features.reset_index(drop=True)
    tags = {"optuna.study": study_name, "optuna.storage": redacted(storage),
            "optuna.worker": str(worker)}  # fmt: skip
    with TrialRuns(tracking_uri, run_name=f"tune-worker-{worker}", tags=tags, enabled=log) as runs:
        result = tune(
            frame, config=config, n_trials=trials, timeout=timeout, storage=storage,
            study_name=study_name, worker=worker, progress=progress, callbacks=[runs],
            feature_columns=feature_columns(frame, catalog) or None,
        )  # fmt: skip
    runs.finish()
    return result


def redacted(storage) -> str:
    """A storage URL without its password, for logs and messages."""
    if not isinstance(storage, str):
        return type(storage).__name__
    try:
        from sqlalchemy.engine import make_url

        return make_url(storage).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy knows: keep only what follows the @
        return storage.rsplit("@", 1)[-1]
