"""The champion gate's checks and the bootstrap interval of ROC-AUC they rest on."""

from __future__ import annotations

import numpy as np
import pytest

from churnml.model.bootstrap import _weighted_aucs, auc_interval
from churnml.model.evaluation import evaluate
from churnml.model.gate import decide


def _scores(n=600, strength=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    return y, strength * y + rng.normal(0, 1, n), rng


# --- bootstrap ---------------------------------------------------------------------------------
def test_weighted_auc_matches_sklearn_with_ties_and_weights():
    from sklearn.metrics import roc_auc_score

    y, p, rng = _scores()
    p = np.round(p, 1)  # many ties
    order = np.argsort(p, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(p[order]) != 0])
    weights = rng.integers(0, 4, size=(5, len(y))).astype(float)
    got = _weighted_aucs(weights[:, order], y[order].astype(float), starts)
    expected = [roc_auc_score(y, p, sample_weight=w) for w in weights]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_interval_is_seeded_and_covers_the_auc():
    from sklearn.metrics import roc_auc_score

    y, p, _ = _scores(strength=0.8)
    low, high = auc_interval(y, p, seed=1)
    assert (low, high) == auc_interval(y, p, seed=1)
    assert auc_interval(y, p, seed=2) != (low, high)
    assert low < roc_auc_score(y, p) < high and high - low < 0.15


def test_noise_interval_includes_chance_and_signal_interval_does_not():
    y, noise, _ = _scores(strength=0.0, seed=3)
    low, high = auc_interval(y, noise)
    assert low < 0.5 < high
    y, signal, _ = _scores(strength=0.6, seed=3)
    assert auc_interval(y, signal)[0] > 0.5


def test_resampling_accounts_widens_the_interval_of_repeated_snapshots():
    """Each account appears at four as_of dates with the same outcome: resampling rows treats them
    as four independent accounts and understates the uncertainty."""
    y, p, rng = _scores(n=150, strength=0.8, seed=4)
    rows = np.tile(np.arange(150), 4)
    y4, p4 = y[rows], p[rows] + rng.normal(0, 0.05, len(rows))
    by_row = np.subtract(*auc_interval(y4, p4)[::-1])
    by_account = np.subtract(*auc_interval(y4, p4, clusters=rows)[::-1])
    assert by_account > 1.5 * by_row


def test_one_class_gives_nan_and_bad_input_is_named():
    assert all(np.isnan(auc_interval(np.zeros(10), np.arange(10.0))))
    with pytest.raises(ValueError, match="equal length"):
        auc_interval([0, 1], [0.1])
    with pytest.raises(ValueError, match="level=1.5"):
        auc_interval([0, 1], [0.1, 0.2], level=1.5)


# --- gate --------------------------------------------------------------------------------------
def _evaluation(model, logistic, health, seed=0):
    y, _, rng = _scores(n=800, seed=seed)
    noise = lambda s: s * y + rng.normal(0, 1, len(y))
    return evaluate(y, {"model": noise(model), "logistic": noise(logistic),
                        "health_score": noise(health)})  # fmt: skip


def test_a_model_ahead_of_everything_is_promoted_and_says_what_it_beat():
    ev = _evaluation(1.5, 0.5, 0.3)
    decision = decide(ev, (0.8, 0.9), (True, "no champion yet"))
    assert decision.promote
    assert decision.reason.startswith("no champion yet; above chance (test ROC-AUC")
    assert "beats logistic on ROC-AUC" in decision.reason and "PR-AUC" in decision.reason
    assert list(decision.table()["check"]) == [
        "above_chance", "beats_logistic", "beats_health_score", "beats_champion"
    ]  # fmt: skip


def test_losing_to_logistic_names_the_baseline_and_the_figures():
    ev = _evaluation(0.5, 1.5, 0.2)
    decision = decide(ev, (0.55, 0.7))
    assert not decision.promote
    roc = ev.metric("model", "roc_auc"), ev.metric("logistic", "roc_auc")
    assert decision.reason.startswith(
        f"does not beat logistic on ROC-AUC ({roc[0]:.3f} vs {roc[1]:.3f}) and PR-AUC ("
    )
    assert "health_score" not in decision.reason


def test_a_model_must_beat_a_baseline_on_pr_auc_too():
    ev = _evaluation(1.0, 0.9, 0.0)
    metrics = ev.metrics
    at = (metrics.model == "logistic") & (metrics.metric == "pr_auc") & (metrics.segment == "all")
    metrics.loc[at, "value"] = ev.metric("model", "pr_auc") + 0.01
    decision = decide(ev, (0.6, 0.8))
    assert not decision.promote
    assert decision.reason.startswith("does not beat logistic on PR-AUC (")
    assert "ROC-AUC" not in decision.reason.split(";")[0]


def test_chance_blockers_and_champion_all_count():
    ev = _evaluation(1.5, 0.5, 0.3)
    decision = decide(ev, (0.49, 0.7), (False, "does not beat the champion: ..."),
                      blockers=["probable leak: days_to_renewal"])  # fmt: skip
    assert not decision.promote
    parts = decision.reason.split("; ")
    assert parts[0] == "probable leak: days_to_renewal"
    assert parts[1].startswith("not clearly above chance") and "0.490–0.700" in parts[1]
    assert parts[2] == "does not beat the champion: ..."
    assert not decide(ev, None).promote  # no interval: not shown to be above chance
