"""evaluate, baselines and plots: metrics against sklearn and hand-worked lift / recall@k."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from churnml.model.baselines import HealthScore, logistic_baseline
from churnml.model.estimator import ChurnModel
from churnml.model.evaluation import evaluate

Y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
P = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.05, 0.15, 0.25, 0.35, 0.4])
ARR = np.array([100, 50, 10, 10, 10, 10, 10, 10, 10, 300.0])


def test_metrics_match_sklearn_and_hand_worked_top_k():
    ev = evaluate(Y, {"m": P}, frame=pd.DataFrame({"arr": ARR}), capacity=2)
    assert ev.metric("m", "roc_auc") == pytest.approx(roc_auc_score(Y, P))
    assert ev.metric("m", "pr_auc") == pytest.approx(average_precision_score(Y, P))
    assert ev.metric("m", "brier") == pytest.approx(brier_score_loss(Y, P))
    assert ev.metric("m", "log_loss") == pytest.approx(log_loss(Y, P))
    # top decile = the single riskiest row (a churner) over a base rate of 2/10
    assert ev.metric("m", "top_decile_lift") == pytest.approx(5.0)
    # top 2 = rows 0 (churner) and 1 (renewer): one churner of two, 100 of 400 churned ARR
    assert ev.metric("m", "recall_at_k") == pytest.approx(0.5)
    assert ev.metric("m", "arr_captured_at_k") == pytest.approx(0.25)
    assert ev.metric("m", "n") == 10 and ev.metric("m", "positives") == 2
    wide = ev.summary()
    assert list(wide.index) == ["m"] and wide.loc["m", "recall_at_k"] == pytest.approx(0.5)


def test_capacity_is_per_scoring_date_and_scaled_per_segment():
    frame = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2025-01-01"] * 5 + ["2025-02-01"] * 5),
            "segment": ["smb", "smb", "ent", "ent", "ent"] * 2,
        }
    )
    y = np.array([0, 1, 0, 0, 1, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.3, 0.2, 0.1, 0.05, 0.01])
    ev = evaluate(y, {"m": p}, frame=frame, capacity=2)
    # date 1 top 2: rows 0, 1 (one churner); date 2 top 2: rows 5, 6 (one churner)
    assert ev.metric("m", "recall_at_k") == pytest.approx(2 / 3)
    # smb is 2/5 of each date: k = round(0.8) = 1 per date -> rows 0 and 5
    assert ev.metric("m", "recall_at_k", "smb") == pytest.approx(1 / 2)
    assert set(ev.metrics.segment) == {"all", "ent", "smb"}


def test_oracle_ratio_calibration_table_and_errors():
    rng = np.random.default_rng(0)
    oracle = rng.uniform(0, 0.5, 2000)
    y = (rng.random(2000) < oracle).astype(int)
    noisy = np.clip(oracle + rng.normal(0, 0.15, 2000), 0, 1)
    ev = evaluate(y, {"model": noisy}, oracle=oracle, n_bins=5)
    ratio = ev.metric("model", "ratio_to_oracle")
    assert ratio == pytest.approx(roc_auc_score(y, noisy) / roc_auc_score(y, oracle))
    assert ratio < 1
    cal = ev.calibration[ev.calibration.model == "oracle"]
    assert len(cal) == 5 and cal.n.sum() == 2000
    assert np.allclose(cal.observed, cal.mean_predicted, atol=0.06)
    with pytest.raises(ValueError, match="'model'"):
        evaluate(y, {"model": noisy[:-1]})


def test_figures_including_shap_summary():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.choice(["x", "y"], 600)})
    y = (X.a + rng.normal(size=600) > 1).astype(int)
    model = ChurnModel(n_estimators=30).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    figures = evaluate(y, {"model": p}).figures(model=model, X=X)
    assert set(figures) == {"roc", "pr", "gain", "calibration", "shap_summary"}
    labels = [t.get_text() for t in figures["shap_summary"].axes[0].get_yticklabels()]
    assert set(labels) == {"a", "b"}


def test_health_score_is_a_weighted_percentile_scorecard():
    X = pd.DataFrame({"tickets_90d": [0, 1, 5, None], "nps_latest_score": [9, 7, 2, 5]})
    hs = HealthScore().fit(X)
    assert hs.weights_["tickets_90d"][0] == pytest.approx(0.15 / 0.35)
    parts = hs.component_risks(X)
    assert parts.tickets_90d.tolist() == pytest.approx([0, 1 / 3, 2 / 3, 0.5])
    assert parts.nps_latest_score.tolist() == pytest.approx([0, 0.25, 0.75, 0.5])
    risk = hs.predict_proba(X)[:, 1]
    w = 0.15 / 0.35
    assert risk == pytest.approx(w * parts.tickets_90d + (1 - w) * parts.nps_latest_score)
    with pytest.raises(ValueError, match="none of the scorecard"):
        HealthScore().fit(pd.DataFrame({"other": [1]}))


def test_logistic_baseline_handles_missing_strings_and_unknown_levels():
    rng = np.random.default_rng(2)
    n = 500
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": pd.array(rng.integers(0, 5, n), dtype="Int8"),
            "plan": rng.choice(["p", "q", None], n),
            "segment": pd.Categorical(rng.choice(["smb", "ent"], n)),
        }
    )
    X.loc[:20, "b"] = pd.NA
    y = (X.a + rng.normal(size=n) > 1).astype(int)
    model = logistic_baseline().fit(X, y)
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.7
    new = X.head(3).copy()
    new["plan"] = ["never seen", None, "p"]
    assert np.isfinite(model.predict_proba(new)).all()


def test_ratio_to_oracle_is_missing_where_the_oracle_cannot_rank():
    frame = pd.DataFrame({"segment": ["a", "a", "b", "b", "b", "b"]})
    y = np.array([1, 0, 1, 0, 1, 0])
    oracle = np.array([0.1, 0.9, 0.8, 0.2, 0.7, 0.3])  # segment a: oracle AUC 0
    ev = evaluate(y, {"m": [0.9, 0.1, 0.8, 0.2, 0.7, 0.3]}, frame=frame, oracle=oracle)
    assert np.isnan(ev.metric("m", "ratio_to_oracle", "a"))
    assert ev.metric("m", "ratio_to_oracle", "b") == pytest.approx(1.0)


def test_figures_a_worker_failed_to_draw_are_drawn_here():
    # train draws the figures in a worker process; one that died must not sink the training
    from churnml.model.training import _drawn_images

    class _Died:
        def result(self):
            raise RuntimeError("worker killed")

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    evaluation = evaluate(y, {"model": np.clip(y * 0.6 + rng.random(300) * 0.4, 0, 1)})
    with pytest.warns(UserWarning, match="figures drawn again here .*worker killed"):
        images = _drawn_images(_Died(), evaluation, None, None)
    assert set(images) == {"roc", "pr", "gain", "calibration"}
    assert all(image.startswith(b"\x89PNG") for image in images.values())
