"""train(): one MLflow run per training, nested trials, registry, the champion gate, determinism.

Trainings share the session's ``features_learnable`` frame (300 accounts, 18 months, with a planted
signal the model learns and a linear baseline cannot, so the first version passes the gate) and run
against a local SQLite store in a temporary working directory.
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
def first(workdir, saas_small, features_learnable):
    from churnml.model.training import train

    return train(saas_small, features=features_learnable, trials=TRIALS, progress=False)


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
    assert tags["label_definition"] == "label=renewal horizon_days=180"
    assert {tags[f"gate.{c}"] for c in ("above_chance", "beats_logistic", "beats_champion")} == {
        "true"
    }
    assert metrics["model.roc_auc_low"] < metrics["model.roc_auc"] < metrics["model.roc_auc_high"]
    assert tags["model_version"] == first.model_version == "1"
    gate = {a.path for a in client.list_artifacts(first.run_id, "evaluation")}
    assert "evaluation/gate.csv" in gate
    top = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"config", "catalog", "data", "evaluation", "figures", "tuning"} <= top
    figures = {a.path for a in client.list_artifacts(first.run_id, "figures")}
    expected = {"roc", "pr", "gain", "calibration", "shap_summary"}  # drawn in a worker process
    assert figures == {f"figures/{name}.png" for name in expected}
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
    # logged while tuning ran, with the trials' own times (not the time of logging)
    for trial in first.tune_result.study.trials:
        run = next(c for c in children if c.data.tags["optuna.trial"] == str(trial.number))
        assert abs(run.info.start_time - trial.datetime_start.timestamp() * 1000) < 1.5
        assert abs(run.info.end_time - trial.datetime_complete.timestamp() * 1000) < 1.5
        assert run.info.status == "FINISHED"
    assert parent.info.start_time <= min(c.info.start_time for c in children)


def test_first_version_passing_the_gate_becomes_champion(first, client):
    assert first.promoted and first.reason.startswith("no champion yet; above chance")
    assert "beats logistic on ROC-AUC" in first.reason and "beats health_score" in first.reason
    assert first.gate.table()["passed"].all()
    version = client.get_model_version_by_alias("churnml", "champion")
    assert str(version.version) == "1"
    assert version.tags["champion_decision"] == first.reason
    assert "Champion:       promoted — no champion yet" in first.summary()


def test_load_model_by_alias_predicts_like_the_trained_model(first):
    from churnml.model.registry import load_model

    model = load_model("models:/churnml@champion")
    assert (model.model_name_, model.model_version_) == ("churnml", "1")
    assert "active_users_30d" in model.catalog_.ids
    assert model.config_.registered_model_name == "churnml"
    X = first.features.tail(200)
    np.testing.assert_allclose(model.predict_proba(X), first.model.predict_proba(X))
    profile = model.training_info_["data_profile"]  # what scoring checks its data against
    assert profile == first.model.training_info_["data_profile"]
    assert profile["rows"] == len(first.features) and profile["families"]["usage"]["coverage"] > 0.9


@pytest.fixture(scope="module")
def shuffled(first, saas_small, features_small):
    """Version 2: trained on the same snapshots with their labels shuffled (no signal)."""
    from churnml.model.training import train

    rng = np.random.default_rng(0)
    noisy = features_small.copy()
    known = noisy.index[noisy["label"].notna()]
    noisy.loc[known, "label"] = noisy.loc[known, "label"].to_numpy()[rng.permutation(len(known))]
    return train(saas_small, features=noisy, trials=1, progress=False, figures=False)


def test_model_without_signal_is_registered_not_promoted(shuffled, client):
    second = shuffled
    assert second.model_version == "2"
    assert not second.promoted
    assert second.reason.startswith("not clearly above chance (test ROC-AUC")
    assert "does not exclude 0.5" in second.reason
    assert "Champion:       registered, not promoted — not clearly above chance" in second.summary()
    info = second.model.training_info_
    assert info["test_roc_auc_low"] <= 0.5 <= info["test_roc_auc_high"]
    assert str(client.get_model_version_by_alias("churnml", "champion").version) == "1"
    assert client.get_model_version("churnml", "2").aliases == []
    tags = client.get_run(second.run_id).data.tags
    assert tags["promoted"] == "false" and tags["gate.above_chance"] == "false"
    assert tags["champion_decision"] == second.reason


def test_scores_of_a_model_without_signal_say_so_instead_of_a_red_list(shuffled, saas_small):
    from churnml.report.digest import red_digest, run_warnings
    from churnml.report.render import render_report
    from churnml.scoring.score import score_result

    tables = {k: v for k, v in saas_small.items() if k != "oracle"}
    with pytest.warns(UserWarning, match="the model shows no signal"):
        result = score_result(shuffled.model, tables, "2025-11-01", capacity=20)
    scores = result.scores
    assert len(scores) > 20 and not (scores["tier"] == "red").any()
    warning = next(w for w in result.warnings if w["kind"] == "no_signal")
    assert "does not rule out chance" in warning["message"]
    assert "the capacity of 20 is not applied" in warning["message"]
    assert result.tiering["capacity"] == 20 and not result.tiering["capacity_applied"]
    assert (scores["trend"] == "new").all() and scores["pattern"].isna().all()
    digest = red_digest(scores, warnings=result.warnings)
    assert digest.startswith("warning: the model shows no signal") and "no red accounts" in digest
    html = render_report(scores, result.explanations, notices=run_warnings(result.warnings))
    assert "The model shows no signal" in html and "No red accounts in this run." in html


def test_model_losing_to_logistic_is_not_promoted_and_says_so(first, saas_small, features_small):
    """A one-split stump has signal (above chance) but loses to the logistic baseline; trained on
    changed data, the comparison with the champion says the data differ. Three planted linear
    signals (churned rows shifted by 1.5 sd): one split reads one of them, the logistic all three."""
    from churnml.model.config import load_config
    from churnml.model.training import train

    stump = load_config(n_estimators=1, search_space={"num_leaves": [2, 2]}, calibration=None,
                        blend=False)
    changed = {**saas_small, "nps": saas_small["nps"].iloc[:-5]}
    import numpy as np

    shift = 1.5 * features_small["label"].fillna(0).to_numpy()
    rng = np.random.default_rng(0)
    planted = features_small.assign(**{  # three linear signals: one split sees one of them
        c: (rng.normal(0.0, 1.0, len(features_small)) + shift).astype("float32")
        for c in ("tickets_90d", "events_30d", "nps_latest_score")})
    result = train(changed, features=planted, config=stump, trials=1, progress=False,
                   figures=False)  # fmt: skip
    checks = result.gate.table().set_index("check")["passed"]
    assert checks["above_chance"] and not checks["beats_logistic"] and not result.promoted
    assert "does not beat logistic on ROC-AUC (" in result.reason
    detail = result.gate.table().set_index("check")["detail"]["beats_champion"]
    assert "the champion was trained on different data (data_digest)" in detail


def test_blockers_from_elsewhere_keep_a_version_from_promotion(first, client, features_learnable):
    from churnml.model.training import log_result, train

    again = train(features=features_learnable, trials=1, progress=False, log=False)
    again.blockers.append("probable leak: days_to_renewal separates the classes (AUC 0.97)")
    log_result(again, figures=False)
    assert not again.promoted
    assert again.reason.startswith("probable leak: days_to_renewal separates the classes")
    assert client.get_run(again.run_id).data.tags["gate.blocker"] == "false"
    assert str(client.get_model_version_by_alias("churnml", "champion").version) == "1"


def test_same_seed_same_data_same_model(first, saas_small, features_learnable):
    from churnml.model.training import train

    again = train(saas_small, features=features_learnable, trials=TRIALS, progress=False, log=False)
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


def test_no_artifact_progress_switches_mlflow_bar_off_only_inside(monkeypatch):
    import os

    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR as BAR

    from churnml.model.tracking import no_artifact_progress

    monkeypatch.delenv(BAR.name, raising=False)
    with no_artifact_progress():
        assert BAR.get() is False
    assert not BAR.defined and BAR.get() is True
    monkeypatch.setenv(BAR.name, "1")
    with no_artifact_progress():
        assert BAR.get() is False
    assert os.environ[BAR.name] == "1"  # a user's own setting comes back
