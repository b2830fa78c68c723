"""``tune``: Optuna TPE over out-of-time folds, with median pruning across folds.

Each trial samples LightGBM parameters from :func:`~churnml.model.search_space.search_space`, fits
an uncalibrated :class:`~churnml.model.estimator.ChurnModel` (its own time-ordered early stopping,
then the refit on all of the fold's rows, as the deployed model is fitted) on each fold's training
rows, and scores ROC-AUC on the fold's validation rows. After each fold the
running mean AUC is reported, so the median pruner stops a trial that trails the median of earlier
trials at the same fold. A trial's folds are fitted side by side in worker processes
(:mod:`churnml.model.parallel_folds`) and reported in fold order: the study is the one a single
core runs. The final test snapshots are never touched.
"""

from __future__ import annotations

from contextlib import closing, nullcontext
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnml.errors import ChurnmlError, UsageError
from churnml.model.defaults import default_params, size_params
from churnml.model.estimator import DEFAULT_PARAMS
from churnml.model.folds import out_of_time_folds
from churnml.model.parallel_folds import FoldPool, FoldSpec, fold_jobs, fold_results
from churnml.model.search_space import search_space
from churnml.model.study import folds_digest, open_study, sampler_seed, worker_id
from churnml.progress import enabled


@dataclass
class TuneResult:
    """What :func:`tune` found.

    Attributes
    ----------
    best_params : dict
        LightGBM parameters of the selected trial, for ``ChurnModel(params=best_params)``: the
        best trial, unless it does not beat the untuned defaults beyond fold noise (see
        :func:`select_trial`).
    best_value : float
        Its mean out-of-time fold ROC-AUC.
    selected : int
        Number of the selected trial.
    selection : str
        Why that trial was selected, in a sentence.
    study : optuna.Study
    trials : DataFrame
        One row per trial: number, state, value, duration, parameters, fold AUCs.
    folds : list
        The ``(train_idx, valid_idx)`` folds used.
    worker : int
        This process's worker id (its sampler seed is ``config.seed + worker``).
    """

    best_params: dict
    best_value: float
    study: object
    trials: pd.DataFrame
    folds: list = field(default_factory=list, repr=False)
    selected: int = 0
    selection: str = ""
    worker: int = 0


#: complete trials before the median pruner stops any
STARTUP_TRIALS = 5


def default_trial_params(bounds, n_rows=None) -> dict:
    """ChurnModel's untuned parameters clipped into ``bounds`` (enqueued as the first trial), as
    they are for ``n_rows`` labelled rows (default: the large-data defaults)."""
    base = DEFAULT_PARAMS if n_rows is None else default_params(n_rows)
    defaults = {**base, "learning_rate": 0.05, "lambda_l1": 1e-8, "scale_pos_weight": 2.0}
    out = {}
    for name, (low, high) in vars(bounds).items():
        if low != high:
            out[name] = type(low)(min(max(defaults[name], low), high))
    return out


def tune(
    frame: pd.DataFrame,
    *,
    config=None,
    n_trials: int | None = None,
    timeout: float | None = None,
    storage=None,
    study_name: str | None = None,
    worker: int | None = None,
    progress: bool = True,
    callbacks=(),
    pruning: bool | None = None,
    feature_columns=None,
    label_column: str = "label",
    time_column: str = "as_of",
    renewal_column: str | None = "renewal_date",
    n_jobs: int | None = None,
    pool: FoldPool | None = None,
) -> TuneResult:
    """Tune ChurnModel's LightGBM parameters on expanding-window out-of-time folds.

    Parameters
    ----------
    frame : DataFrame
        The training frame (spine columns + indicators), one row per account × ``as_of``.
    config : ModelConfig, optional
        Folds, budgets, search-space bounds and seed (default ``load_config()``).
    n_trials, timeout : optional
        Trial and time budget (seconds); default ``config.trials`` and ``config.timeout_seconds``.
        ``n_trials=0`` runs no trial and selects from the trials already in a shared study.
    storage : str or optuna storage, optional
        In-memory by default; any Optuna storage URL (``sqlite:///study.db``,
        ``postgresql://...``) lets several workers share one study (see
        :mod:`churnml.model.study`).
    study_name : str, optional
    worker : int, optional
        Worker id: the sampler is seeded with ``config.seed + worker``, so workers of one study
        draw different trials. Default 0 without ``storage``, else derived from the host and
        process id.
    progress : bool, default True
        Progress bar over trials.
    callbacks : sequence
        Optuna study callbacks ``(study, frozen_trial)``.
    pruning : bool, optional
        Median pruning over folds (default ``config.pruning``).
    feature_columns : list of str, optional
        Default: every non-metadata column (see ``ChurnModel``).
    n_jobs : int, optional
        Folds of a trial fitted at once, in worker processes when more than one (default: every
        core this process may use; see :mod:`churnml.model.parallel_folds`). The study is the
        same for any value.
    pool : FoldPool, optional
        Where the folds are fitted: a :class:`~churnml.model.parallel_folds.FoldPool` over
        ``frame`` (``train`` keeps one for its final fits too, so the frame reaches the workers
        once); default a new one of ``n_jobs``.

    Returns
    -------
    TuneResult

    Examples
    --------
    >>> result = tune(features, n_trials=20, progress=False)  # doctest: +SKIP
    >>> model = ChurnModel(params=result.best_params).fit(features)  # doctest: +SKIP
    """
    import optuna
    from optuna.trial import TrialState

    if config is None:
        from churnml.model.config import load_config

        config = load_config()
    n_trials = config.trials if n_trials is None else n_trials
    timeout = config.timeout_seconds if timeout is None else timeout
    pruning = config.pruning if pruning is None else pruning
    if n_trials < 0 or (n_trials == 0 and storage is None):
        raise UsageError(
            f"tune: n_trials must be at least 1 (0 only to select from a shared study's "
            f"trials, with storage=), but got n_trials={n_trials}"
        )
    worker = worker_id(worker, storage)

    folds, _ = out_of_time_folds(
        frame,
        n_folds=config.n_folds,
        time_column=time_column,
        renewal_column=renewal_column,
        test_snapshots=config.test_snapshots,
        gap_days=config.gap_days,
        label_column=label_column,
    )
    n_rows = int(frame[label_column].notna().sum())
    pinned = size_params(n_rows)  # every fold and the final fits use the frame's size defaults

    if pool is not None and pool.frame is not frame:
        raise ValueError("tune: pool must be a FoldPool over the frame being tuned")
    jobs = fold_jobs(n_jobs, len(folds))

    def objective(trial, pool):
        params = {**pinned, **search_space(trial, config.search_space)}
        trial.set_user_attr("params", params)
        trial.set_user_attr("worker", worker)
        spec = FoldSpec(
            model={
                "params": params,
                "n_estimators": config.n_estimators,
                "early_stopping_rounds": config.early_stopping_rounds,
                "calibration": None,
                "blend": False,  # trials tune the booster; the blend is chosen when it is fitted
                "time_column": time_column,
                "label_column": label_column,
                "feature_columns": feature_columns,
                "random_state": config.seed,
            },
            label_column=label_column,
        )
        # no trial can be pruned before STARTUP_TRIALS are complete: its folds all start at once
        done = trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        eager = not pruning or len(done) < STARTUP_TRIALS
        aucs, iterations = [], []
        # folds fitted side by side, reported and pruned in fold order as one core would
        with closing(fold_results(pool, spec, folds, eager=eager)) as results:
            for step, (auc, best_iteration) in enumerate(results):
                aucs.append(auc)
                iterations.append(best_iteration)
                trial.set_user_attr("fold_auc", aucs)
                trial.set_user_attr("best_iterations", iterations)
                trial.report(float(np.mean(aucs)), step)
                if pruning and trial.should_prune():
                    raise optuna.TrialPruned()
        return float(np.mean(aucs))

    # constant liar: trials running in other workers count as bad, so workers spread out
    sampler = optuna.samplers.TPESampler(
        seed=sampler_seed(config.seed, worker), constant_liar=storage is not None
    )
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0)
        if pruning
        else optuna.pruners.NopPruner()
    )
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        digest = folds_digest(frame, folds, label_column, feature_columns)
        study, created = open_study(
            storage, study_name, sampler=sampler, pruner=pruner, digest=digest, create=n_trials > 0
        )
        if created:
            study.enqueue_trial(default_trial_params(config.search_space, n_rows))
        if n_trials:
            with nullcontext(pool) if pool is not None else FoldPool(frame, jobs) as fitting:
                study.optimize(
                    lambda trial: objective(trial, fitting),
                    n_trials=n_trials,
                    timeout=timeout,
                    callbacks=list(callbacks),
                    show_progress_bar=enabled(progress),
                    gc_after_trial=False,
                )
    finally:
        optuna.logging.set_verbosity(level)
    if not any(t.state.name == "COMPLETE" for t in study.trials):
        raise ChurnmlError(
            f"tune: study {study.study_name!r} has no complete trial to select from",
            hint="run tuning workers on it first (churnml tune), or give a trial budget",
        )

    chosen, selection = select_trial(
        study, default_trial_params(config.search_space, n_rows), min_gain_se=config.min_gain_se
    )
    if storage is not None:
        workers = {t.user_attrs.get("worker") for t in study.trials} - {None}
        selection += (
            f" (among {len(study.trials)} trials of study {study.study_name!r}, "
            f"{len(workers)} worker{'s' if len(workers) != 1 else ''})"
        )
    return TuneResult(
        best_params=dict(chosen.user_attrs.get("params", chosen.params)),
        best_value=float(chosen.value),
        study=study,
        trials=trials_frame(study),
        folds=folds,
        selected=chosen.number,
        selection=selection,
        worker=worker,
    )


def select_trial(study, defaults: dict, *, min_gain_se: float = 2.0):
    """The trial to deploy, and why: the best trial, unless the untuned defaults are as good.

    Fold AUCs of many similar configurations differ by less than their fold-to-fold noise, so the
    maximum over trials is biased upwards (the winner's curse) and its parameters often do worse
    on later data than the defaults (``benchmarks/RESULTS.md``, "Model"). The best trial therefore
    replaces the defaults' trial only when its per-fold AUCs beat the defaults' by more than
    ``min_gain_se`` standard errors of the paired differences. ``min_gain_se=0`` takes the best
    trial as it is.

    Returns
    -------
    (optuna.trial.FrozenTrial, str)
    """
    best = study.best_trial
    base = next(
        (
            t
            for t in study.trials
            if t.state.name == "COMPLETE" and t.params == defaults
        ),
        None,
    )
    kept = f"trial {best.number}: the best mean fold AUC ({best.value:.4f})"
    if base is None or base.number == best.number or min_gain_se <= 0:
        return best, kept
    best_folds = best.user_attrs.get("fold_auc", [])
    base_folds = base.user_attrs.get("fold_auc", [])
    if len(best_folds) != len(base_folds) or len(best_folds) < 2:
        # one fold (or a shared study whose trials ran different folds): no paired noise estimate
        return best, f"{kept}; no fold-to-fold comparison with the defaults is possible"
    diff = np.subtract(best_folds, base_folds)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
    gain = float(diff.mean())
    if gain > min_gain_se * se:
        return best, (
            f"trial {best.number}: beats the untuned defaults (trial {base.number}) by "
            f"{gain:+.4f} fold AUC, more than {min_gain_se:g} standard errors ({se:.4f})"
        )
    return base, (
        f"trial {base.number} (untuned defaults): the best trial {best.number} beats them by only "
        f"{gain:+.4f} fold AUC, within {min_gain_se:g} standard errors ({se:.4f})"
    )


def trials_frame(study) -> pd.DataFrame:
    """One tidy row per trial (:func:`trial_row`), every worker's."""
    return pd.DataFrame([trial_row(t) for t in study.trials])


def trial_row(trial) -> dict:
    """A frozen trial as a flat row: number, state, value, seconds, worker, start and end time,
    parameters (``param_*``) and fold AUCs."""
    start, end = trial.datetime_start, trial.datetime_complete
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": trial.value,
        "seconds": (end - start).total_seconds() if start and end else np.nan,
        "worker": trial.user_attrs.get("worker"),
        "datetime_start": start,
        "datetime_complete": end,
        "n_folds_run": len(trial.user_attrs.get("fold_auc", [])),
        "fold_auc": trial.user_attrs.get("fold_auc", []),
        **{f"param_{k}": v for k, v in trial.user_attrs.get("params", trial.params).items()},
    }
