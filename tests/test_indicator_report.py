"""The indicator report: coverage, oriented univariate AUC, churn rate by decile, leakage warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from churnml.features.catalog import Catalog, Indicator
from churnml.features.report import indicator_report


def _indicator(ind_id: str, family: str = "usage") -> Indicator:
    return Indicator(id=ind_id, family=family, shape="count_window", table="usage", window_days=30,
                     unit="", description=ind_id, risk_sentence=None, protective_sentence=None,
                     direction="up")


@pytest.fixture(scope="module")
def hand_made():
    """400 rows: ``rising`` raises churn, ``falling`` lowers it, ``noise`` and ``sparse`` are unrelated."""
    rng = np.random.default_rng(0)
    n = 400
    rising = rng.permutation(n).astype(float)
    churn = rng.random(n) < 0.05 + 0.5 * rising / n
    noise = rng.normal(size=n)
    frame = pd.DataFrame({
        "account_id": [f"A{i}" for i in range(n)],
        "as_of": pd.Timestamp("2025-01-01"),
        "rising": rising.astype("float32"),
        "falling": (-rising).astype("float32"),
        "noise": noise.astype("float32"),
        "sparse": np.where(np.arange(n) % 4 == 0, noise, np.nan).astype("float32"),
        "label": pd.array(churn.astype(int), dtype="Int8"),
    })
    frame.loc[:19, "label"] = pd.NA  # unresolved rows count for coverage only
    catalog = Catalog([_indicator(c) for c in ("rising", "falling", "noise", "sparse")])
    return frame, catalog


def test_auc_is_oriented_and_deciles_match_a_direct_count(hand_made):
    frame, catalog = hand_made
    report = indicator_report(frame, catalog=catalog).set_index("indicator")
    resolved = frame[frame["label"].notna()]
    y = resolved["label"].astype(int)
    assert report.loc["rising", "auc"] == pytest.approx(report.loc["falling", "auc"])
    assert report.loc["rising", "auc"] > 0.65 > report.loc["noise", "auc"] >= 0.5
    assert (report.loc["rising", "risk_when"], report.loc["falling", "risk_when"]) == ("high", "low")
    # decile k holds the k-th tenth of resolved rows ordered by value (no ties here)
    order = resolved["rising"].rank(method="first").to_numpy()
    bins = np.ceil(order / len(order) * 10).astype(int)
    expected = y.groupby(bins).mean()
    for k in range(1, 11):
        assert report.loc["rising", f"decile_{k}"] == pytest.approx(expected[k])
    assert report.loc["rising", "decile_10"] > report.loc["rising", "decile_1"]
    assert report.loc["rising", "churn_rate"] == pytest.approx(y.mean())
    assert report.loc["sparse", "coverage"] == pytest.approx(0.25)
    assert report.index[0] in ("rising", "falling") and not report["leakage"].any()


def test_top_keeps_the_strongest(hand_made):
    frame, catalog = hand_made
    top = indicator_report(frame, catalog=catalog, top=2)
    assert len(top) == 2 and set(top["indicator"]) == {"rising", "falling"}


def test_label_can_come_from_the_spine(hand_made):
    frame, catalog = hand_made
    report = indicator_report(frame.drop(columns="label"), frame[["account_id", "label"]],
                              catalog=catalog)
    assert set(report["indicator"]) == {"rising", "falling", "noise", "sparse"}
    with pytest.raises(ValueError, match="needs a 'label' column"):
        indicator_report(frame.drop(columns="label"), catalog=catalog)


def test_a_label_copy_raises_a_leakage_warning_naming_it(hand_made):
    frame, catalog = hand_made
    leaky = frame.assign(copy=frame["label"].astype("float32"))
    catalog = Catalog([*catalog, _indicator("copy")])
    with pytest.warns(UserWarning, match="indicator copy separates churned from retained rows"):
        report = indicator_report(leaky, catalog=catalog)
    assert report.set_index("indicator").loc["copy", "leakage"]
    assert report["leakage"].sum() == 1


def test_demo_data_shows_the_planted_signals_and_no_leakage(features_small):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leakage warning would fail the test
        report = indicator_report(features_small)
    report = report.set_index("indicator")
    assert not report["leakage"].any() and (report["coverage"] > 0).all()
    # champion loss: the flagged decile churns more than the overall rate
    champion = report.loc["champion_left_90d"]
    # (one of six churn drivers in the world, so a milder lift than when one health drove all)
    assert champion["risk_when"] == "high" and champion["decile_10"] > champion["churn_rate"]
    # usage decline: the lowest decile of the strongest usage change churns far more than the top
    usage = report[(report["family"] == "usage") & report.index.str.contains("change")]
    gap = (usage["decile_1"] - usage["decile_10"]).max()
    assert gap > 0.1, usage[["auc", "decile_1", "decile_10"]]
    # the usage family as a whole carries signal
    assert report.loc[report["family"] == "usage", "auc"].max() > 0.6  # one driver of six
