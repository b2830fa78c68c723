"""Notebook plots draw exactly the numbers the pipeline returned."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from churnml.viz import plot_account_waterfall, plot_leading_indicators
from churnml.viz.indicators import leading_indicator_table


def test_leading_indicator_table_buckets_whole_months_and_averages_by_outcome():
    features = pd.DataFrame({
        "days_to_renewal": [1, 30, 31, 60, 180, 175, 10],
        "label": [1, 1, 0, 0, 1, 0, None],
        "tickets_90d": [4.0, 2.0, 1.0, 3.0, 5.0, 0.0, 99.0],
    })
    table = leading_indicator_table(features, ["tickets_90d", "not_there"]).set_index(
        ["months_to_renewal", "outcome"]
    )
    assert table.loc[(0, "churned"), "mean"] == 3.0 and table.loc[(0, "churned"), "n"] == 2
    assert table.loc[(1, "renewed"), "mean"] == 2.0
    assert table.loc[(5, "churned"), "mean"] == 5.0 and table.loc[(5, "renewed"), "mean"] == 0.0
    assert 99.0 not in table["mean"].to_numpy()  # unresolved rows are left out
    fig = plot_leading_indicators(features, ["tickets_90d"])
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["tickets_90d"]


def test_waterfall_goes_from_the_base_rate_to_the_account_through_its_drivers():
    scores = pd.DataFrame({"account_id": ["A1"], "name": ["Acme"], "score": [71], "tier": ["red"],
                           "base_value": [-1.5], "log_odds": [0.9]})
    explanations = pd.DataFrame({"account_id": ["A1", "A1", "A1"],
                                 "indicator": ["tickets_90d", "champion_left_90d", "seats"],
                                 "contribution": [0.4, 1.2, -0.3]})
    fig = plot_account_waterfall(scores, explanations, "A1")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["average account", "champion_left_90d", "tickets_90d", "seats",
                      "all other indicators", "this account"]
    bars = ax.patches
    assert bars[0].get_width() == pytest.approx(-1.5)  # the base rate
    steps = [b.get_width() for b in bars[1:-1]]
    assert steps == pytest.approx([1.2, 0.4, -0.3, 0.9 - (-1.5) - 1.3])
    ends = -1.5 + np.cumsum(steps)
    assert [b.get_x() + b.get_width() for b in bars[1:-1]] == pytest.approx(ends.tolist())
    assert bars[-1].get_width() == pytest.approx(0.9)  # this account's log-odds
    with pytest.raises(KeyError, match="B9"):
        plot_account_waterfall(scores, explanations, "B9")
    # a leading area without an indicator sentence (no indicator) is not an indicator bar
    generic = pd.DataFrame({"account_id": ["A1"], "indicator": [None], "contribution": [2.0]})
    again = plot_account_waterfall(scores, pd.concat([explanations, generic]), "A1")
    assert [t.get_text() for t in again.axes[0].get_yticklabels()] == labels


def test_area_waterfall_steps_through_the_families():
    scores = pd.DataFrame({"account_id": ["A1"], "score": [71], "tier": ["red"],
                           "base_value": [-1.5], "log_odds": [0.9]})  # fmt: skip
    families = pd.DataFrame({"account_id": "A1", "family": ["usage", "champion", "contract"],
                             "contribution": [0.9, 1.8, -0.3]})  # fmt: skip
    fig = plot_account_waterfall(scores, None, "A1", families=families)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["average account", "Relationship", "Adoption", "Contract",
                      "not in any area", "this account"]  # fmt: skip
    assert [b.get_width() for b in ax.patches[1:-1]] == pytest.approx([1.8, 0.9, -0.3, 0.0])


def test_shap_summary_shows_the_strongest_indicator_on_top():
    from churnml.model.estimator import ChurnModel
    from churnml.viz import plot_shap_summary

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"strong": rng.normal(size=600), "weak": rng.normal(size=600),
                      "noise": rng.normal(size=600)})
    y = (rng.random(600) < 1 / (1 + np.exp(-(2.5 * X.strong + 0.5 * X.weak)))).astype(int)
    model = ChurnModel(n_estimators=80).fit(X, y)
    fig = plot_shap_summary(model, X, max_features=2)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 2 and labels[-1] == "strong"  # max_features kept, strongest on top
