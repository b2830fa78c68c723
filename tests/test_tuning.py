"""tune: seeded TPE over out-of-time folds, median pruning, trial budget, shared storage."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from test_folds import snapshot_frame

from churnml.model.config import load_config
from churnml.model.estimator import ChurnModel
from churnml.model.search_space import search_space
from churnml.model.tuning import tune


@pytest.fixture(scope="module")
def frame():
    return snapshot_frame(n_accounts=300, seed=1)


@pytest.fixture(scope="module")
def config():
    return load_config(n_estimators=150, n_folds=3)


def test_budget_pruning_and_best_params(frame, config):
    seen = []
    result = tune(
        frame,
        config=config,
        n_trials=14,
        progress=False,
        callbacks=[lambda study, trial: seen.append(trial.number)],
    )
    trials = result.trials
    assert len(trials) == 14 and seen == list(range(14))
    assert (trials.state == "pruned").any()
    assert (trials.loc[trials.state == "pruned", "n_folds_run"] < 3).all()
    complete = trials[trials.state == "complete"]
    assert (complete.n_folds_run == 3).all()
    chosen = trials.set_index("number").loc[result.selected]
    assert chosen.state == "complete"
    assert result.best_value == pytest.approx(chosen.value) == pytest.approx(
        np.mean(chosen.fold_auc)
    )
    # the selected trial is the best one or the untuned defaults (trial 0), and says which
    assert result.selected in (0, int(complete.loc[complete.value.idxmax(), "number"]))
    assert f"trial {result.selected}" in result.selection
    # the first trial is ChurnModel's untuned defaults for the frame's size (the small-data ones
    # here), and every trial keeps the size-dependent parameters that are not searched
    from churnml.model.defaults import default_params

    small = default_params(int(frame["label"].notna().sum()))
    assert trials.loc[0, "param_num_leaves"] == small["num_leaves"] == 7
    assert (trials["param_extra_trees"] == small["extra_trees"]).all()
    bounds = config.search_space
    for name, (low, high) in vars(bounds).items():
        assert low <= result.best_params[name] <= high
    ChurnModel(params=result.best_params, n_estimators=50).fit(frame)  # usable as-is
    # test snapshots never used by any fold
    test_dates = sorted(frame.as_of.unique())
    used = np.concatenate([np.concatenate(f) for f in result.folds])
    assert frame.as_of.iloc[used].max() < max(
        d for d in test_dates if frame.label[frame.as_of == d].notna().mean() >= 0.9
    )


def test_same_seed_same_trials_and_no_pruning_option(frame, config):
    a = tune(frame, config=config, n_trials=4, progress=False, pruning=False)
    b = tune(frame, config=config, n_trials=4, progress=False, pruning=False)
    assert a.trials.value.tolist() == b.trials.value.tolist()
    assert a.best_params == b.best_params
    assert (a.trials.state == "complete").all()


def test_folds_fitted_side_by_side_give_the_same_study_as_one_core(frame, config):
    # with pruning: two trials at a time, their folds in two worker processes finishing in any
    # order, or in this process one after another: each fold is reported and pruned in fold
    # order against the trials done before the batch, so two runs per seed on two cores and one
    # on one core select the same trial with the same values, fold AUCs, tree counts and pruning
    small = load_config(n_estimators=60, n_folds=3)
    runs = [tune(frame, config=small, n_trials=8, progress=False, n_jobs=jobs) for jobs in (2, 2, 1)]
    columns = ["number", "state", "value", "n_folds_run", "fold_auc"]
    for other in runs[1:]:
        assert other.selected == runs[0].selected
        assert other.best_params == runs[0].best_params
        assert other.trials[columns].equals(runs[0].trials[columns])
        iterations = [t.user_attrs["best_iterations"] for t in other.study.trials]
        assert iterations == [t.user_attrs["best_iterations"] for t in runs[0].study.trials]
    assert (runs[0].trials.state == "pruned").any()  # the pruning path ran


def test_median_rule_decides_as_optunas_median_pruner():
    from churnml.model.trial_batches import STARTUP_TRIALS, pruned

    rng = np.random.default_rng(4)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0)
    for case in range(40):
        study = optuna.create_study(direction="maximize", pruner=pruner)
        n_done = int(rng.integers(0, 9))
        for _ in range(n_done):
            trial = study.ask()
            steps = int(rng.integers(1, 4))  # some completed trials stop early: fewer steps
            for step in range(steps):
                trial.report(float(rng.uniform(0.6, 0.8)), step)
            study.tell(trial, 0.7)
        trial = study.ask()
        means = [float(v) for v in rng.uniform(0.6, 0.8, size=int(rng.integers(1, 4)))]
        for step, value in enumerate(means):
            trial.report(value, step)
        history = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        assert pruned(means, len(means) - 1, history) == trial.should_prune(), case


class _OrderedPool:
    """An in-process pool recording what is submitted; a fold's AUC tells trial and fold apart."""

    def __init__(self, jobs):
        from concurrent.futures import Future

        self.jobs, self.submitted, self._future = jobs, [], Future

    def submit(self, spec, train, valid):
        future = self._future()
        self.submitted.append((spec, train))
        future.set_result((0.5 + 0.01 * spec + 0.001 * train, 10 + train))
        return future


def test_batches_start_first_folds_first_and_hold_the_rest_until_the_first_is_read():
    from churnml.model.trial_batches import _fit_batch, _Running

    pool = _OrderedPool(jobs=2)
    batch = [_Running(trial=_FakeTrial(), spec=k) for k in (1, 2)]
    _fit_batch(batch, pool, folds=[(k, None) for k in range(3)], history=None)
    # both first folds before any second fold; each trial's folds in order; nothing twice
    assert pool.submitted[:2] == [(1, 0), (2, 0)]
    assert sorted(pool.submitted) == [(s, f) for s in (1, 2) for f in range(3)]
    for run in batch:
        assert run.state == "complete" and run.iterations == [10, 11, 12]
        assert run.trial.reported == [
            (np.mean(run.aucs[: k + 1]), k) for k in range(3)
        ]


class _FakeTrial:
    def __init__(self):
        self.reported, self.attrs = [], {}

    def report(self, value, step):
        self.reported.append((value, step))

    def set_user_attr(self, key, value):
        self.attrs[key] = value


def test_a_pruned_trial_starts_no_further_fold():
    from types import SimpleNamespace

    from churnml.model.trial_batches import _fit_batch, _Running

    pool = _OrderedPool(jobs=1)
    history = [SimpleNamespace(intermediate_values={0: 0.9}) for _ in range(5)]
    batch = [_Running(trial=_FakeTrial(), spec=k) for k in (1, 2)]
    _fit_batch(batch, pool, folds=[(k, None) for k in range(3)], history=history)
    assert [run.state for run in batch] == ["pruned", "pruned"]
    assert pool.submitted == [(1, 0), (2, 0)]  # every trial trails 0.9 after its first fold


def test_one_lightgbm_thread_caps_the_process_and_restores_the_cap():
    import ctypes

    from lightgbm.basic import _LIB

    from churnml.model.parallel_folds import one_lightgbm_thread

    def cap():
        out = ctypes.c_int(0)
        _LIB.LGBM_GetMaxThreads(ctypes.byref(out))
        return out.value

    before = cap()
    with one_lightgbm_thread():
        assert cap() == 1
    assert cap() == before
    with one_lightgbm_thread(active=False):
        assert cap() == before


def test_sqlite_storage_is_shared_between_workers(frame, config, tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tune(frame, config=config, n_trials=2, storage=url, study_name="shared", progress=False)
    second = tune(
        frame, config=config, n_trials=2, storage=url, study_name="shared", progress=False
    )
    assert len(second.trials) == 4
    loaded = optuna.load_study(study_name="shared", storage=url)
    assert len(loaded.trials) == 4


def test_search_space_respects_fixed_and_log_bounds():
    bounds = load_config(search_space={"num_leaves": [31, 31]}).search_space
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    trial = study.ask()
    params = search_space(trial, bounds)
    assert params["num_leaves"] == 31 and "num_leaves" not in trial.params
    assert trial.distributions["learning_rate"].log


def _study_with(default_folds, best_folds):
    """An in-memory study with the defaults' trial (0) and one other trial (1) and their fold AUCs."""
    from churnml.model.tuning import default_trial_params

    bounds = load_config().search_space
    defaults = default_trial_params(bounds)
    other = {**defaults, "num_leaves": 40}
    dist = {
        k: optuna.distributions.FloatDistribution(*getattr(bounds, k))
        if isinstance(v, float)
        else optuna.distributions.IntDistribution(*getattr(bounds, k))
        for k, v in defaults.items()
    }
    study = optuna.create_study(direction="maximize")
    for params, folds in ((defaults, default_folds), (other, best_folds)):
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=dist, value=float(np.mean(folds)),
                user_attrs={"fold_auc": list(folds), "params": params},
            )
        )
    return study, defaults


def test_a_tuned_trial_must_beat_the_defaults_beyond_fold_noise():
    from churnml.model.tuning import select_trial

    # +0.02 on every fold: a real gain
    study, defaults = _study_with([0.70, 0.72, 0.74, 0.76], [0.72, 0.74, 0.76, 0.78])
    chosen, why = select_trial(study, defaults)
    assert chosen.number == 1 and "beats the untuned defaults" in why
    # +0.003 on average, up and down from fold to fold: noise, the defaults stay
    study, defaults = _study_with([0.70, 0.72, 0.74, 0.76], [0.71, 0.71, 0.75, 0.762])
    chosen, why = select_trial(study, defaults)
    assert chosen.number == 0 and "within 2 standard errors" in why
    # min_gain_se=0 takes the best trial as it is
    chosen, _ = select_trial(study, defaults, min_gain_se=0)
    assert chosen.number == 1


def test_with_one_fold_the_best_trial_is_kept_and_the_reason_says_so():
    from churnml.model.tuning import select_trial

    study, defaults = _study_with([0.70], [0.71])
    chosen, why = select_trial(study, defaults)
    assert chosen.number == 1 and "no fold-to-fold comparison" in why
