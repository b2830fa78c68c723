"""What changed since the last score: the change in points, the indicators that moved it, and
the contribution history kept beside ``--out``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.explain.changes import (
    CHANGE_COLUMNS,
    KEEP_CONTRIBUTION,
    KEEP_RUNS,
    contribution_rows,
    read_contributions,
    update_contributions,
    what_changed,
)
from churnml.features.catalog import load_catalog

BEFORE, NOW = pd.Timestamp("2026-06-01"), pd.Timestamp("2026-07-01")
TYPICAL = {"tickets_30d": 2.0, "events_per_seat_90d": 80.0}


def _rows(as_of, rows):
    return pd.DataFrame(
        [(a, as_of, i, v, c) for a, i, v, c in rows],
        columns=["account_id", "as_of", "indicator", "value", "contribution"],
    ).astype({"account_id": "string", "indicator": "string"})


PREVIOUS = _rows(BEFORE, [
    ("up", "tickets_30d", 2, 0.1), ("up", "events_per_seat_90d", 80, -0.2),
    ("steady", "tickets_30d", 1, -0.1),
    ("down", "events_per_seat_90d", 80, -0.2), ("down", "arr", 5000, 0.1),
    ("odd", "active_users_prev_30d", 50, 0.0005),  # below what the history keeps: absent
    ("odd", "tickets_30d", 1, -0.1),
])  # fmt: skip
CURRENT = _rows(NOW, [
    ("up", "champion_left_30d", 1, 0.6), ("up", "tickets_30d", 6, 0.3),
    ("up", "events_per_seat_90d", 80, -0.2),
    ("steady", "tickets_30d", 1, -0.1),
    ("down", "events_per_seat_90d", 150, -0.6),
    ("down", "arr", 5000, 0.0),  # moved only through the others: its value stayed the same
    ("odd", "active_users_prev_30d", 20, 0.3), ("odd", "tickets_30d", 1, -0.1),
    ("new", "tickets_30d", 9, 0.5),
])  # fmt: skip
SCORES = {"up": (40, 60), "steady": (20, 20), "down": (30, 20), "odd": (10, 16), "new": (None, 50)}


@pytest.fixture(scope="module")
def changes():
    accounts = list(SCORES)
    now = pd.DataFrame(
        {
            "account_id": accounts,
            "as_of": NOW,
            "score": [s[1] for s in SCORES.values()],
            "probability": [s[1] / 100 for s in SCORES.values()],
        }
    )
    runs = pd.DataFrame(
        [(a, BEFORE, s[0]) for a, s in SCORES.items() if s[0] is not None]
        + [("up", NOW - pd.DateOffset(months=3), 5)],  # an older run is not the previous one
        columns=["account_id", "as_of", "score"],
    )
    features = pd.DataFrame(
        {"account_id": accounts, "as_of": NOW, "days_since_champion_left": 12.0,
         "tickets_30d": [6, 1, 1, 1, 9], "events_per_seat_90d": [80, 80, 150, 80, 80],
         "champion_left_30d": [1, 0, 0, 0, 0], "active_users_prev_30d": [30, 30, 30, 20, 30]}
    )  # fmt: skip
    history = PREVIOUS[PREVIOUS["contribution"].abs() >= KEEP_CONTRIBUTION]
    return what_changed(
        now, CURRENT, history, runs, features=features, catalog=load_catalog(), typical=TYPICAL
    )


def _column(changes, name):
    return dict(zip(SCORES, changes.columns[name].tolist()))


def test_the_change_in_points_and_the_indicators_that_moved_it(changes):
    summary = _column(changes, "change_summary")
    assert summary["up"] == (
        "Risk up 20 points since 1 Jun 2026: The champion left 12 days ago (+15); "
        "6 support tickets in the last 30 days (+5)"
    )
    assert summary["steady"] == "Risk unchanged since 1 Jun 2026"
    # risk fell: the mover that lowered it is stated by its protective sentence
    assert summary["down"] == (
        "Risk down 10 points since 1 Jun 2026: "
        "150 product events per licensed seat in the last 90 days (-8)"
    )
    # no sentence for this indicator, and its value then too small a contribution to keep
    assert summary["odd"] == (
        "Risk up 6 points since 1 Jun 2026: Active users (31–60 days ago): now 20 (+6)"
    )
    assert pd.isna(summary["new"])
    change = _column(changes, "score_change")
    assert [change[a] for a in ("up", "steady", "down", "odd")] == [20, 0, -10, 6]
    assert pd.isna(change["new"])
    since = _column(changes, "changed_since")
    assert since["up"] == BEFORE and pd.isna(since["new"])


def test_a_derived_indicator_speaks_for_its_parts_and_values_read_in_their_unit():
    before = _rows(BEFORE, [
        ("a", "champion_events_30d", 16, 0.0), ("a", "champion_usage_change_30d", 0.1, 0.0),
        ("a", "tickets_30d", 1, 0.0), ("a", "escalations_30d", 0, 0.0),
        ("b", "champion_left_30d", 1, 0.6), ("b", "license_utilization_30d", 0.27, 0.1),
        ("c", "champion_left_30d", 0, 0.0),
    ])  # fmt: skip
    now = _rows(NOW, [
        ("a", "champion_events_30d", 0, 0.5), ("a", "champion_usage_change_30d", -1.0, 0.05),
        ("a", "tickets_30d", 6, 0.2), ("a", "escalations_30d", 2, 0.15),
        ("b", "champion_left_30d", 0, 0.0), ("b", "license_utilization_30d", 0.45, -0.2),
        ("c", "champion_left_30d", 1, 0.4), ("c", "days_since_champion_left", 20, 0.3),
    ])  # fmt: skip
    scores = pd.DataFrame({"account_id": ["a", "b", "c"], "as_of": NOW, "score": [60, 30, 40],
                           "probability": [0.6, 0.3, 0.4]})  # fmt: skip
    runs = pd.DataFrame({"account_id": ["a", "b", "c"], "as_of": BEFORE, "score": [30, 50, 20]})
    features = pd.DataFrame({"account_id": ["a", "b", "c"], "as_of": NOW,
                             "champion_events_30d": [0, 9, 9],
                             "champion_usage_change_30d": [-1.0, 0, 0],
                             "champion_left_30d": [0, 0, 1],
                             "days_since_champion_left": [None, None, 20],
                             "license_utilization_30d": [0.5, 0.45, 0.5]})  # fmt: skip
    changes = what_changed(scores, now, before, runs, features=features, catalog=load_catalog(),
                           typical={"license_utilization_30d": 0.6})  # fmt: skip
    summary = changes.columns["change_summary"].tolist()
    movers = changes.movers.set_index(["account_id", "indicator"])["points"]
    # the champion's events 16 -> 0 moved the score most; the change of the champion's usage,
    # derived from them, moved it least, but says the same in a sentence: it takes the events'
    # points and place (one line for one fact, and the biggest move is not lost)
    assert summary[0].startswith(
        "Risk up 30 points since 1 Jun 2026: "
        "The champion's own usage fell 100% in the last 30 days (+"
    )
    assert "champion_events_30d" not in changes.movers["indicator"].tolist()
    a = changes.movers[changes.movers["account_id"] == "a"]
    assert a["indicator"].tolist() == ["champion_usage_change_30d", "tickets_30d"]
    assert a["points"].iloc[0] > a["points"].iloc[1]
    # no sentence applies (a flag that cleared, a share still below the typical 60%): the
    # indicator with its window, a flag as yes / no, a share as a percentage
    assert summary[1] == (
        "Risk down 20 points since 1 Jun 2026: Champion left (last 30 days): yes → no (-13); "
        "License utilization (last 30 days): 27% → 45% (-7)"
    )
    # the departure raised the risk through its flag and its days since: one sentence, once
    assert summary[2].startswith(
        "Risk up 20 points since 1 Jun 2026: The champion left 20 days ago (+"
    )
    assert summary[2].count("The champion left") == 1
    third = changes.movers[changes.movers["account_id"] == "c"]
    assert third["indicator"].tolist() == ["champion_left_30d"] and third["rank"].tolist() == [1]
    # the points stay with the line that states them: the champion's usage carries the
    # events' share of the 30 points (0.5 + 0.05 of 0.9 log-odds), the departure all 20
    assert movers["a"]["champion_usage_change_30d"] == pytest.approx(30 * 0.55 / 0.9)
    assert movers["c"]["champion_left_30d"] == pytest.approx(20)


def test_movers_frame_adds_up_to_the_change(changes):
    movers = changes.movers
    assert list(movers.columns) == CHANGE_COLUMNS
    up = movers[movers["account_id"] == "up"]
    assert up["indicator"].tolist() == ["champion_left_30d", "tickets_30d"]
    assert up["rank"].tolist() == [1, 2] and up["family"].tolist() == ["champion", "support"]
    np.testing.assert_allclose(up["points"].sum(), 20.0)
    np.testing.assert_allclose(up["contribution_change"], [0.6, 0.2], atol=1e-6)
    assert up["previous_value"].isna().tolist() == [True, False]
    assert set(movers["account_id"]) == {"up", "down", "odd"}


def test_a_previous_run_without_contribution_rows_has_no_movers():
    # "gone" was scored on BEFORE, but that run's contributions are not in the history (pruned,
    # or scored by a version that did not keep them): its score change is stated, no movers;
    # "up" shows the history still pairs the rows that have it
    now = pd.DataFrame({"account_id": ["up", "gone"], "as_of": NOW, "score": [60, 70],
                        "probability": [0.6, 0.7]})  # fmt: skip
    runs = pd.DataFrame({"account_id": ["up", "gone"], "as_of": BEFORE, "score": [40, 30]})
    current = pd.concat([CURRENT[CURRENT["account_id"] == "up"],
                         _rows(NOW, [("gone", "tickets_30d", 9, 0.9)])], ignore_index=True)
    features = pd.DataFrame({"account_id": ["up", "gone"], "as_of": NOW,
                             "days_since_champion_left": 12.0, "tickets_30d": [6, 9],
                             "events_per_seat_90d": 80, "champion_left_30d": [1, 0]})
    changes = what_changed(now, current, PREVIOUS, runs, features=features,
                           catalog=load_catalog(), typical=TYPICAL)  # fmt: skip
    summary = changes.columns["change_summary"].tolist()
    assert summary[1] == "Risk up 40 points since 1 Jun 2026"
    assert changes.columns["score_change"].tolist() == [20, 40]
    assert summary[0].startswith("Risk up 20 points since 1 Jun 2026: The champion left")
    assert set(changes.movers["account_id"]) == {"up"}


def test_todays_value_comes_from_the_features_and_unknown_twice_is_no_move():
    # "calm": tickets fell from 31 to 5, and today's contribution is too small to be kept: the
    # value is read from the features, not "unknown"; its segment (a category: no value in the
    # history) moved the score only through the others
    now = pd.DataFrame({"account_id": ["calm"], "as_of": NOW, "score": [20], "probability": 0.2})
    runs = pd.DataFrame({"account_id": ["calm"], "as_of": BEFORE, "score": [45]})
    history = _rows(BEFORE, [("calm", "tickets_30d", 31, 0.9), ("calm", "segment", None, 0.3)])
    current = _rows(NOW, [("calm", "segment", None, -0.3)])
    features = pd.DataFrame({"account_id": ["calm"], "as_of": NOW, "tickets_30d": [5.0],
                             "segment": pd.Categorical(["smb"])})  # fmt: skip
    changes = what_changed(now, current, history, runs, features=features,
                           catalog=load_catalog(), typical=TYPICAL)  # fmt: skip
    movers = changes.movers
    assert movers["indicator"].tolist() == ["tickets_30d"]
    assert movers["value"].tolist() == [5.0] and movers["previous_value"].tolist() == [31.0]
    assert "unknown" not in changes.columns["change_summary"].iloc[0]
    assert "31 → 5" in changes.columns["change_summary"].iloc[0]


def test_a_value_missing_today_still_moves_and_a_repeated_row_borrows_no_value():
    # "gone": its ticket feed stopped (missing today) and that added risk; the previous run did
    # not keep tickets (too small a contribution then), so it may have changed: it is stated
    now = pd.DataFrame({"account_id": ["gone"], "as_of": NOW, "score": [60], "probability": 0.6})
    runs = pd.DataFrame({"account_id": ["gone"], "as_of": BEFORE, "score": [40]})
    history = _rows(BEFORE, [("gone", "arr", 5000, 0.1)])
    current = _rows(NOW, [("gone", "arr", 5000, 0.1), ("gone", "tickets_30d", None, 0.8)])
    features = pd.DataFrame({"account_id": ["gone"], "as_of": NOW, "tickets_30d": [np.nan],
                             "arr": 5000.0})  # fmt: skip
    changes = what_changed(now, current, history, runs, features=features,
                           catalog=load_catalog(), typical=TYPICAL)  # fmt: skip
    assert changes.columns["change_summary"].iloc[0] == (
        "Risk up 20 points since 1 Jun 2026: Tickets (last 30 days): now unknown (+20)"
    )
    # the same (account, as_of) twice in the features: neither row takes the other's value
    now = pd.DataFrame({"account_id": ["a", "a"], "as_of": NOW, "score": [20, 25],
                        "probability": [0.2, 0.25]})  # fmt: skip
    runs = pd.DataFrame({"account_id": ["a"], "as_of": BEFORE, "score": [45]})
    history = _rows(BEFORE, [("a", "tickets_30d", 31, 0.9)])
    current = _rows(NOW, [("a", "arr", 10, 0.01)] * 2)
    features = pd.DataFrame({"account_id": ["a", "a"], "as_of": NOW, "tickets_30d": [5.0, 7.0],
                             "arr": 10.0})  # fmt: skip
    changes = what_changed(now, current, history, runs, features=features,
                           catalog=load_catalog(), typical=TYPICAL)  # fmt: skip
    assert changes.movers["value"].isna().all()
    assert not changes.columns["change_summary"].str.contains("→ 5").any()


def test_a_missing_value_reads_in_the_catalogs_words():
    # the oldest open ticket had waited 12 days; now none is open (a missing value, which the
    # catalog words "none open"), and no sentence applies to a missing value
    now = pd.DataFrame({"account_id": ["x"], "as_of": NOW, "score": [50], "probability": 0.5})
    runs = pd.DataFrame({"account_id": ["x"], "as_of": BEFORE, "score": [40]})
    history = _rows(BEFORE, [("x", "oldest_open_ticket_days", 12, 0.1)])
    current = _rows(NOW, [("x", "oldest_open_ticket_days", None, 0.5)])
    features = pd.DataFrame({"account_id": ["x"], "as_of": NOW,
                             "oldest_open_ticket_days": [np.nan]})  # fmt: skip
    changes = what_changed(now, current, history, runs, features=features,
                           catalog=load_catalog(), typical=TYPICAL)  # fmt: skip
    assert changes.columns["change_summary"].iloc[0] == (
        "Risk up 10 points since 1 Jun 2026: Oldest open ticket days: 12 → none open (+10)"
    )


def test_contribution_history_keeps_recent_runs_and_replaces_a_rescored_date(tmp_path):
    from churnml.explain.changes import contributions_path

    history = None
    dates = pd.date_range("2025-01-01", periods=KEEP_RUNS + 2, freq="MS")
    for i, as_of in enumerate(dates):
        history = update_contributions(history, _rows(as_of, [("a", "tickets_30d", i, 0.1 * i)]))
    assert sorted(history["as_of"].unique()) == list(dates[-KEEP_RUNS:])
    again = update_contributions(history, _rows(dates[-1], [("a", "events_30d", 5, 0.2)]))
    last = again[again["as_of"] == dates[-1]]
    assert last["indicator"].tolist() == ["events_30d"]  # the older rows of that run are gone
    path = contributions_path(tmp_path / "scores.parquet")
    assert path.name == "scores_runs_contributions.parquet"
    assert read_contributions(path).empty
    again.to_parquet(path)
    pd.testing.assert_frame_equal(read_contributions(path), again)


def test_contribution_rows_keep_what_matters_with_values():
    features = pd.DataFrame(
        {"account_id": ["a", "b"], "as_of": NOW, "tickets_30d": [3.0, 0.0],
         "segment": pd.Categorical(["smb", "enterprise"])}
    )  # fmt: skip
    contributions = pd.DataFrame({"tickets_30d": [0.2, 0.001], "segment": [-0.05, 0.3]})
    rows = contribution_rows(features, contributions)
    assert rows[["account_id", "indicator"]].values.tolist() == [
        ["a", "tickets_30d"], ["a", "segment"], ["b", "segment"],
    ]  # fmt: skip
    assert rows["value"].iloc[0] == 3.0 and rows["value"].iloc[1:].isna().all()
    # the values explain_all gathered are used as given, not gathered again
    given = np.array([[7.0, np.nan], [0.0, np.nan]])
    reused = contribution_rows(features, contributions, values=given)
    assert reused["value"].tolist()[0] == 7.0
    pd.testing.assert_frame_equal(reused.drop(columns="value"), rows.drop(columns="value"))
    with pytest.raises(ValueError, match="shape"):
        contribution_rows(features, contributions, values=given[:1])


def test_the_outer_merge_of_two_runs_is_pandas_merge():
    """The (row, indicator) outer merge on one int64 key gives pandas' merge frame: unique keys
    (the grid), repeated keys (pandas pairs them up), float and integer values, an empty side."""
    from churnml.explain.outer_merge import outer_by_row_and_indicator

    rng = np.random.default_rng(0)
    names = np.array(["tickets_30d", "arr", "nps", "seats", "zeta"], dtype=object)

    def side(n, dtype):
        rows = np.sort(rng.integers(0, 40, n))
        frame = pd.DataFrame({"_row": rows, "indicator": pd.array(rng.choice(names, n),
                                                                    dtype="string")})
        frame = frame.drop_duplicates() if dtype == "unique" else frame
        return frame.assign(value=rng.normal(size=len(frame)).astype(np.float32),
                            contribution=rng.normal(size=len(frame)))

    for a, b in (("unique", "unique"), ("unique", "repeats"), ("repeats", "unique")):
        now, before = side(120, a), side(90, b)
        for left, right in ((now, before), (now, before.iloc[:0]),
                            (now.assign(value=now["value"].round().astype(np.int64)), before)):
            expected = left.merge(right, on=["_row", "indicator"], how="outer",
                                  suffixes=("", "_before"))
            pd.testing.assert_frame_equal(outer_by_row_and_indicator(left, right), expected)


def test_the_rows_of_each_account_and_date_are_pandas_merge():
    """Each scored row's contribution rows found through (account, date) codes: the frame of
    pandas' inner merge on the two columns, with unique and repeated keys, missing accounts and
    dates on both sides (matched as pandas matches them), another date unit, an empty side."""
    from churnml.explain.outer_merge import inner_by_account_and_date

    rng = np.random.default_rng(1)
    ids = np.array(["a", "b", "c", "d", None], dtype=object)
    dates = pd.to_datetime(["2026-05-01", "2026-06-01", "2026-07-01", None]).as_unit("ns")

    def frame(n, date_column):
        return pd.DataFrame({"account_id": pd.array(rng.choice(ids, n), dtype="string"),
                             date_column: rng.choice(dates, n)})  # fmt: skip

    rows = frame(200, "as_of").assign(
        indicator=pd.array(rng.choice(["x", "y", "zz"], 200), dtype="string"),
        value=rng.normal(size=200).astype(np.float32), contribution=rng.normal(size=200),
    )  # fmt: skip
    unique = frame(60, "as_of").drop_duplicates(["account_id", "as_of"])
    repeated = frame(30, "as_of")
    assert repeated.duplicated(["account_id", "as_of"]).any()
    for keys in (unique, repeated):
        keys = keys.sample(frac=1, random_state=2).reset_index(drop=True)
        keys = keys.assign(_row=np.arange(len(keys))[::-1], previous_as_of=keys["as_of"])
        for on, right in (("as_of", rows), ("previous_as_of", rows.iloc[:0]),
                          ("previous_as_of", rows.astype({"as_of": "datetime64[us]"}))):
            expected = keys[["_row", "account_id", on]].merge(
                rows.iloc[: len(right)].rename(columns={"as_of": on}), on=["account_id", on]
            ).drop(columns=["account_id", on])
            found = inner_by_account_and_date(keys, on, right)
            pd.testing.assert_frame_equal(found, expected)
        assert len(found) > 0
