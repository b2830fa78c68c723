"""tune: seeded TPE over out-of-time folds, median pruning, trial budget, shared storage."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
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
    # with pruning: folds fitted in two worker processes finish in any order, but each is
    # reported and pruned in fold order, so two runs per seed on two cores and one run in this
    # process select the same trial with the same values, fold AUCs, tree counts and pruning
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


class _SleepyPool:
    """Folds in threads, recording the training size of each fold as it starts; the first
    (smallest) fold finishes after the others."""

    def __init__(self, jobs):
        from concurrent.futures import ThreadPoolExecutor

        self.jobs, self.started = jobs, []
        self._threads = ThreadPoolExecutor(jobs)

    def submit(self, spec, train, valid):
        import time

        self.started.append(len(train))
        pause = 0.05 if len(train) == 1 else 0.0
        return self._threads.submit(lambda: (time.sleep(pause), len(train))[1])


def test_fold_results_keeps_fold_order_and_starts_the_largest_folds_first():
    import time

    from churnml.model.parallel_folds import fold_jobs, fold_results

    pool, folds = _SleepyPool(jobs=2), [(range(n), None) for n in (1, 2, 3, 4, 5)]
    assert list(fold_results(pool, None, folds)) == [1, 2, 3, 4, 5]  # results in fold order
    assert pool.started == [1, 5, 4, 3, 2]  # the first alone, then the largest first
    pool.started.clear()
    for _ in fold_results(pool, None, folds):
        break  # a trial pruned after its first fold, which ran alone: nothing else started
    time.sleep(0.1)
    assert pool.started == [1]
    pool.started.clear()
    for _ in fold_results(pool, None, folds, eager=True):
        break  # a trial that cannot be pruned starts every fold, largest first
    time.sleep(0.1)
    assert pool.started == [5, 4, 3, 2, 1]
    one = _SleepyPool(jobs=1)
    for i in fold_results(one, None, folds):
        if i == 2:
            break  # one job: fold order, each fold only when asked for
    assert one.started == [1, 2]
    assert fold_jobs(None, 4) >= 1 and fold_jobs(3, 2) == 2 and fold_jobs(0, 4) == 1


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


class _Noisy:
    """An estimator that warns while it fits (as ChurnModel does on a short history)."""

    def fit(self, frame):
        import warnings

        warnings.warn(f"fitted on {len(frame)} rows", UserWarning, stacklevel=1)
        self.rows_ = len(frame)
        return self


def _pid_and_warning(text):
    import os
    import warnings

    warnings.warn(text, RuntimeWarning, stacklevel=1)
    return os.getpid()


def test_a_model_fitted_in_a_worker_is_the_one_fitted_here(frame):
    # train fits the deployed and the held-out model in worker processes, side by side
    import os

    from churnml.model.parallel_folds import FoldPool

    def model():
        return ChurnModel(n_estimators=80, time_column="as_of", random_state=3)

    rows = np.flatnonzero(pd.to_datetime(frame["as_of"]) < pd.to_datetime(frame["as_of"]).max())
    here, here_early = model().fit(frame), model().fit(frame.iloc[rows])
    with FoldPool(frame, 2) as pool:
        assert pool._executor is not None  # really another process
        deploying, holding = pool.fit(model()), pool.fit(model(), rows)
        there, there_early = deploying.result(), holding.result()
        with pytest.warns(UserWarning, match=f"fitted on {len(frame)} rows"):
            noisy = pool.fit(_Noisy()).result()
        with pytest.warns(UserWarning, match=f"fitted on {len(rows)} rows"):
            pool.fit(_Noisy(), rows).result()
        with pytest.warns(RuntimeWarning, match="drawn there"):
            assert pool.call(_pid_and_warning, "drawn there").result() != os.getpid()
    assert noisy.rows_ == len(frame) > len(rows)
    for a, b in ((there, here), (there_early, here_early)):
        assert a.booster_.model_to_string() == b.booster_.model_to_string()
        np.testing.assert_array_equal(a.predict_proba(frame), b.predict_proba(frame))
    assert here.booster_.model_to_string() != here_early.booster_.model_to_string()
    with FoldPool(frame, 1) as pool:  # one job: fitted in this process when asked for
        late = _Noisy()
        fitting = pool.fit(late)
        assert not hasattr(late, "rows_")
        with pytest.warns(UserWarning, match="fitted on"):
            assert fitting.result() is late and late.rows_ == len(frame)
        calling = pool.call(_pid_and_warning, "drawn here")
        with pytest.warns(RuntimeWarning, match="drawn here"):
            assert calling.result() == os.getpid()
