"""Folds of one tuning trial fitted side by side on every core, reported in fold order.

A trial fits one single-threaded LightGBM model per out-of-time fold. The fits are independent,
so :func:`fold_results` keeps up to ``jobs`` of them running in threads (LightGBM releases the GIL
while it trains) and hands their results back in fold order. The caller reports each fold to
Optuna and asks the pruner exactly as a sequential loop would, so the study — every value,
pruning decision and the selected trial — is the same as with one core; a pruned trial only
wastes the fold that was already running beside the one that pruned it.

Why folds and not parallel trials: TPE samples a trial from the trials finished before it, and
the median pruner compares with the folds other trials reported so far, so trials run side by
side depend on which finishes first. Folds of one trial depend on nothing but the trial.
LightGBM keeps its thread count in one process-wide variable that every call sets from its own
parameters (a prediction without ``num_threads`` resets it to all cores), so a fit running beside
another's prediction would switch to two threads mid-fit and add its sums in another order: the
folds run under :func:`one_lightgbm_thread`, which caps every LightGBM call of the process at one
thread while they run, as ``num_threads=1`` asks.

Threads, not processes: a fit holds the GIL for about a third of its time (LightGBM's Python
loop over boosting rounds with early stopping, pandas), so two threads use about 1.5 cores, where
worker processes would use two. But ``spawn`` workers re-import the caller's main module (a
user's script without an ``if __name__ == "__main__":`` guard would run again in each worker), and
``fork`` copies a process whose threads (MLflow's trial logger) may hold locks and whose OpenMP
runtime LightGBM may already have started, which can hang the child.

Why not LightGBM's own threads: on the demo's fits (17k rows, 7-leaf trees) two threads gained
little over one, and a different thread count can change the floating-point sums of a fit.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

__all__ = ["fold_jobs", "fold_results", "one_lightgbm_thread"]


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


def fold_results(fit_fold, folds, jobs: int):
    """Yield ``fit_fold(train, valid)`` for each fold, in fold order, with up to ``jobs`` folds
    fitted at once.

    The first fold (the smallest: folds expand) runs alone, because the median pruner stops most
    pruned trials right after it; then up to ``jobs`` folds run at once. A further fold starts
    only once the caller takes a result and asks for more, so a trial the caller prunes starts
    no further fold. When the caller stops iterating, folds not yet started are cancelled; a fold
    still running finishes in its thread, and its result is dropped.
    """
    folds = list(folds)
    if jobs <= 1 or len(folds) <= 1:
        for train, valid in folds:
            yield fit_fold(train, valid)
        return
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="churnml-fold")
    try:
        pending, started = [pool.submit(fit_fold, *folds[0])], 1
        while pending:
            yield pending.pop(0).result()
            while started < len(folds) and len(pending) < jobs:
                pending.append(pool.submit(fit_fold, *folds[started]))
                started += 1
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


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
