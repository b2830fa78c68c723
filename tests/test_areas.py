"""Family-first explanations: risk by area, the sentences that carry each leading area, plays
from the areas (and pairs of them) with owners, and persona health.

The contributions are planted by hand (``explain_all`` takes precomputed values), so every
expected area, sentence and play follows from the rules of :mod:`churnml.explain.areas`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.explain.areas import AREA_REASON_COLUMNS, SUMMARY_COLUMNS, family_first
from churnml.explain.contributions import explain_all
from churnml.explain.personas import HEALTH_COLUMNS, persona_health
from churnml.features.catalog import load_catalog

NAMES = [
    "champion_left_90d", "no_executive_sponsor", "active_champions", "events_per_seat_90d",
    "tickets_90d", "days_to_renewal", "decision_maker_left_90d",
]  # fmt: skip
TYPICAL = {"events_per_seat_90d": 80.0, "days_to_renewal": 90.0, "tickets_90d": 4.0}
# account -> (indicator values, contributions) in NAMES order
ROWS = {
    # one cause (the champion left) split over three indicators, each below the usage driver
    "split": ([1, 1, 0, 20, 3, 100, 0], [0.35, 0.30, 0.25, 0.50, 0.0, -0.2, 0.0]),
    # support alone
    "support": ([0, 0, 2, 120, 12, 100, 0], [0.0, -0.05, -0.1, -0.2, 0.60, 0.0, 0.0]),
    # contract leads, but its only indicator is on the safe side: no sentence applies
    "contract": ([0, 0, 2, 120, 1, 200, 0], [0.0, 0.0, -0.1, -0.1, 0.0, 0.40, 0.0]),
    # nothing raises the risk much: explain_all's indicator drivers stay
    "quiet": ([0, 0, 2, 20, 1, 100, 0], [0.0, 0.0, 0.0, 0.03, 0.0, -0.1, 0.0]),
    # a second area too small beside the first
    "one_area": ([0, 1, 2, 60, 1, 100, 0], [0.0, 0.80, 0.0, 0.10, 0.0, 0.0, 0.0]),
}


class Booster:
    """A bare booster's interface: enough for explain_all with precomputed contributions."""

    typical_values_ = TYPICAL

    def feature_name(self):
        return list(NAMES)

    def predict(self, X):  # pragma: no cover - never called with precomputed values
        raise AssertionError("precomputed contributions are used")


@pytest.fixture(scope="module")
def planted():
    values = np.array([v for v, _ in ROWS.values()], dtype=float)
    features = pd.DataFrame(values, columns=NAMES)
    features.insert(0, "account_id", list(ROWS))
    features.insert(1, "as_of", pd.Timestamp("2026-07-01"))
    features["days_since_champion_left"] = [20.0, np.nan, np.nan, np.nan, np.nan]
    contributions = np.array([c for _, c in ROWS.values()], dtype=float)
    model, catalog = Booster(), load_catalog()
    explanation = explain_all(
        model, features, catalog=catalog, values=contributions, base_value=-2.0
    )
    areas = family_first(model, features, explanation, catalog=catalog)
    return features, explanation, areas


def _summary(areas, account):
    return areas.summary.iloc[list(ROWS).index(account)]


def test_areas_are_exact_family_sums_with_shares_and_ranks(planted):
    _, explanation, areas = planted
    fam = areas.families
    by_account = fam.groupby("account_id", sort=False)["contribution"].sum()
    np.testing.assert_allclose(by_account.to_numpy(), explanation.log_odds - explanation.base_value)
    split = fam[fam["account_id"] == "split"].set_index("family")
    assert split.loc["champion", "contribution"] == pytest.approx(0.90)
    assert split.loc["champion", "share"] == pytest.approx(0.90 / 1.40)
    assert split.loc["contract", "share"] != split.loc["contract", "share"]  # NaN: lowers risk
    assert list(split.sort_values("rank").index[:2]) == ["champion", "usage"]
    assert split.loc[["champion", "usage"], "leading"].all() and split["leading"].sum() == 2


def test_the_cause_split_over_correlated_indicators_leads_the_card(planted):
    _, explanation, areas = planted
    old = explanation.reasons.query("account_id == 'split' and kind == 'driver' and rank == 1")
    assert old["indicator"].item() == "events_per_seat_90d"  # one indicator outranks each part
    row = _summary(areas, "split")
    assert row["top_family"] == "champion"
    assert row["risk_areas"] == "Relationship 64%, Adoption 36%"
    drivers = areas.reasons.query("account_id == 'split' and kind == 'driver'")
    # the first sentence carries less than two thirds of its area: a second one follows
    assert drivers["indicator"].tolist() == [
        "champion_left_90d", "no_executive_sponsor", "events_per_seat_90d",
    ]  # fmt: skip
    assert drivers["area_rank"].tolist() == [1, 1, 2] and drivers["rank"].tolist() == [1, 2, 3]
    assert drivers["sentence"].iloc[0] == "The champion left 20 days ago"
    assert row["top_reasons"] == "\n".join(drivers["sentence"])
    codes = [row[f"reason_code_{k}"] for k in (1, 2, 3)]
    assert codes == drivers["indicator"].tolist()
    assert list(areas.reasons.columns) == AREA_REASON_COLUMNS
    assert list(areas.summary.columns) == SUMMARY_COLUMNS


def test_plays_come_from_the_pair_then_each_area_with_owners(planted):
    _, _, areas = planted
    row = _summary(areas, "split")
    assert row["plays"].split("\n") == [
        "Executive-sponsored relaunch: name a new champion and re-onboard the inactive teams",
        "Re-establish an executive sponsor",
        "Adoption workshop for inactive seats",
    ]
    assert row["play_owners"].split("\n") == [
        "Executive sponsor", "Executive sponsor", "Product specialist",
    ]  # fmt: skip
    assert row["play"] == row["plays"].split("\n")[0] and row["play_owner"] == "Executive sponsor"
    support = _summary(areas, "support")
    assert support["risk_areas"] == "Support friction 100%"
    assert support["top_reasons"] == "12 support tickets in the last 90 days"
    assert (support["play"], support["play_owner"]) == (
        "Support health check with the support lead", "Support lead",
    )  # fmt: skip


def test_a_second_area_leads_only_when_it_weighs_enough(planted):
    _, _, areas = planted
    row = _summary(areas, "one_area")
    assert row["risk_areas"] == "Relationship 89%" and row["top_reasons"] == "No executive sponsor"
    assert areas.families.query("account_id == 'one_area'")["leading"].sum() == 1


def test_a_leading_area_without_a_stateable_indicator_says_so(planted):
    _, _, areas = planted
    row = _summary(areas, "contract")
    assert row["top_family"] == "contract"
    assert row["top_reasons"] == "Days to renewal raises the risk"  # its sentence does not apply
    assert row["reason_code_1"] == "days_to_renewal"
    assert row["play"] == "Renewal planning call with the account owner"


def test_without_a_leading_area_the_indicator_drivers_stay(planted):
    _, explanation, areas = planted
    row = _summary(areas, "quiet")
    assert pd.isna(row["top_family"]) and pd.isna(row["risk_areas"])
    kept = explanation.reasons.query("account_id == 'quiet' and kind == 'driver'")
    shown = areas.reasons.query("account_id == 'quiet' and kind == 'driver'")
    assert shown["sentence"].tolist() == kept["sentence"].tolist() != []
    assert shown["area_rank"].isna().all()
    assert row["play"] == "Adoption workshop for inactive seats"
    protective = areas.reasons.query("kind == 'protective'")
    pd.testing.assert_frame_equal(
        protective[explanation.reasons.columns].reset_index(drop=True),
        explanation.reasons.query("kind == 'protective'").reset_index(drop=True),
    )


def test_persona_health_from_the_personas_indicators(planted):
    features, explanation, _ = planted
    health = persona_health(Booster(), features, explanation, catalog=load_catalog())
    columns = health.columns
    assert list(columns) == list(HEALTH_COLUMNS.values())
    by = columns.assign(account_id=list(ROWS)).set_index("account_id")
    # influencers: champion_left + active_champions = 0.60; decision makers: no sponsor 0.30
    assert by.loc["split", "influencer_health"] == "at risk"
    assert by.loc["split", "decision_maker_health"] == "at risk"
    assert by.loc["split", "user_health"] == "at risk"  # events per seat, 0.50
    assert by.loc["support", "user_health"] == "healthy"
    assert by.loc["quiet", "user_health"] == "healthy"  # 0.03: below watch
    assert by.loc["one_area", "decision_maker_health"] == "at risk"
    rows = health.personas
    assert rows.groupby("account_id", sort=False).size().eq(3).all()
    assert rows["persona"].tolist()[:3] == ["decision_maker", "influencer", "user"]
    split = rows[rows["account_id"] == "split"].set_index("persona")
    assert split.loc["influencer", "contribution"] == pytest.approx(0.60)
    assert split.loc["influencer", "sentence"] == "The champion left 20 days ago"
    assert split.loc["decision_maker", "sentence"] == "No executive sponsor"
    support = rows[rows["account_id"] == "support"].set_index("persona")
    # healthy users: the protective sentence of the usage that lowers risk
    assert support.loc["user", "health"] == "healthy"
    assert support.loc["user", "sentence"] == (
        "120 product events per licensed seat in the last 90 days"
    )


def test_a_generic_area_sentence_names_what_raises_it():
    from churnml.explain.areas import generic_sentence

    assert generic_sentence(["arr", "seats", "nps_latest_score"]) == (
        "ARR, seats and NPS latest score together raise the risk; none stands out alone"
    )


def test_watch_threshold_and_a_catalog_saved_before_personas():
    from dataclasses import replace

    from churnml.explain.personas import AT_RISK, WATCH, health_of, personas_of
    from churnml.features.catalog import Catalog

    assert health_of(np.array([AT_RISK, WATCH, WATCH - 1e-9, -1.0])).tolist() == [
        "at risk", "watch", "healthy", "healthy",
    ]  # fmt: skip
    catalog = load_catalog()
    old = Catalog([replace(catalog[n]) for n in NAMES])
    for entry in old:  # as unpickled from a model saved before the field existed
        object.__delattr__(entry, "persona")
    assert personas_of(old, NAMES).tolist() == personas_of(catalog, NAMES).tolist()
    assert personas_of(catalog, NAMES).tolist() == [
        "influencer", "decision_maker", "influencer", "user", None, None, "decision_maker",
    ]  # fmt: skip


@pytest.mark.parametrize("names", [
    ["champion_left_30d", "champion_left_90d", "no_executive_sponsor"],  # one template
    ["days_since_champion_left", "champion_left_90d", "no_executive_sponsor"],  # the same words
])
def test_two_indicators_stating_one_fact_give_one_sentence(names):
    """Two champion indicators render "The champion left 20 days ago"; the area's first driver
    carries less than two thirds of it, so its second sentence was the same words again."""

    class Flags(Booster):
        def feature_name(self):
            return list(names)

    features = pd.DataFrame({"account_id": ["left"], "as_of": pd.Timestamp("2026-07-01"),
                             "champion_left_30d": [1.0], "champion_left_90d": [1.0],
                             "no_executive_sponsor": [1.0], "days_since_champion_left": [20.0]})
    model, catalog = Flags(), load_catalog()
    explanation = explain_all(model, features[["account_id", "as_of", *names]], catalog=catalog,
                              values=np.array([[0.30, 0.35, 0.25]]), base_value=-2.0)
    drivers = family_first(model, features, explanation, catalog=catalog).reasons.query(
        "kind == 'driver'")
    assert drivers["sentence"].tolist().count("The champion left 20 days ago") == 1
    assert drivers["rank"].tolist() == list(range(1, len(drivers) + 1))


def test_explain_all_states_one_fact_once():
    """The indicator drivers (the card of an account without a leading area) too: the flag and
    the days since the champion left are one sentence, given once; the ranks close up."""
    names = ["days_since_champion_left", "champion_left_90d", "no_executive_sponsor"]

    class Flags(Booster):
        def feature_name(self):
            return list(names)

    features = pd.DataFrame({"account_id": ["left"], "as_of": pd.Timestamp("2026-07-01"),
                             "days_since_champion_left": [20.0], "champion_left_90d": [1.0],
                             "no_executive_sponsor": [1.0]})
    explanation = explain_all(Flags(), features, catalog=load_catalog(),
                              values=np.array([[0.30, 0.35, 0.25]]), base_value=-2.0)
    drivers = explanation.reasons.query("kind == 'driver'")
    assert drivers["sentence"].tolist().count("The champion left 20 days ago") == 1
    assert drivers["rank"].tolist() == list(range(1, len(drivers) + 1))
