"""Trend over successive runs: previous score / tier, new / rising / steady / falling, acute / chronic."""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.scoring.trend import apply_trend, read_runs, runs_path, update_runs

AS_OF = pd.to_datetime(["2025-04-01", "2025-05-01", "2025-06-01"])

# account -> [(score, tier) per run]; None = not scored in that run
RUNS = {
    "a": [(60, "red"), (62, "red"), (70, "red")],
    "b": [(10, "green"), (30, "amber"), (55, "red")],
    "c": [(40, "amber"), (42, "amber"), (30, "green")],
    "d": [None, (80, "red"), (81, "red")],
    "e": [(70, "red"), (20, "green"), (75, "red")],
}
EXPECTED = {  # account -> [(trend, pattern, previous_score) per run]
    # a red account without a previous score is new, not acute: nothing shows a sudden rise
    "a": [("new", None, None), ("steady", None, 60), ("rising", "chronic", 62)],
    "b": [("new", None, None), ("rising", "acute", 10), ("rising", "acute", 30)],
    "c": [("new", None, None), ("steady", None, 40), ("falling", None, 42)],
    "d": [None, ("new", None, None), ("steady", None, 80)],
    "e": [("new", None, None), ("falling", None, 70), ("rising", "acute", 20)],
}


def run_frame(i: int) -> pd.DataFrame:
    rows = [(acc, *runs[i]) for acc, runs in RUNS.items() if runs[i] is not None]
    frame = pd.DataFrame(rows, columns=["account_id", "score", "tier"])
    frame["as_of"] = AS_OF[i]
    frame["scored_at"] = AS_OF[i] + pd.Timedelta(hours=6)
    frame["arr"] = 1000.0  # an extra column is kept as is
    return frame


def test_three_successive_runs(tmp_path):
    path = runs_path(tmp_path / "scores.parquet")
    assert path.name == "scores_runs.parquet"
    for i in range(3):
        history = read_runs(path)
        scored = apply_trend(run_frame(i), history)
        assert list(scored["account_id"]) == list(run_frame(i)["account_id"])
        assert (scored["arr"] == 1000.0).all()
        for _, row in scored.iterrows():
            trend, pattern, prev = EXPECTED[row["account_id"]][i]
            assert row["trend"] == trend, (row["account_id"], i)
            assert (None if pd.isna(row["pattern"]) else row["pattern"]) == pattern, (
                row["account_id"],
                i,
            )
            assert (None if pd.isna(row["previous_score"]) else row["previous_score"]) == prev
        update_runs(history, scored).to_parquet(path, index=False)
    history = read_runs(path)
    assert len(history) == 14  # 4 + 5 + 5 rows, one per (account, as_of)
    # re-scoring the last as_of replaces its rows and compares with the run before it
    again = apply_trend(run_frame(2), history)
    assert list(again["trend"]) == [e[2][0] for e in EXPECTED.values()]
    assert len(update_runs(history, again)) == 14


def test_earlier_as_of_uses_only_earlier_runs():
    history = pd.concat([run_frame(1), run_frame(2)], ignore_index=True)
    first = apply_trend(run_frame(0), history)
    assert (first["trend"] == "new").all() and first["previous_score"].isna().all()


def test_history_needs_its_columns():
    with pytest.raises(ValueError, match="tier"):
        apply_trend(run_frame(0), run_frame(1).drop(columns="tier"))


def test_a_new_red_account_is_acute_only_after_a_sudden_move():
    from churnml.scoring.trend import history_pattern

    as_of = pd.Timestamp("2025-06-01")
    months = [as_of - pd.DateOffset(months=k) for k in range(6)]
    usage = {  # events_30d, latest month first
        "drop": [40, 100, 120, 90, 100, 100],   # half of the three months before, or less: acute
        "slow": [60, 70, 80, 90, 100, 110],     # a slow decline: no sudden rise in risk
        "amber_drop": [10, 100, 100, 100, 100, 100],  # not red: no pattern
        "old": [10, 100, 100, 100, 100, 100],   # red with a previous run: its own pattern kept
        "storm": [100] * 6,
        "busy": [100] * 6,
        "left": [100] * 6,
    }
    tickets = {  # tickets_30d, latest month first
        "storm": [9, 2, 3, 2, 2, 2],     # three times the median and 6 more: an escalation storm
        "busy": [12, 10, 11, 9, 10, 9],  # always busy: not sudden
        "slow": [4, 1, 1, 0, 1, 1],      # 4x the median but only 3 more: a storm
    }
    departures = {"left": [1, 0, 0, 0, 0, 0], "slow": [0, 1, 1, 0, 0, 0]}  # champion_left_30d
    rows = [
        (acc, m, name, float(v))
        for name, table in (("events_30d", usage), ("tickets_30d", tickets),
                            ("champion_left_30d", departures))
        for acc, vals in table.items()
        for m, v in zip(months, vals)
    ]  # fmt: skip
    history = pd.DataFrame(rows, columns=["account_id", "as_of", "indicator", "value"])
    history = history.sample(frac=1, random_state=0)  # order must not matter
    accounts = ["drop", "slow", "amber_drop", "old", "no_history", "storm", "busy", "left"]
    scores = pd.DataFrame(
        {
            "account_id": accounts,
            "tier": ["red", "red", "amber", "red", "red", "red", "red", "red"],
            "trend": ["new", "new", "new", "steady", "new", "new", "new", "new"],
            "pattern": pd.array([None, None, None, "chronic", None, None, None, None],
                                dtype="string"),
        }
    )
    out = history_pattern(scores, history)
    expected = ["acute", "acute", "-", "chronic", "-", "acute", "-", "acute"]
    assert list(out["pattern"].fillna("-")) == expected
    # without its ticket surge the slowly declining account is not acute
    calm = history[~((history["account_id"] == "slow") & (history["indicator"] == "tickets_30d"))]
    assert history_pattern(scores, calm)["pattern"].fillna("-").tolist()[1] == "-"
    assert history_pattern(scores, None) is scores
