"""Capacity per CSM: each CSM's book ranked by expected ARR at risk and cut at their capacity;
the config keys and the plays file that go with the cards."""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.scoring.capacity import books_settings, rank_books

AS_OF = pd.Timestamp("2026-07-01")


def book() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e", "f", "g"],
            "as_of": [AS_OF] * 6 + [AS_OF - pd.DateOffset(months=1)],
            "csm": pd.array(["Ann", "Ann", "Ann", "Bo", None, "Ann", "Ann"], dtype="string"),
            "probability": [0.5, 0.2, 0.9, 0.1, 0.3, 0.05, 0.99],
            "arr": [100.0, 400.0, 10.0, 50.0, 20.0, float("nan"), 1000.0],
            "top_family": pd.array(["usage", "contract", "usage", None, "nps", "usage", "usage"],
                                   dtype="string"),
        }
    )  # fmt: skip


def test_each_csm_book_per_as_of_is_ranked_by_expected_arr_at_risk():
    ranked = rank_books(book(), capacity_per_csm=2).set_index("account_id")
    # Ann on 1 Jul: b 80, a 50, c 9, f unknown ARR last; g is another scoring date
    assert ranked.loc[["b", "a", "c", "f"], "csm_rank"].tolist() == [1, 2, 3, 4]
    assert ranked.loc[["b", "a", "c", "f"], "csm_focus"].tolist() == [True, True, False, False]
    assert ranked.loc["g", "csm_rank"] == 1 and ranked.loc["d", "csm_rank"] == 1
    assert ranked.loc["e", "csm_rank"] == 1  # no CSM: a book of its own
    assert ranked.loc["b", "expected_arr_at_risk"] == pytest.approx(80.0)
    assert list(rank_books(book())["account_id"]) == list(book()["account_id"])  # row order kept


def test_saveability_discounts_the_leading_area():
    ranked = rank_books(book(), capacity_per_csm=1, saveability={"contract": 0.25})
    ranked = ranked.set_index("account_id")
    assert ranked.loc["b", "expected_arr_at_risk"] == pytest.approx(20.0)
    assert ranked.loc[["a", "b"], "csm_rank"].tolist() == [1, 2]
    assert ranked.loc["a", "csm_focus"] and not ranked.loc["b", "csm_focus"]
    # a report ranking the book again keeps the scored expected ARR at risk
    again = rank_books(ranked.reset_index().drop(columns="top_family"), rescored=False)
    assert again.set_index("account_id").loc[["a", "b"], "csm_rank"].tolist() == [1, 2]


def test_capacity_must_be_a_positive_whole_number_and_comes_from_the_config():
    with pytest.raises(ValueError, match="capacity_per_csm=0"):
        rank_books(book(), capacity_per_csm=0)

    class Model:
        config_ = None

    assert books_settings(Model()) == {"capacity_per_csm": 5, "saveability": {}}
    from churnml.model.config import load_config

    Model.config_ = load_config(capacity_per_csm=3, saveability={"usage": 0.5})
    assert books_settings(Model()) == {"capacity_per_csm": 3, "saveability": {"usage": 0.5}}
    assert books_settings(Model(), 7)["capacity_per_csm"] == 7


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"capacity_per_csm": 0}, "capacity_per_csm must be an integer of at least 1"),
        ({"saveability": {"billing": 0.5}}, "saveability.billing must be a family"),
        ({"saveability": {"usage": 1.5}}, r"saveability.usage must be a number in \[0.0, 1.0\]"),
        ({"saveability": [0.5]}, "saveability must be a mapping"),
    ],
)
def test_config_keys_are_checked_showing_the_bad_value(overrides, message):
    from churnml.model.config import load_config

    with pytest.raises(ValueError, match=message):
        load_config(**overrides)


def test_plays_file_owners_pairs_and_old_plain_entries(tmp_path):
    import pickle

    from churnml.explain.plays import Plays, load_plays

    plays = load_plays()
    pair = plays.pair_for("usage", "champion")
    assert pair == plays.pair_for("champion", "usage") and pair.owner == "Executive sponsor"
    assert plays.pair_for("contract", "usage") is None
    assert pickle.loads(pickle.dumps(pair)).owner == "Executive sponsor"
    old = Plays({"usage": "Adoption call"}, {"tickets_*": "Call support"})  # plain texts: the CSM
    assert old.play_for("tickets_30d", "support").owner == "CSM"
    custom = tmp_path / "plays.yaml"
    custom.write_text(
        "owners: {am: Account manager}\n"
        "families: {contract: {play: Price review, owner: am}}\n"
        "pairs: {contract+usage: {play: Right-size the plan, owner: am}}\n"
    )
    mine = load_plays(custom)
    assert mine.play_for("days_to_renewal", "contract").owner == "Account manager"
    assert mine.pair_for("usage", "contract") == "Right-size the plan"
    bad = {
        "families: {usage: {play: X, owner: cfo}}\n": "owner 'cfo'",
        "pairs: {usage+usage: X}\n": "two different families",
        "pairs: {usage+billing: X}\n": "two different families",
        "families: {usage: {play: X, who: csm}}\n": r"unknown keys \['who'\]",
        "owners: {csm: ''}\n": "non-empty label",
    }
    for text, message in bad.items():
        custom.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_plays(custom)
