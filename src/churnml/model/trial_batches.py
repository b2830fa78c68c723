"""Tuning trials run two at a time, with a study that depends on the seed and nothing else.

Folds of one trial alone cannot keep two cores busy: a trial's first fold runs alone (the median
pruner stops a third of the trials right after it), and the folds that follow differ in size. So
:func:`run_trials` asks Optuna for :data:`TRIALS_AT_ONCE` trials at a time and fits the folds of
both in one :class:`~churnml.model.parallel_folds.FoldPool`, each trial's first fold first.

What keeps the study deterministic — the same trials, values, pruning decisions and selected
trial for a seed on one core or many, whichever fold finishes first:

- the batch is a fixed number of trials, not the number of cores;
- each trial's parameters are sampled in trial order when the batch starts, from the trials told
  before it (TPE with ``constant_liar``: the batch's earlier trials count as running);
- the pruning rule (Optuna's median rule: after fold ``k`` a trial whose best running mean
  trails the median of the completed trials' running means at fold ``k`` stops, once
  :data:`STARTUP_TRIALS` trials are complete) reads only the trials completed before the batch,
  never its partner's folds as they arrive;
- results are told to the study in trial order once the batch is done.

A batch shares a study with other workers (``churnml tune --storage``) as one trial did before:
what other processes finish while it runs is seen by the next batch.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field

import numpy as np

__all__ = ["STARTUP_TRIALS", "TRIALS_AT_ONCE", "pruned", "run_trials"]

#: trials sampled and fitted at once (a property of the study, not of the machine)
TRIALS_AT_ONCE = 2
#: completed trials before the median rule prunes anything
STARTUP_TRIALS = 5


def pruned(running_means: list[float], step: int, history: list) -> bool:
    """Optuna's median rule (``MedianPruner(n_startup_trials=5, n_warmup_steps=0)``) for a
    maximised value: does a trial whose running means so far are ``running_means`` stop after
    fold ``step``, judged against ``history`` (completed ``FrozenTrial`` s)?

    Examples
    --------
    >>> from types import SimpleNamespace as T
    >>> history = [T(intermediate_values={0: v}) for v in (0.70, 0.72, 0.74, 0.76, 0.78)]
    >>> pruned([0.73], 0, history), pruned([0.75], 0, history), pruned([0.73], 0, history[:4])
    (True, False, False)
    """
    if len(history) < STARTUP_TRIALS:
        return False
    at_step = [t.intermediate_values[step] for t in history if step in t.intermediate_values]
    if not at_step:
        return False
    best = np.nanmax(running_means) if not np.isnan(running_means).all() else math.nan
    if math.isnan(best):
        return True
    return bool(best < np.nanpercentile(at_step, 50))


@dataclass
class _Running:
    """One trial of a batch while its folds are fitted."""

    trial: object  # optuna.Trial
    spec: object  # FoldSpec
    futures: dict = field(default_factory=dict)  # fold -> Future, submitted and not yet read
    aucs: list = field(default_factory=list)
    iterations: list = field(default_factory=list)
    submitted: int = 0
    state: str = "running"  # running, pruned, complete


def run_trials(study, make_spec, pool, folds, *, n_trials: int, timeout=None, pruning=True,
               callbacks=(), progress=None) -> None:
    """Run ``n_trials`` trials of ``study`` in batches (see the module docstring).

    Parameters
    ----------
    study : optuna.Study
    make_spec : callable
        ``make_spec(trial)`` samples the trial's parameters and returns its ``FoldSpec``.
    pool : FoldPool
    folds : list of (train, valid)
    n_trials : int
    timeout : float, optional
        Seconds after which no further batch starts.
    pruning : bool
    callbacks : sequence
        Called as ``callback(study, frozen_trial)`` after each trial is told, in trial order.
    progress : tqdm bar, optional
        Advanced by one per trial.
    """
    from optuna.trial import TrialState

    started, done = time.monotonic(), 0
    while done < n_trials and (timeout is None or time.monotonic() - started < timeout):
        history = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        batch = []
        for _ in range(min(TRIALS_AT_ONCE, n_trials - done)):
            trial = study.ask()
            batch.append(_Running(trial, make_spec(trial)))
        try:
            _fit_batch(batch, pool, folds, history if pruning else None)
        except BaseException:
            for run in batch:
                study.tell(run.trial, state=TrialState.FAIL)
            raise
        for run in batch:
            if run.state == "pruned":
                frozen = study.tell(run.trial, state=TrialState.PRUNED)
            else:
                frozen = study.tell(run.trial, float(np.mean(run.aucs)))
            for callback in callbacks:
                callback(study, frozen)
            if progress is not None:
                progress.update(1)
        done += len(batch)


def _fit_batch(batch: list[_Running], pool, folds, history) -> None:
    """Fit the folds of the batch's trials in ``pool`` until each is complete or pruned."""
    while any(run.state == "running" for run in batch):
        _submit(batch, pool, folds)
        pending = [f for run in batch for f in run.futures.values()]
        wait(pending, return_when=FIRST_COMPLETED)
        for run in batch:
            _read(run, len(folds), history)


def _submit(batch: list[_Running], pool, folds) -> None:
    """Start folds while the pool has room: every trial's first fold first, in trial order; a
    trial's further folds only once its first fold is read (most pruned trials stop there)."""
    busy = sum(len(run.futures) for run in batch)
    open_ = [run for run in batch if run.state == "running"]
    ready = [run for run in open_ if run.submitted == 0]
    ready += [run for run in open_ if run.aucs and run.submitted < len(folds)]
    for run in ready:
        while busy < pool.jobs and run.submitted < len(folds):
            run.futures[run.submitted] = pool.submit(run.spec, *folds[run.submitted])
            run.submitted += 1
            busy += 1
            if not run.aucs:
                break  # its first fold only, until that is read


def _read(run: _Running, n_folds: int, history) -> None:
    """Take the trial's finished folds in fold order: report each, prune or complete it."""
    while run.state == "running":
        step = len(run.aucs)
        future = run.futures.get(step)
        if future is None or not future.done():
            return
        del run.futures[step]
        auc, best_iteration = future.result()
        run.aucs.append(auc)
        run.iterations.append(best_iteration)
        run.trial.set_user_attr("fold_auc", list(run.aucs))
        run.trial.set_user_attr("best_iterations", list(run.iterations))
        means = [float(np.mean(run.aucs[: k + 1])) for k in range(len(run.aucs))]
        run.trial.report(means[-1], step)
        if history is not None and pruned(means, step, history):
            run.state = "pruned"
        elif len(run.aucs) == n_folds:
            run.state = "complete"
    for future in run.futures.values():
        future.cancel()  # a pruned trial's folds not yet started
    run.futures.clear()
