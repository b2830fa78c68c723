"""train(): one MLflow run per training, nested trials, registry, champion/challenger, determinism.

Trainings share the session's ``features_small`` frame (300 accounts, 18 months) and run against a
local SQLite store in a temporary working directory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

TRIALS = 3


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-local")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.setenv("DO_NOT_TRACK", "1")
        yield folder


@pytest.fixture(scope="module")
def first(workdir, saas_small, features_small):
    from churnml.model.training import train

    return train(saas_small, features=features_small, trials=TRIALS, progress=False)


@pytest.fixture(scope="module")
def client(first):
    from mlflow import MlflowClient

    return MlflowClient()


def test_local_store_defaults_to_cwd(first, workdir):
    import mlflow

    assert mlflow.get_tracking_uri() == f"sqlite:///{workdir / 'mlflow.db'}"
    experiment = mlflow.get_experiment_by_name("churnml")
    assert experiment.artifact_location == (workdir / "mlruns").as_uri()
    assert (workdir / "mlruns").is_dir()


def test_run_has_params_metrics_tags_and_artifacts(first, client):
    run = client.get_run(first.run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["config.horizon_days"] == "180"
    assert params["trials_run"] == str(TRIALS)
    assert set(first.best_params) <= {k.removeprefix("best.") for k in params}
    for model in ("model", "uncalibrated", "logistic", "health_score", "oracle"):
        assert 0.5 < metrics[f"{model}.roc_auc"] <= 1.0
    assert metrics["model.roc_auc"] == pytest.approx(first.evaluation.metric("model", "roc_auc"))
    assert any(k.startswith("model.smb.") for k in metrics)  # per segment
    assert len(tags["data_digest"]) == 16
    assert tags["model_version"] == first.model_version == "1"
    top = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"config", "catalog", "data", "evaluation", "figures", "tuning"} <= top
    figures = {a.path for a in client.list_artifacts(first.run_id, "figures")}
    assert {"figures/roc.png", "figures/pr.png", "figures/calibration.png"} <= figures
    catalog = {a.path for a in client.list_artifacts(first.run_id, "catalog")}
    assert any(p.endswith(".yaml") for p in catalog)


def test_trials_are_nested_runs(first, client):
    parent = client.get_run(first.run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{first.run_id}'"
    )
    assert len(children) == TRIALS
    values = sorted(c.data.metrics["value"] for c in children if "value" in c.data.metrics)
    # the best trial tops the nested runs; the selected one (min_gain_se rule) is among them
    assert values[-1] == pytest.approx(first.tune_result.study.best_value)
    assert first.tune_result.best_value == pytest.approx(
        min(values, key=lambda v: abs(v - first.tune_result.best_value)))
    assert all("num_leaves" in c.data.params for c in children)


def test_first_version_becomes_champion(first, client):
    assert first.promoted and first.reason == "no champion yet"
    version = client.get_model_version_by_alias("churnml", "champion")
    assert str(version.version) == "1"
    assert version.tags["champion_decision"] == "no champion yet"


def test_load_model_by_alias_predicts_like_the_trained_model(first):
    from churnml.model.registry import load_model

    model = load_model("models:/churnml@champion")
    assert (model.model_name_, model.model_version_) == ("churnml", "1")
    assert "active_users_30d" in model.catalog_.ids
    assert model.config_.registered_model_name == "churnml"
    X = first.features.tail(200)
    np.testing.assert_allclose(model.predict_proba(X), first.model.predict_proba(X))


def test_worse_challenger_does_not_take_the_alias(first, client, saas_small, features_small):
    from churnml.model.training import train

    from churnml.features.catalog import Catalog, load_catalog
    from churnml.model.baselines import HEALTH_WEIGHTS

    # a challenger that knows only the health scorecard's inputs, judged on the same true labels
    # and features as the champion (shuffled labels would make both sides a coin toss)
    weak = Catalog([load_catalog()[name] for name in HEALTH_WEIGHTS])
    second = train(saas_small, features=features_small, catalog=weak, trials=1, progress=False,
                   figures=False)
    assert second.model_version == "2"
    assert not second.promoted
    assert second.reason.startswith("does not beat the champion")
    assert "vs champion v1" in second.reason
    assert str(client.get_model_version_by_alias("churnml", "champion").version) == "1"
    assert client.get_model_version("churnml", "2").aliases == []


def test_same_seed_same_data_same_model(first, saas_small, features_small):
    from churnml.model.training import train

    again = train(saas_small, features=features_small, trials=TRIALS, progress=False, log=False)
    assert again.run_id is None and again.reason.startswith("not logged")
    assert again.best_params == first.best_params
    pd.testing.assert_frame_equal(again.evaluation.metrics, first.evaluation.metrics)
    assert again.model.booster_.model_to_string() == first.model.booster_.model_to_string()


def test_summary_lists_models_baselines_and_oracle(first):
    text = first.summary()
    for word in ("model", "logistic", "health_score", "oracle", "roc_auc", "pr_auc", first.run_id):
        assert word in text
    assert list(first.table().index[:2]) == ["model", "uncalibrated"]


def test_training_frame_needs_label_and_as_of(features_small):
    from churnml.model.training import train

    with pytest.raises(ValueError, match="label"):
        train(features=features_small.drop(columns="label"), log=False, progress=False)


def test_fingerprint_is_stable_and_sees_changed_rows(saas_small):
    from churnml.model.fingerprint import combined_digest, fingerprint

    fp = fingerprint(saas_small)
    assert combined_digest(fingerprint(saas_small)) == combined_digest(fp)
    usage = fp.set_index("table").loc["usage"]
    assert usage["rows"] == len(saas_small["usage"])
    changed = dict(saas_small)
    tickets = saas_small["tickets"].copy()
    tickets.loc[tickets.index[0], "opened_at"] += pd.Timedelta(hours=1)
    changed["tickets"] = tickets
    after = fingerprint(changed).set_index("table")["digest"]
    before = fp.set_index("table")["digest"]
    assert after["tickets"] != before["tickets"]
    assert (after.drop("tickets") == before.drop("tickets")).all()
