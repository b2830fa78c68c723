"""Tiers that fit the book (thresholds relative to the base rate), the no-signal guard, and the
trend of accounts scored for the first time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.scoring.score import score_frame
from churnml.scoring.signal import MIN_SPREAD, log_odds_spread, signal_warning
from churnml.scoring.tiers import assign_tiers, thresholds

FEATURES = ["usage_change", "tickets_90d", "arr"]


def book(n: int, seed: int, intercept: float) -> pd.DataFrame:
    """Accounts whose churn rises with falling usage and many tickets; ``intercept`` sets the
    base rate (-3.8: about 8 %)."""
    rng = np.random.default_rng(seed)
    change = rng.uniform(-0.8, 0.3, n)
    tickets = rng.poisson(3, n).astype(float)
    logit = intercept - 3.0 * change + 0.4 * (tickets - 3)
    return pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "as_of": pd.Timestamp("2025-06-01"),
            "usage_change": change,
            "tickets_90d": tickets,
            "arr": rng.uniform(5_000, 200_000, n).round(),
            "label": (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype("int8"),
        }
    )


@pytest.fixture(scope="module")
def low_base_rate_model():
    from churnml.model.estimator import ChurnModel

    train = book(3000, seed=1, intercept=-3.8)
    return ChurnModel(n_estimators=80, random_state=0).fit(train[FEATURES], train["label"])


@pytest.fixture(scope="module")
def accounts():
    return book(400, seed=2, intercept=-3.8).drop(columns="label")


# --- thresholds --------------------------------------------------------------------------------
def test_relative_thresholds_are_multiples_of_the_base_rate():
    assert thresholds({"red": "2x", "amber": "1.25x"}, base_rate=0.08) == pytest.approx((0.16, 0.1))
    assert thresholds({"red": 0.3, "amber": "1.5x"}, base_rate=0.1) == pytest.approx((0.3, 0.15))
    assert thresholds({"red": 0.5, "amber": 0.25}) == (0.5, 0.25)  # no base rate needed
    assert thresholds({"red": "4x", "amber": "3x"}, base_rate=0.3) == (1.0, pytest.approx(0.9))
    with pytest.raises(ValueError, match="relative to the model's base rate"):
        thresholds({"red": "2x", "amber": 0.1})
    with pytest.raises(ValueError, match=r"amber < red.*red=0\.2, amber=0\.3"):
        thresholds({"red": "2x", "amber": 0.3}, base_rate=0.1)


def test_capacity_ties_are_broken_by_the_log_odds_not_by_row_order():
    p = np.array([0.2, 0.2, 0.2, 0.2, 0.1])  # a step of an isotonic calibration
    raw = np.array([-1.0, 0.5, -0.2, 0.9, 2.0])
    tiers = assign_tiers(p, tiers={"red": 0.5, "amber": 0.15}, capacity=2, tiebreak=raw)
    assert list(tiers) == ["amber", "red", "amber", "red", "green"]


# --- a low-base-rate book ------------------------------------------------------------------------
def test_relative_tiers_find_red_accounts_on_a_low_base_rate_book(low_base_rate_model, accounts):
    model = low_base_rate_model
    assert 0.05 < model.base_rate_ < 0.11
    p = model.predict_proba(accounts)[:, 1]
    old = score_frame(model, accounts, tiers={"red": 0.5, "amber": 0.25}).scores
    new = score_frame(model, accounts).scores  # the default: red 2x, amber 1.25x the base rate
    assert (old["tier"] == "red").sum() < 0.02 * len(accounts)
    red = new["tier"] == "red"
    assert red.sum() == (p >= 2 * model.base_rate_).sum() >= 0.05 * len(accounts)
    assert new.loc[red, "probability"].min() >= 2 * model.base_rate_
    assert (new.loc[~red, "probability"] < 2 * model.base_rate_).all()


def test_tiering_is_recorded_and_a_model_without_base_rate_is_warned(low_base_rate_model, accounts):
    import copy

    result = score_frame(low_base_rate_model, accounts)
    tiering = result.tiering
    assert (tiering["red"], tiering["amber"]) == ("2x", "1.25x")
    assert tiering["red_probability"] == pytest.approx(2 * low_base_rate_model.base_rate_)
    assert tiering["signal"] and result.warnings == []
    old = copy.copy(low_base_rate_model)
    del old.base_rate_  # saved before base rates were recorded
    with pytest.warns(UserWarning, match="records no base rate"):
        result = score_frame(old, accounts)
    mean = old.predict_proba(accounts)[:, 1].mean()
    assert result.tiering["base_rate"] == pytest.approx(mean)
    assert [w["kind"] for w in result.warnings] == ["base_rate_estimated"]


# --- no signal ---------------------------------------------------------------------------------
class _Stub:
    def __init__(self, info=None):
        self.training_info_ = info or {}


def test_no_signal_when_scores_barely_vary_or_the_test_interval_includes_chance():
    narrow = np.linspace(0.109, 0.115, 300)  # the probabilities of the weak model
    assert log_odds_spread(narrow)[0] < MIN_SPREAD
    warning = signal_warning(_Stub(), narrow, capacity=20)
    assert warning["kind"] == "no_signal" and warning["count"] == 300
    assert "between probabilities 0.110 and 0.114" in warning["message"]
    assert "the capacity of 20 is not applied" in warning["message"]
    wide = np.linspace(0.02, 0.6, 300)
    assert signal_warning(_Stub(), wide) is None
    assert signal_warning(_Stub(), narrow[:10]) is None  # too few accounts to judge the spread
    chance = {"test_roc_auc": 0.52, "test_roc_auc_low": 0.44, "test_roc_auc_high": 0.6}
    message = signal_warning(_Stub(chance), wide)["message"]
    assert "test ROC-AUC 0.520 (95 % interval 0.440–0.600) does not rule out chance" in message
    assert signal_warning(_Stub({**chance, "test_roc_auc_low": 0.51}), wide) is None


def test_scoring_without_signal_marks_no_account_red_even_by_capacity(low_base_rate_model, accounts):
    model = low_base_rate_model
    model.training_info_ = {"test_roc_auc": 0.5, "test_roc_auc_low": 0.45, "test_roc_auc_high": 0.55}
    try:
        with pytest.warns(UserWarning, match="no signal"):
            result = score_frame(model, accounts, capacity=20)
    finally:
        del model.training_info_
    assert not (result.scores["tier"] == "red").any()
    assert result.tiering["capacity_applied"] is False
    assert [w["kind"] for w in result.warnings] == ["no_signal"]


def test_accounts_scored_for_the_first_time_are_new_without_a_pattern(low_base_rate_model, accounts):
    scores = score_frame(low_base_rate_model, accounts, capacity=30).scores
    assert (scores["tier"] == "red").sum() == 30
    assert (scores["trend"] == "new").all() and scores["pattern"].isna().all()
    later = accounts.assign(as_of=pd.Timestamp("2025-07-01"))
    again = score_frame(low_base_rate_model, later, previous=scores, capacity=30).scores
    assert (again["trend"] == "steady").all() and again["pattern"].isna().all()
