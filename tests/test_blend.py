"""ChurnModel's blend of booster and logistic model: when it is chosen, what it predicts, and that its
explanations stay exact (contributions add up to the blended log-odds for every backend).

Tables are small and hand-made: a log-odds linear in the columns (the logistic model's home), an
XOR of two signs (no linear signal at all), and the scoring tests' indicator rows.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from test_estimator import tabular
from test_folds import snapshot_frame
from test_reasons import FakeCatalog, make_frame

from churnml.explain import backends
from churnml.explain.contributions import explain_all
from churnml.model.estimator import ChurnModel
from churnml.model.linear import LinearPart


def xor_table(n=1500, seed=0):
    """Churn when exactly one of two signs is negative: no linear model sees anything."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.uniform(-1, 1, n), "b": rng.uniform(-1, 1, n)})
    X["noise"] = rng.normal(size=n)
    p = np.where((X["a"] > 0) ^ (X["b"] > 0), 0.75, 0.1)
    return X, (rng.random(n) < p).astype(int)


@pytest.fixture(scope="module")
def linear_fit():
    X, y = tabular(1500, seed=0)
    return ChurnModel(n_estimators=200).fit(X, y), X, y


@pytest.fixture(scope="module")
def forced():
    """A model of the explain tests' indicator rows, blended whatever the folds say."""
    frame = make_frame(2500, seed=1)
    train = frame.iloc[:1800]
    model = ChurnModel(n_estimators=60, blend=True, random_state=0)
    return model.fit(train[FakeCatalog.FEATURES], train["label"]), frame.iloc[1800:2300]


def test_auto_blends_a_linear_signal_and_keeps_the_booster_alone_on_an_interaction(linear_fit):
    model, _, _ = linear_fit
    assert model.blend_.chosen == "blend" and model.blended_
    assert model.blend_.linear > 0 and model.linear_ is not None
    assert model.blend_.gain > model.blend_.se > 0  # beyond one standard error
    assert model.blend_.reason.startswith("blend:") and "cross-fitted" in model.blend_.reason

    X, y = xor_table()
    alone = ChurnModel(n_estimators=200).fit(X, y)
    assert alone.blend_.chosen == "booster" and not alone.blended_
    assert alone.linear_ is None and alone.blend_.reason.startswith("booster alone")
    raw = alone.booster_.predict(alone.prepare(X), raw_score=True)
    np.testing.assert_array_equal(alone.predict_raw(X), raw)


def test_blend_false_is_the_booster_and_true_blends_anyway():
    X, y = xor_table(800, seed=1)
    off = ChurnModel(n_estimators=80, blend=False).fit(X, y)
    assert off.blend_.reason == "booster alone: blend=False" and off.linear_ is None
    on = ChurnModel(n_estimators=80, blend=True).fit(X, y)
    # forced, the blend is used unless the stacking gives the linear model no weight at all
    assert on.blended_ == (on.blend_.linear > 0)
    assert on.blend_.reason.startswith(("blend (blend=True)", "booster alone: the linear model"))


def test_blend_beats_the_booster_alone_on_fresh_rows_of_a_linear_table(linear_fit):
    model, X, y = linear_fit
    booster = ChurnModel(n_estimators=200, blend=False).fit(X, y)
    X_new, y_new = tabular(4000, seed=9)
    blended = roc_auc_score(y_new, model.predict_raw(X_new))
    alone = roc_auc_score(y_new, booster.predict_raw(X_new))
    assert blended > alone + 0.005, (blended, alone)


def test_log_odds_are_the_weighted_sum_and_calibration_applies_to_the_blend():
    X, y = tabular(1200, seed=3)
    model = ChurnModel(n_estimators=100, calibration="sigmoid", blend=True).fit(X, y)
    b = model.blend_
    P = model.prepare(X)
    expected = (
        b.booster * model.booster_.predict(P, raw_score=True)
        + b.linear * model.linear_.decision_function(P)
        + b.intercept
    )
    np.testing.assert_allclose(model.predict_raw(X), expected, atol=1e-12)
    calibrated = model.calibrator_.predict(1 / (1 + np.exp(-expected)))
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], calibrated, atol=1e-12)
    # the refitted linear model saw every row; the weights were learnt before the refit
    assert model.validation_["refit_rows"] == len(X)


def test_a_time_ordered_fit_learns_the_blend_on_its_latest_slice_and_small_tables_cross_fit(
    monkeypatch,
):
    frame = snapshot_frame(n_accounts=300)
    model = ChurnModel(n_estimators=100).fit(frame)
    assert "validation slice" in model.blend_.reason
    assert f"on {model.validation_['n_valid']} rows" in model.blend_.reason
    # unordered rows cross-fit only below SMALL_DATA_ROWS; above it the random slice serves
    from churnml.model import estimator

    monkeypatch.setattr(estimator, "SMALL_DATA_ROWS", 1000)
    X, y = tabular(1500, seed=0)
    sliced = ChurnModel(n_estimators=100).fit(X, y)
    assert "validation slice" in sliced.blend_.reason and "cross-fitted" not in sliced.blend_.reason


def test_clone_get_set_params_and_pickle_keep_the_blend(linear_fit):
    model, X, _ = linear_fit
    assert clone(ChurnModel(blend=True)).get_params()["blend"] is True
    assert ChurnModel().get_params()["blend"] == "auto"
    assert ChurnModel().set_params(blend=False).blend is False
    back = pickle.loads(pickle.dumps(model))
    assert back.blend_ == model.blend_
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match=rf"blend={bad!r}"):
            ChurnModel(blend=bad).fit(X, np.arange(len(X)) % 2)


def test_linear_contributions_sum_each_features_columns_back_to_it():
    rng = np.random.default_rng(4)
    n = 600
    plan = rng.choice(["basic", "pro", "enterprise", "legacy"], n, p=[0.5, 0.3, 0.19, 0.01])
    X = pd.DataFrame(
        {
            "usage": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "plan": pd.Categorical(np.where(rng.random(n) < 0.05, None, plan)),
            "flat": np.ones(n),
        }
    )
    z = np.nan_to_num(X["usage"].to_numpy()) + (X["plan"] == "basic").to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    part = LinearPart(min_frequency=10).fit(X, y)
    assert part.levels_["plan"] == ["basic", "enterprise", "pro"]  # "legacy" is too rare
    owners = [part.features_[j] for j in part.column_feature_]
    assert owners == ["usage", "usage", "plan", "plan", "plan", "flat"]  # value + missing flag
    new = X.head(50).copy()
    new["plan"] = new["plan"].cat.add_categories("startup")
    new.loc[new.index[:5], "plan"] = "startup"  # unknown: the reference, like a rare level
    values, base = part.contributions(new)
    np.testing.assert_allclose(values.sum(axis=1) + base, part.decision_function(new), atol=1e-12)
    centred = (part.design(new) - part.mean_) * part.coef_
    for j, name in enumerate(part.features_):
        mine = centred[:, np.array(owners) == name].sum(axis=1)
        np.testing.assert_allclose(values[:, j], mine, atol=1e-12)
    assert np.all(values[:, 2] == 0)  # a constant column explains nothing
    # an unknown level is the all-zero reference, like a rare or missing one
    reference = ((0.0 - part.center_) / part.scale_ - part.mean_) * part.coef_
    plan = np.array(owners) == "plan"
    np.testing.assert_allclose(values[:5, 1], reference[plan].sum(), atol=1e-12)


def test_linear_penalty_is_chosen_by_cross_validation():
    rng = np.random.default_rng(0)

    def table(n, noise):
        X = pd.DataFrame(rng.normal(size=(n, 2 + noise))).add_prefix("c")
        z = X["c0"] - 0.8 * X["c1"]
        return X, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)

    # few rows, many noise columns: a strong penalty; many rows, a clean signal: a weak one
    assert LinearPart().fit(*table(300, 60)).C_ <= 0.1
    assert LinearPart().fit(*table(3000, 3)).C_ == 1.0
    assert LinearPart(C=0.5).fit(*table(300, 3)).C_ == 0.5  # a single value is used as it is


@pytest.mark.parametrize("backend", backends.BACKENDS)
def test_blended_contributions_add_up_to_the_blended_log_odds(forced, backend):
    if backend not in backends.available_backends():
        pytest.skip(f"{backend} not installed")
    model, features = forced
    assert model.blended_ and 0 < model.blend_.booster and 0 < model.blend_.linear
    ex = explain_all(model, features, catalog=FakeCatalog(), backend=backend)
    raw = model.predict_raw(features)
    # the blend's own arithmetic is exact for every backend: weighted TreeSHAP of that backend
    # plus the weighted linear contributions, and the base values blended the same way
    X = model.prepare(features)
    tree, tree_base = backends.contributions(model.booster_, X, backend=backend)
    linear, linear_base = model.linear_.contributions(X)
    b = model.blend_
    np.testing.assert_allclose(
        ex.contributions.to_numpy(), b.booster * tree + b.linear * linear, atol=1e-12
    )
    np.testing.assert_allclose(
        ex.base_value, b.booster * tree_base + b.linear * linear_base + b.intercept, atol=1e-12
    )
    # and adds up to the model's log-odds: to 1e-6 (WOODELF sums leaf values in float32, and
    # the booster's weight is below 1 here, so its ~1e-6 rounding stays under 1e-6 too)
    np.testing.assert_allclose(ex.log_odds, raw, atol=1e-6, rtol=0)
    per_family = ex.families.groupby("account_id", sort=False)["contribution"].sum()
    np.testing.assert_allclose(per_family.to_numpy(), ex.log_odds - ex.base_value, atol=1e-9)


def test_sentences_families_and_waterfall_of_a_blended_model():
    from test_scoring import FEATURES, make_features

    from churnml.report.render import render_report
    from churnml.scoring.score import score_frame

    train = make_features(1500, seed=1)
    model = ChurnModel(n_estimators=60, blend=True).fit(train[FEATURES], train["label"])
    assert model.blended_
    features = make_features(200, seed=2).drop(columns="label")
    result = score_frame(model, features, tiers={"red": 0.4, "amber": 0.2})
    s, ex = result.scores, result.explanations
    np.testing.assert_allclose(
        s.set_index("account_id").loc[features["account_id"], "log_odds"],
        model.predict_raw(features),
        atol=1e-6,
    )
    assert s["top_reasons"].notna().mean() > 0.5
    usage = ex[(ex["indicator"] == "active_users_change_30d") & (ex["kind"] == "driver")]
    assert len(usage) and usage["sentence"].str.contains("active users", case=False).all()
    fam = result.families.groupby("account_id")["contribution"].sum()
    whole = s.set_index("account_id")
    np.testing.assert_allclose(
        fam.loc[whole.index], whole["log_odds"] - whole["base_value"], atol=1e-9
    )
    html = render_report(s, ex, families=result.families)
    red = set(s.loc[s["tier"] == "red", "account_id"])
    explained = red & set(ex["account_id"])  # a card draws its waterfalls from its reasons
    assert len(explained) > 0.9 * len(red) > 0
    # each card: the waterfall by area, and the indicator view one click away
    assert html.count('class="chart waterfall"') == 2 * len(explained)


def test_training_tracks_registers_and_reloads_a_blended_model(
    tmp_path, monkeypatch, saas_small, features_small
):
    import mlflow

    from churnml.model.config import load_config
    from churnml.model.pyfunc import signature_frame
    from churnml.model.registry import load_model
    from churnml.model.training import train

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    config = load_config(blend=True)
    # a planted linear signal (churned rows shifted by 1.5 sd): the linear part gets weight
    shift = 1.5 * features_small["label"].fillna(0).to_numpy()
    rng = np.random.default_rng(0)
    planted = features_small.assign(**{
        c: (rng.normal(0.0, 1.0, len(features_small)) + shift).astype("float32")
        for c in ("tickets_90d", "events_30d", "nps_latest_score")})
    result = train(
        saas_small, features=planted, config=config, trials=1, progress=False, figures=False
    )
    model = result.model
    assert model.blended_ and result.holdout_model.blended_
    assert f"Blend:          {model.blend_.reason}" in result.summary()
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.data.params["blend"] == "blend"
    assert run.data.tags["churnml.blend"] == model.blend_.reason
    assert run.data.metrics["blend.linear_weight"] == pytest.approx(model.blend_.linear)
    X = planted.tail(200)
    loaded = load_model(result.model_uri)  # the pyfunc's own ChurnModel, blend included
    assert loaded.blend_ == model.blend_
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    served = mlflow.pyfunc.load_model(result.model_uri).predict(signature_frame(model, X))
    np.testing.assert_allclose(served["probability"], model.predict_proba(X)[:, 1])


def test_config_switches_the_blend_and_shows_a_bad_value():
    from churnml.model.config import load_config
    from churnml.model.training import _new_model

    assert load_config().blend == "auto"
    config = load_config(blend=False)
    assert _new_model(config, {}, None).blend is False
    with pytest.raises(ValueError, match="blend='sometimes'"):
        load_config(blend="sometimes")
