"""ChurnModel: scikit-learn API, tabular and snapshot modes, determinism, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import cross_val_score
from test_folds import snapshot_frame

from churnml.model.estimator import ChurnModel


def tabular(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "usage": rng.normal(size=n),
            "tickets": pd.array(rng.poisson(2, n), dtype="Int16"),
            "plan": rng.choice(["basic", "pro", "enterprise"], n),
            "region": pd.Categorical(rng.choice(["eu", "us"], n)),
            "has_champion": rng.random(n) < 0.7,
        }
    )
    X.loc[rng.random(n) < 0.05, "usage"] = np.nan
    z = -1.8 - 1.2 * X.usage.fillna(0) + 0.3 * X.tickets.astype(float) + (X.plan == "basic")
    z = z - 0.8 * X.has_champion
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


def test_not_fitted_and_bad_parameter_shows_value():
    X, y = tabular(200)
    with pytest.raises(NotFittedError):
        ChurnModel().predict_proba(X)
    with pytest.raises(ValueError, match="calibration='platt'"):
        ChurnModel(calibration="platt").fit(X, y)
    with pytest.raises(ValueError, match="n_estimators=0"):
        ChurnModel(n_estimators=0).fit(X, y)


def test_clone_and_cross_val_score_with_string_columns():
    X, y = tabular()
    model = ChurnModel(n_estimators=200)
    assert clone(model).get_params() == model.get_params()
    scores = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    assert scores.min() > 0.7
    fitted = clone(model).fit(X, y)
    assert fitted.categories_["plan"] == ["basic", "enterprise", "pro"]
    assert fitted.categories_["region"] == ["eu", "us"]
    assert list(fitted.feature_names_in_) == list(X.columns)
    assert fitted.booster_.num_trees() == fitted.best_iteration_ < 200
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(1), 1)
    assert set(fitted.predict(X)) <= {0, 1}


def test_unknown_category_and_column_order_at_predict():
    X, y = tabular()
    model = ChurnModel(n_estimators=100).fit(X, y)
    new = X.head(5).copy()[list(X.columns)[::-1]]
    new["plan"] = ["startup", "basic", None, "pro", "pro"]
    new["region"] = new["region"].astype(str)
    prepared = model.prepare(new)
    assert list(prepared.columns) == list(X.columns)
    assert prepared["plan"].isna().tolist() == [True, False, True, False, False]
    assert np.isfinite(model.predict_proba(new)).all()
    with pytest.raises(ValueError, match="usage"):
        model.predict_proba(X.drop(columns="usage"))


def test_same_seed_same_predictions_and_seed_matters():
    X, y = tabular()
    a = ChurnModel(n_estimators=150, random_state=1).fit(X, y).predict_proba(X)
    b = ChurnModel(n_estimators=150, random_state=1).fit(X, y).predict_proba(X)
    c = ChurnModel(n_estimators=150, random_state=2).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_snapshot_mode_uses_time_slice_and_renewal_guard():
    frame = snapshot_frame(n_accounts=300)
    model = ChurnModel(n_estimators=200).fit(frame)
    assert set(model.feature_names_in_) == {"usage_change", "tickets", "segment"}
    info = model.validation_
    assert info["method"] == "time"
    labelled = frame[frame.label.notna()]
    assert info["n_valid"] == int((labelled.as_of >= info["cutoff"]).sum())
    assert info["n_train"] == int(
        ((labelled.as_of < info["cutoff"]) & (labelled.renewal_date < info["cutoff"])).sum()
    )
    p = model.predict_proba(frame)[:, 1]  # unlabelled rows score too
    assert len(p) == len(frame) and np.isfinite(p).all()
    mask = frame.label.notna()
    assert roc_auc_score(frame.label[mask].astype(int), p[mask]) > 0.7


def test_refit_trains_on_every_row_and_keeps_the_calibrator_out_of_sample():
    frame = snapshot_frame(n_accounts=300)
    # isotonic: "auto" may find that the (blended) slice scores need no calibrator at all
    kept = ChurnModel(n_estimators=200, refit=False, calibration="isotonic").fit(frame)
    refit = ChurnModel(n_estimators=200, calibration="isotonic").fit(frame)
    info = refit.validation_
    # the booster sees every labelled row (the validation slice and the rows the renewal guard
    # kept out of the early-stopping fit), with the tree count scaled to the larger data
    assert info["refit_rows"] == int(frame.label.notna().sum()) > info["n_train"] + info["n_valid"]
    assert info["early_stopped_trees"] == kept.best_iteration_
    scale = min(info["refit_rows"] / info["n_train"], 1 / (1 - 0.2))  # bounded by the slice share
    assert refit.best_iteration_ == min(200, round(kept.best_iteration_ * scale))
    assert refit.booster_.num_trees() == refit.best_iteration_
    # without early stopping the tree count is the maximum, never more
    unstopped = ChurnModel(n_estimators=40, early_stopping_rounds=None).fit(frame)
    assert unstopped.booster_.num_trees() == 40
    assert not np.allclose(refit.predict_raw(frame), kept.predict_raw(frame))
    # the calibrator was fitted on the slice scored by the booster that never saw it: the same
    # mapping with or without the refit
    grid = np.linspace(0.01, 0.99, 25)
    assert refit.calibration_ == kept.calibration_
    assert np.allclose(refit.calibrator_.predict(grid), kept.calibrator_.predict(grid))


def test_calibration_never_worse_than_raw_on_held_out_data():
    X, y = tabular(6000, seed=4)
    fit, test = slice(0, 4000), slice(4000, None)
    # the booster alone: its class-weighted scores need calibrating (a blend's stacking already
    # calibrates, see test_blend.py)
    model = ChurnModel(n_estimators=300, calibration="auto", blend=False).fit(X[fit], y[fit])
    assert model.calibration_ in {"isotonic", "sigmoid"}
    raw = 1 / (1 + np.exp(-model.predict_raw(X[test])))
    calibrated = model.predict_proba(X[test])[:, 1]
    assert brier_score_loss(y[test], calibrated) <= brier_score_loss(y[test], raw)
    for method in ("isotonic", "sigmoid"):
        m = ChurnModel(n_estimators=300, calibration=method).fit(X[fit], y[fit])
        assert m.calibration_ == method
    none = ChurnModel(n_estimators=300, calibration=None, blend=False).fit(X[fit], y[fit])
    assert none.calibrator_ is None
    assert np.allclose(none.predict_proba(X[test])[:, 1], raw)


def test_passes_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    # the internal validation slice is drawn from the rows, so repeating a row is not the same as
    # doubling its weight
    expected = {
        "check_sample_weight_equivalence_on_dense_data": "validation slice is drawn from rows"
    }
    results = check_estimator(
        ChurnModel(n_estimators=20), expected_failed_checks=expected, on_fail=None
    )
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []


def test_isotonic_steps_are_smoothed_never_certain_and_stay_monotone():
    from churnml.model.calibration import IsotonicCalibrator

    rng = np.random.default_rng(0)
    p = np.sort(rng.random(400))
    y = (rng.random(400) < p).astype(int)
    y[-20:] = 1  # the top 20 raw scores all churned
    y[:30] = 0  # the bottom 30 all renewed
    out = IsotonicCalibrator().fit(p, y).predict(np.linspace(0, 1, 201))
    assert 0 < out.min() and out.max() < 1
    assert np.all(np.diff(out) >= 0)
    # the top step (all churned, n rows) reads (n + 1) / (n + 2), counted independently here
    from sklearn.isotonic import IsotonicRegression

    plain = IsotonicRegression().fit(p, y).predict(p)
    in_top = plain == plain[-1]
    assert plain[-1] == 1.0 and in_top.sum() >= 20
    top = IsotonicCalibrator().fit(p, y).predict(p[-1:])[0]
    n = in_top.sum()
    assert top == pytest.approx((n + 2 * y.mean()) / (n + 2), abs=1e-5)  # shrunk to the rate
    # at a low churn rate the shrinkage does not lift the average probability towards 0.5
    rare = (rng.random(4000) < 0.03 * p.repeat(10) / p.mean()).astype(int)
    calibrated = IsotonicCalibrator().fit(p.repeat(10), rare).predict(p.repeat(10))
    assert calibrated.mean() == pytest.approx(rare.mean(), abs=0.003)


def test_auto_calibration_leaves_well_calibrated_probabilities_alone():
    from churnml.model.calibration import fit_calibrator

    rng = np.random.default_rng(3)
    p = rng.uniform(0.02, 0.9, 3000)
    y = (rng.random(3000) < p).astype(int)  # p is already the true probability
    assert fit_calibrator(p, y) == (None, "none")
    squeezed = 0.5 + (p - 0.5) * 0.4  # under-confident scores: calibration helps
    calibrator, method = fit_calibrator(squeezed, y)
    assert method in {"isotonic", "sigmoid"} and calibrator is not None


def test_typical_values_are_the_medians_of_the_rows_fitted():
    X, y = tabular()
    model = ChurnModel(n_estimators=30).fit(X, y)
    assert model.typical_values_["usage"] == pytest.approx(X["usage"].median())
    assert model.typical_values_["tickets"] == pytest.approx(X["tickets"].astype(float).median())
    assert "plan" not in model.typical_values_  # categories have no median
