"""Several tuning worker processes share one Optuna study; the best trial is selected once.

Two ``churnml tune`` processes run at the same time on one SQLite study (and two worker processes
on one PostgreSQL study): they draw different trials, each worker's trials are MLflow runs with
the trials' own start and end times, and the final selection (``train --trials 0``) sees them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import optuna
import pandas as pd
import pytest

from churnml.errors import ChurnmlError, UsageError

TRIALS = 3
CONFIG = "n_estimators: 60\nn_folds: 2\nmin_gain_se: 0\npruning: false\n"
CLI = "import sys; from churnml.cli import main; sys.exit(main())"


def start(args, cwd, env):
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def finish(process) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return out


def assert_workers_drew_different_trials(study, workers, config_path):
    from churnml.model.config import load_config
    from churnml.model.tuning import default_trial_params

    trials = study.trials
    assert len(trials) == 2 * TRIALS and all(t.state.name == "COMPLETE" for t in trials)
    by_worker = pd.Series([t.user_attrs["worker"] for t in trials]).value_counts()
    assert sorted(by_worker.index) == sorted(workers) and (by_worker == TRIALS).all()
    draws = {tuple(sorted(t.params.items())) for t in trials}
    assert len(draws) == len(trials)  # no two trials (in one worker or across) drew the same point
    from churnml.model.defaults import SMALL_DATA_ROWS

    # the untuned defaults of a frame this size (saas_small trains on fewer than SMALL_DATA_ROWS)
    defaults = default_trial_params(load_config(config_path).search_space, SMALL_DATA_ROWS - 1)
    assert sum(t.params == defaults for t in trials) == 1  # enqueued once, run by one worker


def assert_selection_sees_every_trial(result, study):
    best = max(study.trials, key=lambda t: t.value)
    assert len(result.tune_result.trials) == 2 * TRIALS
    assert result.tune_result.selected == best.number  # min_gain_se 0: the best of all workers
    assert f"among {2 * TRIALS} trials of study" in result.tune_result.selection
    assert "2 workers" in result.tune_result.selection


@pytest.fixture(scope="module")
def folder(tmp_path_factory, saas_small):
    from churnml.data.load import write_tables

    root = tmp_path_factory.mktemp("workers")
    write_tables(saas_small, root / "data")
    (root / "small.yaml").write_text(CONFIG)
    return root


def test_two_cli_workers_share_a_sqlite_study(folder, monkeypatch):
    from mlflow import MlflowClient

    from churnml.model.training import train

    storage = f"sqlite:///{folder / 'study.db'}"
    tracking = f"sqlite:///{folder / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking}
    args = ["tune", "--data", "data", "--config", "small.yaml", "--trials", str(TRIALS),
            "--storage", storage, "--study-name", "shared"]  # fmt: skip
    first = start([*args, "--worker", "1"], folder, env)
    second = start(args, folder, env)  # no --worker: an id derived from host and process
    outputs = [finish(first), finish(second)]
    assert outputs[0].startswith("worker 1: 3 trials in study 'shared'")
    assert "churnml train --data data --storage" in outputs[0]

    study = optuna.load_study(study_name="shared", storage=storage)
    workers = sorted({t.user_attrs["worker"] for t in study.trials})
    assert 1 in workers and len(workers) == 2
    assert_workers_drew_different_trials(study, workers, folder / "small.yaml")

    # each worker's trials are nested runs of its own MLflow run, timed like the trials
    client = MlflowClient(tracking)
    runs = client.search_runs(
        [client.get_experiment_by_name("churnml").experiment_id], max_results=100
    )
    parents = {r.info.run_id: r for r in runs if r.info.run_name.startswith("tune-worker-")}
    assert sorted(r.data.tags["optuna.worker"] for r in parents.values()) == sorted(
        map(str, workers)
    )
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in parents]
    assert len(children) == 2 * TRIALS
    for trial in study.trials:
        run = next(r for r in children if r.data.tags["optuna.trial"] == str(trial.number))
        assert abs(run.info.start_time - trial.datetime_start.timestamp() * 1000) < 1.5
        assert abs(run.info.end_time - trial.datetime_complete.timestamp() * 1000) < 1.5
        parent = parents[run.data.tags["mlflow.parentRunId"]]
        assert parent.data.tags["optuna.worker"] == str(trial.user_attrs["worker"])
        assert run.data.metrics["value"] == pytest.approx(trial.value)

    # the selection, once: train --trials 0 adds no trial and sees every worker's
    monkeypatch.chdir(folder)
    result = train(
        "data", config=folder / "small.yaml", trials=0, storage=storage, study_name="shared",
        log=False, progress=False,
    )  # fmt: skip
    assert len(optuna.load_study(study_name="shared", storage=storage).trials) == 2 * TRIALS
    assert_selection_sees_every_trial(result, study)


@pytest.mark.slow
def test_two_worker_processes_share_a_postgresql_study(folder, features_small, tmp_path):
    from services.postgres import postgres_server

    from churnml.model.config import load_config
    from churnml.model.training import train

    features = tmp_path / "features.parquet"
    features_small.to_parquet(features)
    worker = textwrap.dedent(f"""
        import sys, pandas as pd
        from churnml.model.config import load_config
        from churnml.model.study import tune_worker
        tune_worker(features=pd.read_parquet({str(features)!r}), storage=sys.argv[1],
                    study_name="pg", config=load_config({str(folder / "small.yaml")!r}),
                    trials={TRIALS}, worker=int(sys.argv[2]), log=False, progress=False)
    """)
    with postgres_server() as storage:
        processes = [
            subprocess.Popen([sys.executable, "-c", worker, storage, str(k)], text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for k in (3, 4)
        ]  # fmt: skip
        for process in processes:
            finish(process)
        study = optuna.load_study(study_name="pg", storage=storage)
        assert_workers_drew_different_trials(study, [3, 4], folder / "small.yaml")
        config = load_config(folder / "small.yaml")
        result = train(
            features=features_small, config=config, trials=0, storage=storage, study_name="pg",
            log=False, progress=False,
        )  # fmt: skip
        assert_selection_sees_every_trial(result, study)


def test_a_worker_with_other_data_is_refused(features_small, tmp_path):
    from churnml.model.config import load_config
    from churnml.model.study import tune_worker

    config = load_config(n_estimators=30, n_folds=2)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    kwargs = {"storage": storage, "study_name": "s", "config": config, "log": False,
              "progress": False}  # fmt: skip
    first = tune_worker(features=features_small, trials=1, worker=0, **kwargs)
    assert first.worker == 0 and len(first.trials) == 1
    fewer = features_small[features_small["account_id"] != features_small["account_id"].iloc[0]]
    with pytest.raises(ChurnmlError, match="study 's' was tuned on other data or settings"):
        tune_worker(features=fewer, trials=1, worker=1, **kwargs)
    # selecting from it (trials=0) works, and from an empty or in-memory study does not
    assert tune_worker(features=features_small, trials=0, **kwargs).selected == 0
    with pytest.raises(ChurnmlError, match="no study 'absent' in sqlite:///.* to select a trial"):
        tune_worker(features=features_small, trials=0, **{**kwargs, "study_name": "absent"})
    assert optuna.get_all_study_names(storage) == ["s"]  # nothing created by asking
    from churnml.model.tuning import tune

    with pytest.raises(UsageError, match="0 only to select from a shared study"):
        tune(features_small, config=config, n_trials=0, progress=False)


def test_worker_ids_and_seeds():
    from churnml.model.study import sampler_seed, worker_id

    assert worker_id(None) == 0 and worker_id(5, "sqlite:///x.db") == 5
    derived = worker_id(None, "sqlite:///x.db")
    assert derived == worker_id(None, "sqlite:///x.db")  # stable within a process
    assert sampler_seed(0, 0) == 0 and sampler_seed(0, 1) != sampler_seed(0, 2)
    for bad in (-1, 1.5, True):
        with pytest.raises(UsageError, match="worker must be an integer >= 0"):
            worker_id(bad)
    draws = []
    for worker in (0, 1):
        sampler = optuna.samplers.TPESampler(seed=sampler_seed(0, worker))
        trial = optuna.create_study(sampler=sampler).ask()
        draws.append(trial.suggest_float("x", 0, 1))
    assert draws[0] != draws[1] and np.isfinite(draws).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", ".", "--storage", "sqlite:///s.db"], "give --storage and --study-name"),
        (["train", "--data", ".", "--trials", "0"], "--trials 0 need --storage"),
        (["train", "--data", ".", "--worker", "2"], "--worker and --trials 0 need --storage"),
        (["tune", "--data", ".", "--storage", "sqlite:///s.db", "--study-name", "s",
          "--trials", "-1"], "at least 0"),
    ],
)  # fmt: skip
def test_cli_study_options_are_checked_before_anything_slow(args, message, capsys):
    from churnml.cli import main

    assert main(args) == 2
    assert message in capsys.readouterr().err
