"""Where the folds of tuning trials are fitted: worker processes on every core.

(:meth:`FoldPool.fit` also fits ``train``'s deployed and held-out models side by side, and
:meth:`FoldPool.call` draws its figures while the model is logged.)

A trial fits one single-threaded LightGBM model per out-of-time fold (:func:`fit_fold`). The fits
are independent, so :func:`fold_results` keeps up to ``jobs`` of them running in a
:class:`FoldPool` and hands their results back in fold order. The caller reports each fold to
Optuna and asks the pruner exactly as a sequential loop would, so the study — every value,
pruning decision and the selected trial — is the same as with one core; a pruned trial only
wastes the folds that were already running beside the one that pruned it.

Why folds and not parallel trials: TPE samples a trial from the trials finished before it, and
the median pruner compares with the folds other trials reported so far, so trials run side by
side depend on which finishes first (or, run in fixed batches, sample and prune differently from
one core: on the demo such batches pruned 9 trials of 25 where the sequential study prunes 14,
and fitted a third more folds). Folds of one trial depend on nothing but the trial.

Why processes: a fit holds the GIL for about a quarter of its time (LightGBM's Python loop over
boosting rounds with early stopping, pandas in ``prepare``), so two threads reached about 1.4
cores; worker processes use every core. The pool is loky's reusable executor (the process pool
joblib and scikit-learn use): its workers start by running a fresh interpreter, never by
``fork`` (which would copy a process whose MLflow logging thread may hold a lock and whose OpenMP
runtime LightGBM may have started), and unlike :mod:`multiprocessing`'s ``spawn`` they do not
re-import the caller's main module, so a user's script needs no ``if __name__ == "__main__":``
guard. The workers stay up between trials and between calls (they exit after
:data:`IDLE_SECONDS` without work); the training frame reaches each worker once, through a
temporary pickle file, not with every fold.

Every fit — in a worker or, with one job, in this process — runs on one LightGBM thread
(:func:`one_lightgbm_thread`, and ``OMP_NUM_THREADS=1`` in the workers): another thread count
adds LightGBM's histogram sums in another order and can change a fit in its last bits.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FoldPool", "FoldSpec", "Pending", "fit_fold", "fold_jobs", "fold_results",
    "one_lightgbm_thread", "start_order", "warm_workers",
]

#: seconds an idle worker process waits for the next fold before it exits
IDLE_SECONDS = 60


@dataclass(frozen=True)
class FoldSpec:
    """What a fold fit needs besides the frame: the :class:`ChurnModel` arguments of the trial
    and the label column its validation rows are scored against."""

    model: dict = field(hash=False)
    label_column: str = "label"


def fit_fold(frame, spec: FoldSpec, train, valid) -> tuple[float, int]:
    """``(ROC-AUC on the valid rows, trees used)`` of a ChurnModel fitted on the train rows."""
    from sklearn.metrics import roc_auc_score

    from churnml.model.estimator import ChurnModel

    model = ChurnModel(**spec.model).fit(frame.iloc[train])
    y = frame[spec.label_column].iloc[valid].astype(int).to_numpy()
    return float(roc_auc_score(y, model.predict_raw(frame.iloc[valid]))), model.best_iteration_


def fold_jobs(n_jobs: int | None, n_folds: int) -> int:
    """How many folds to fit at once: ``n_jobs`` (default: the cores this process may use),
    at most ``n_folds``, at least 1.

    Examples
    --------
    >>> fold_jobs(1, 4), fold_jobs(8, 3)
    (1, 3)
    """
    if n_jobs is None:
        try:
            n_jobs = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            n_jobs = os.cpu_count() or 1
    return max(1, min(int(n_jobs), int(n_folds)))


class FoldPool:
    """Where fold fits run: ``jobs`` worker processes, or this process for one job.

    Use as a context manager around the trials of one study: ``with FoldPool(frame, jobs) as
    pool: ... pool.submit(spec, train, valid)`` returns a :class:`concurrent.futures.Future` of
    :func:`fit_fold`'s result.
    """

    def __init__(self, frame, jobs: int):
        self.frame = frame
        self.jobs = jobs
        self._folder = None
        self._path = None
        self._executor = None

    def __enter__(self):
        if self.jobs > 1:
            self._folder = tempfile.TemporaryDirectory(prefix="churnml-folds-")
            self._path = str(Path(self._folder.name) / "frame.pkl")
            with open(self._path, "wb") as handle:
                pickle.dump(self.frame, handle, protocol=pickle.HIGHEST_PROTOCOL)
            self._executor = _executor(self.jobs)
        return self

    def __exit__(self, *exc):
        if self._folder is not None:
            self._folder.cleanup()  # the workers keep their copy until the next frame
        return False

    def submit(self, spec: FoldSpec, train, valid) -> Future:
        if self._executor is not None:
            return self._executor.submit(_fit_in_worker, self._path, spec, train, valid)
        done = Future()
        with one_lightgbm_thread():
            try:
                done.set_result(fit_fold(self.frame, spec, train, valid))
            except BaseException as error:  # noqa: BLE001 - raised again by .result()
                done.set_exception(error)
        return done

    def fit(self, model, rows=None) -> Pending:
        """``model`` (an unfitted estimator) fitted on the frame's rows at positions ``rows``
        (default: every row): started now in a worker process, or, for one job, fitted in this
        process by ``.result()``."""
        if self._executor is None:
            frame = self.frame if rows is None else self.frame.iloc[rows]
            return Pending(lambda: _recorded(model.fit, (frame,)))
        return Pending(self._executor.submit(_fit_model_in_worker, self._path, model, rows).result)

    def call(self, function, *args) -> Pending:
        """``function(*args)`` (a module-level function and picklable arguments) started now in
        a worker process, or, for one job, run in this process by ``.result()``."""
        if self._executor is None:
            return Pending(lambda: _recorded(function, args))
        return Pending(self._executor.submit(_recorded, function, args).result)


class Pending:
    """What :meth:`FoldPool.fit` and :meth:`FoldPool.call` return: ``result()`` waits for the
    value (computed once) and raises the warnings the worker caught again here."""

    def __init__(self, compute):
        self._compute, self._done = compute, None

    def result(self):
        import warnings

        if self._done is None:
            value, caught = self._compute()
            for message, category in caught:
                warnings.warn(message, category, stacklevel=2)
            self._done = (value,)
        return self._done[0]


def _executor(jobs: int):
    """loky's reusable executor with ``jobs`` single-threaded workers (the same one every time)."""
    import loky

    return loky.get_reusable_executor(
        max_workers=jobs, timeout=IDLE_SECONDS, env={"OMP_NUM_THREADS": "1"}
    )


def warm_workers(jobs: int) -> None:
    """Start the ``jobs`` worker processes and their imports now, in the background (``train``
    calls it before building the training frame); nothing for one job."""
    if jobs > 1:
        executor = _executor(jobs)
        for _ in range(jobs):
            executor.submit(_import_fit)


def _import_fit() -> None:
    import churnml.model.estimator  # noqa: F401 - LightGBM, scikit-learn and pandas, once


def fold_results(pool: FoldPool, spec: FoldSpec, folds, *, eager: bool = False):
    """Yield :func:`fit_fold`'s result for each fold, in fold order, with up to ``pool.jobs``
    folds fitted at once.

    Unless ``eager`` (the caller knows the trial cannot be pruned: pruning is off, or too few
    trials are complete for the pruner to judge), the first fold (the smallest: folds expand)
    runs alone, because the median pruner stops most pruned trials right after it. The other
    folds start largest first (:func:`start_order`), a new one whenever a worker is free, so
    the trial's largest fold does not run alone at its end; results still come in fold order.
    With one job the folds run in fold order, each when the caller asks for it, so a trial the
    caller prunes fits no further fold. When the caller stops iterating, folds not yet started
    are cancelled; a fold still running finishes in its worker, and its result is dropped.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    folds = list(folds)
    waiting = start_order([len(train) for train, _ in folds], pool.jobs, alone=not eager)
    futures: dict = {}
    try:
        for k in range(len(folds)):
            while k not in futures or not futures[k].done():
                running = [f for f in futures.values() if not f.done()]
                limit = 1 if k == 0 and not eager else pool.jobs
                if waiting and len(running) < limit:
                    i = waiting.pop(0)
                    futures[i] = pool.submit(spec, *folds[i])
                else:
                    wait(running, return_when=FIRST_COMPLETED)
            yield futures.pop(k).result()
    finally:
        for future in futures.values():
            future.cancel()


def start_order(sizes, jobs: int, *, alone: bool = True) -> list[int]:
    """The order folds of these training ``sizes`` start in: fold order for one job; else the
    first fold first when it runs ``alone``, then the others largest first (longest first keeps
    every worker busy until the trial's last fold, as in LPT scheduling).

    Examples
    --------
    >>> start_order([1114, 3124, 5249, 7915], 2), start_order([1114, 3124, 5249, 7915], 1)
    ([0, 3, 2, 1], [0, 1, 2, 3])
    >>> start_order([10, 30, 20], 2, alone=False)
    [1, 2, 0]
    """
    folds = list(range(len(sizes)))
    if jobs <= 1:
        return folds
    head = folds[:1] if alone else []
    return head + sorted(folds[len(head):], key=lambda i: -sizes[i])


_WORKER_FRAME: dict = {}  # in a worker process: the path of the frame it holds -> the frame


def _worker_frame(path: str):
    """In a worker process: the frame pickled at ``path``, read once."""
    if path not in _WORKER_FRAME:
        _WORKER_FRAME.clear()
        with open(path, "rb") as handle:
            _WORKER_FRAME[path] = pickle.load(handle)
    return _WORKER_FRAME[path]


def _fit_in_worker(path: str, spec: FoldSpec, train, valid):
    """:func:`fit_fold` in a worker process, on the frame pickled at ``path``."""
    with one_lightgbm_thread():  # also when the trial's parameters ask for more threads
        return fit_fold(_worker_frame(path), spec, train, valid)


def _fit_model_in_worker(path: str, model, rows):
    """``(model fitted on the frame at path (its rows at positions rows), its warnings)``."""
    frame = _worker_frame(path)
    return _recorded(model.fit, (frame if rows is None else frame.iloc[rows],))


def _recorded(function, args):
    """``(function(*args), its warnings as (message, category) pairs)``, on one LightGBM
    thread (in a worker or, for one job, in this process: the same fit either way)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught, one_lightgbm_thread():
        warnings.simplefilter("always")
        value = function(*args)
    return value, [(str(w.message), w.category) for w in caught]


@contextmanager
def one_lightgbm_thread(active: bool = True):
    """Cap every LightGBM call of this process at one thread inside the block, restoring the cap
    it had (``LGBM_SetMaxThreads``: LightGBM 4 has it in its C API only); nothing when not
    ``active``."""
    if not active:
        yield
        return
    import ctypes

    from lightgbm.basic import _LIB, _safe_call

    before = ctypes.c_int(0)
    _safe_call(_LIB.LGBM_GetMaxThreads(ctypes.byref(before)))
    _safe_call(_LIB.LGBM_SetMaxThreads(ctypes.c_int(1)))
    try:
        yield
    finally:
        _safe_call(_LIB.LGBM_SetMaxThreads(ctypes.c_int(before.value)))
