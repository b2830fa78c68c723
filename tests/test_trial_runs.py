"""Tuning trials become nested MLflow runs while tuning runs, with the trials' own times."""

from __future__ import annotations

import time

import optuna
import pytest


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One local MLflow store for the module (creating one costs seconds)."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("trial-runs")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield MlflowClient(uri)


@pytest.fixture(autouse=True)
def _tracking_uri(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)


def children(client, runs):
    found = client.search_runs(
        [runs.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{runs.run_id}'"
    )
    return {int(r.data.tags["optuna.trial"]): r for r in found}


def assert_timed_like(run, trial):
    assert abs(run.info.start_time - trial.datetime_start.timestamp() * 1000) < 1.5
    assert abs(run.info.end_time - trial.datetime_complete.timestamp() * 1000) < 1.5


def test_each_trial_is_logged_before_the_next_one_ends(store):
    from churnml.model.tracking import TrialRuns

    seen_before = []

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number:  # the previous trial's run appears while this trial runs
            deadline = time.monotonic() + 20
            while runs.run_id is None and time.monotonic() < deadline:  # opened by its thread
                time.sleep(0.05)
            while trial.number - 1 not in children(store, runs) and time.monotonic() < deadline:
                time.sleep(0.05)
            seen_before.append(trial.number - 1 in children(store, runs))
        if trial.number == 2:
            raise optuna.TrialPruned()
        return x

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    with TrialRuns(run_name="tune", tags={"purpose": "test"}) as runs:
        study.optimize(objective, n_trials=4, callbacks=[runs])
    assert seen_before == [True, True, True]
    logged = children(store, runs)
    assert sorted(logged) == [0, 1, 2, 3] and runs.logged == 4
    for trial in study.trials:
        assert_timed_like(logged[trial.number], trial)
    assert logged[2].info.status == "KILLED" and logged[2].data.tags["optuna.state"] == "pruned"
    assert logged[0].data.params["x"] == str(study.trials[0].params["x"])
    assert store.get_run(runs.run_id).info.status == "RUNNING"  # the caller finishes it
    runs.finish()
    parent = store.get_run(runs.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["purpose"] == "test"


def test_a_failed_tuning_fails_the_parent_run_and_keeps_its_trials(store):
    from churnml.model.tracking import TrialRuns

    def objective(trial):
        if trial.number == 2:
            raise RuntimeError("boom")
        return trial.suggest_float("x", 0, 1)

    study = optuna.create_study(direction="maximize")
    with pytest.raises(RuntimeError, match="boom"), TrialRuns() as runs:
        study.optimize(objective, n_trials=5, callbacks=[runs])
    assert store.get_run(runs.run_id).info.status == "FAILED"
    assert sorted(children(store, runs)) == [0, 1]


def test_disabled_trial_runs_log_nothing(tmp_path, monkeypatch):
    from churnml.model.tracking import TrialRuns

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with TrialRuns(enabled=False) as runs:
        study = optuna.create_study()
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, callbacks=[runs])
    assert runs.run_id is None and not (tmp_path / "mlflow.db").exists()


def test_trials_logged_after_tuning_keep_their_own_times(store):
    from churnml.model.tracking import configure, log_trials
    from churnml.model.tuning import trials_frame

    study = optuna.create_study()
    study.optimize(lambda t: (time.sleep(0.02), t.suggest_float("x", 0, 1))[1], n_trials=2)
    time.sleep(0.05)  # logging happens later than the trials ended
    experiment = configure()
    parent = store.create_run(experiment, run_name="train").info.run_id
    assert log_trials(trials_frame(study), parent, experiment) == 2
    found = store.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    for run in found:
        assert_timed_like(run, study.trials[int(run.data.tags["optuna.trial"])])


def test_inside_mlflow_run_the_projects_run_is_the_parent(store, monkeypatch):
    from churnml.model.tracking import TrialRuns, configure

    project = store.create_run(configure(), run_name="project").info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", project)
    with TrialRuns(tags={"optuna.study": "s"}) as runs:
        optuna.create_study().optimize(
            lambda t: t.suggest_float("x", 0, 1), n_trials=2, callbacks=[runs]
        )
    runs.finish()
    assert runs.run_id == project and sorted(children(store, runs)) == [0, 1]
    run = store.get_run(project)
    assert run.info.status == "RUNNING" and run.data.tags["optuna.study"] == "s"  # MLflow ends it


def test_a_store_that_cannot_be_opened_stops_the_tuning_at_once():
    """The store is opened by TrialRuns' thread while the first trial runs; its error stops the
    tuning at the next finished trial, not after the whole study."""
    from churnml.model.tracking import TrialRuns

    def objective(trial):
        time.sleep(0.3)
        return trial.suggest_float("x", 0, 1)

    unknown = "nosuch://store"  # MLflow knows no such store
    study = optuna.create_study()
    with pytest.raises(Exception, match="nosuch://store") as raised, TrialRuns(unknown) as runs:
        study.optimize(objective, n_trials=20, callbacks=[runs])
    assert not isinstance(raised.value, optuna.exceptions.OptunaError)
    assert 1 <= len(study.trials) <= 3 and runs.run_id is None

    with pytest.raises(Exception, match="nosuch://store"), TrialRuns(unknown):
        pass  # no trial at all: the error comes on leaving


def test_a_failed_tuning_does_not_wait_for_a_store_still_opening(monkeypatch):
    """A store that does not answer (a server MLflow retries for minutes) does not hold up the
    error of a tuning that failed meanwhile."""
    from churnml.model import tracking

    monkeypatch.setattr(tracking.TrialRuns, "_open", lambda self, *opening: time.sleep(60))

    def objective(trial):
        raise RuntimeError("boom")

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="boom"), tracking.TrialRuns() as runs:
        optuna.create_study().optimize(objective, n_trials=3, callbacks=[runs])
    assert time.monotonic() - start < tracking.EXIT_WAIT_SECONDS + 5
    assert runs.run_id is None
