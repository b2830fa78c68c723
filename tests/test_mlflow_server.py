"""Train through a real ``mlflow server`` over HTTP and load ``@champion`` back as a pyfunc."""

from __future__ import annotations

import numpy as np
import pytest
from services.mlflow_server import mlflow_server


@pytest.fixture()
def quiet_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    yield tmp_path
    import mlflow

    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def test_train_over_http_and_load_champion_pyfunc(quiet_env, saas_small, features_learnable):
    import mlflow

    from churnml.model.pyfunc import signature_frame
    from churnml.model.registry import load_model
    from churnml.model.training import log_result, train

    with mlflow_server(wait=False) as server:
        # the model trains while the server starts; the logging then goes over HTTP
        result = train(saas_small, features=features_learnable, trials=1, progress=False, log=False)
        url = server.wait()
        log_result(result, saas_small, tracking_uri=url, figures=False)
        assert mlflow.get_tracking_uri() == url
        assert result.promoted and result.model_version == "1"
        assert not (quiet_env / "mlflow.db").exists() and not (quiet_env / "mlruns").exists()

        run = mlflow.MlflowClient().get_run(result.run_id)
        assert run.data.metrics["model.roc_auc"] == pytest.approx(
            result.evaluation.metric("model", "roc_auc")
        )

        X = signature_frame(result.model, result.features.tail(300))
        served = mlflow.pyfunc.load_model("models:/churnml@champion")
        out = served.predict(X)
        expected = result.model.predict_proba(result.features.tail(300))[:, 1]
        np.testing.assert_allclose(out["probability"].to_numpy(), expected, rtol=1e-9)
        assert out["score"].between(0, 100).all()
        assert set(out["tier"]) <= {"red", "amber", "green"}

        model = load_model("models:/churnml@champion")
        assert model.model_version_ == "1"
        np.testing.assert_allclose(model.predict_proba(X)[:, 1], expected, rtol=1e-9)
