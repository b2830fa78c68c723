"""Renewal terms cut from subscriptions, and account churn from terms and churn events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.data.churn import account_churn
from churnml.data.subscriptions import add_months, renewal_terms, with_renewal_terms

T = pd.Timestamp
END = T("2026-01-01")  # the end of the data in these tables


def subs(*rows, **columns):
    """rows: (subscription_id, account_id, start, end, canceled, mrr, billing_period)."""
    frame = pd.DataFrame(rows, columns=["subscription_id", "account_id", "start_date", "end_date",
                                        "canceled_at", "mrr", "billing_period"])
    for c in ("start_date", "end_date", "canceled_at"):
        frame[c] = pd.to_datetime(frame[c])
    return frame.assign(**columns)


@pytest.fixture(scope="module")
def export_terms(export_tables):
    """The renewal terms churnml cut from the export, and its subscriptions."""
    return export_tables["contracts"], export_tables["subscriptions"]


def terms_of(frame, sid):
    return frame[frame["subscription_id"] == sid].sort_values("start_date").reset_index(drop=True)


def test_a_churned_term_ends_on_its_anniversary_not_on_the_cancellation():
    frame = renewal_terms(subs(("s1", "a", "2023-03-10", "2025-03-10", "2025-02-17 14:00", 100.0, "annual")), END)
    assert frame["start_date"].tolist() == [T("2023-03-10"), T("2024-03-10")]
    assert frame["end_date"].tolist() == [T("2024-03-10"), T("2025-03-10")]
    assert frame["outcome"].tolist() == ["renewed", "churned"]
    assert frame["churned_at"].tolist()[-1] == T("2025-02-17 14:00")
    assert frame["outcome_date"].tolist() == [T("2024-03-10"), T("2025-02-17 14:00")]
    assert frame["arr"].tolist() == [1200.0, 1200.0] and frame["contract_id"].tolist() == ["s1:1", "s1:2"]


def test_a_cancellation_without_end_date_stops_at_the_end_of_the_term_in_progress():
    frame = renewal_terms(subs(("s1", "a", "2024-01-31", None, "2024-04-12", 10.0, "monthly")), END)
    # monthly anniversaries of the 31st fall on the last day of shorter months
    assert frame["end_date"].tolist() == [T("2024-02-29"), T("2024-03-31"), T("2024-04-30")]
    assert frame["outcome"].tolist() == ["renewed", "renewed", "churned"]
    assert frame["churned_at"].iloc[-1] == T("2024-04-12")


def test_an_immediate_cancellation_mid_term_still_ends_the_term_on_the_anniversary():
    frame = renewal_terms(subs(("s1", "a", "2024-01-01", "2024-06-20", None, 10.0, "annual")), END)
    assert frame["end_date"].tolist() == [T("2025-01-01")]
    assert (frame["outcome"].iloc[0], frame["churned_at"].iloc[0]) == ("churned", T("2024-06-20"))
    assert frame["stopped_at"].iloc[0] == T("2024-06-20")  # not active after the stop


def test_an_open_subscription_is_active_and_open_after_the_data_ends():
    frame = renewal_terms(subs(("s1", "a", "2025-09-15", None, None, 10.0, "monthly")), END)
    assert frame["end_date"].max() > END + pd.Timedelta(days=31)  # scoring just after the data ends
    assert frame.loc[frame["end_date"] <= END, "outcome"].eq("renewed").all()
    assert frame.loc[frame["end_date"] > END, "outcome"].eq("open").all()
    assert frame["churned_at"].isna().all() and frame["renewal_arr"].notna().sum() == 3


def test_a_stop_just_after_an_anniversary_counts_as_that_anniversary():
    frame = renewal_terms(subs(("s1", "a", "2024-01-01", "2025-01-03", None, 10.0, "annual")), END)
    assert frame["end_date"].tolist() == [T("2025-01-01")]


def test_upgrade_and_downgrade_to_a_new_subscription_are_not_churn():
    frame = renewal_terms(subs(
        ("up1", "a", "2023-01-01", "2024-01-01", None, 100.0, "annual"),
        ("up2", "a", "2024-01-01", None, None, 150.0, "annual"),
        ("dn1", "b", "2023-05-01", "2024-05-01", None, 100.0, "annual"),
        ("dn2", "b", "2024-05-10", "2025-05-10", "2025-04-01", 60.0, "annual"),  # 9 days later
        ("same1", "c", "2023-01-01", "2024-01-01", None, 100.0, "annual"),
        ("same2", "c", "2023-12-20", None, None, 100.0, "monthly"),
    ), END)
    last = frame.groupby("subscription_id").tail(1).set_index("subscription_id")
    assert last.loc["up1", "outcome"] == "expanded" and last.loc["up1", "renewal_arr"] == 1800.0
    assert last.loc["dn1", "outcome"] == "downgraded" and last.loc["dn1", "renewal_arr"] == 720.0
    assert last.loc["dn1", "outcome_date"] == T("2024-05-10")  # known when the new one started
    assert last.loc["same1", "outcome"] == "renewed"
    assert last.loc["dn2", "outcome"] == "churned"
    assert last[["churned_at"]].dropna().index.tolist() == ["dn2"]


def test_an_add_on_canceled_while_the_main_subscription_runs_on_is_a_downgrade():
    frame = renewal_terms(subs(
        ("main", "a", "2023-01-01", None, None, 1000.0, "annual"),
        ("addon", "a", "2023-06-01", "2024-06-01", "2024-05-01", 100.0, "annual"),
    ), END)
    addon = terms_of(frame, "addon").iloc[-1]
    assert (addon["outcome"], addon["renewal_arr"]) == ("downgraded", 0.0)
    assert pd.isna(addon["churned_at"])


def test_term_length_from_term_months_billing_period_or_assumed_annual():
    frame = renewal_terms(subs(
        ("q", "a", "2024-01-01", "2024-07-01", None, 10.0, "quarterly"),
        ("t", "b", "2022-01-01", "2026-01-01", None, 10.0, "multi_year"),
        ("x", "c", "2024-01-01", "2026-01-01", None, 10.0, None),
        term_months=[np.nan, 24, np.nan],
    ), END)
    assert terms_of(frame, "q")["end_date"].tolist() == [T("2024-04-01"), T("2024-07-01")]
    assert terms_of(frame, "t")["end_date"].tolist() == [T("2024-01-01"), T("2026-01-01")]
    assert len(terms_of(frame, "x")) == 2
    assert frame.attrs["churnml_terms"]["assumed_annual"] == 1


def test_unusable_subscriptions_are_dropped_and_reported():
    frame = renewal_terms(subs(
        ("ok", "a", "2024-01-01", None, None, 10.0, "annual"),
        ("nostart", "b", None, None, None, 10.0, "annual"),
        ("noamount", "c", "2024-01-01", None, None, np.nan, "annual"),
        ("backwards", "d", "2024-01-01", "2023-01-01", None, 10.0, "annual"),
    ), END)
    assert set(frame["subscription_id"]) == {"ok"}
    dropped = {d["why"]: d for d in frame.attrs["churnml_terms"]["dropped"]}
    assert dropped["no start_date"]["examples"] == ["nostart"]
    assert dropped["neither mrr nor arr"]["count"] == 1
    assert dropped["end_date before start_date"]["examples"] == ["backwards"]


def test_every_term_ends_on_a_billing_anniversary_whatever_its_outcome(export_terms):
    terms, subscriptions = export_terms
    start = subscriptions.set_index("subscription_id")["start_date"]
    months = subscriptions.set_index("subscription_id")["term_months"]
    sid = terms["subscription_id"]
    k = terms["contract_id"].str.rsplit(":", n=1).str[1].astype(int).to_numpy()
    expected = add_months(start[sid].to_numpy("datetime64[D]"), k * months[sid].to_numpy("int64"))
    assert (terms["end_date"].to_numpy("datetime64[D]") == expected).all()
    previous = add_months(start[sid].to_numpy("datetime64[D]"), (k - 1) * months[sid].to_numpy("int64"))
    assert (terms["start_date"].to_numpy("datetime64[D]") == previous).all()  # whole terms only
    churned = terms["outcome"].eq("churned")
    assert churned.sum() > 50
    # the churn date lies inside its term, never on its end: the calendar does not show it
    inside = terms.loc[churned, "churned_at"].dt.normalize() < terms.loc[churned, "end_date"]
    assert inside.mean() > 0.9


def test_derived_terms_match_the_worlds_contracts(export_terms, saas_small):
    terms = export_terms[0]
    world = saas_small["contracts"]
    data_end = saas_small["usage"]["ts"].max()
    terms = terms[terms["start_date"] <= data_end]  # not the terms added for scoring after it
    # the world's monthly terms last 30.44 days, the export's a calendar month: a term ending
    # within days of the data's end may be decided on one side and open on the other
    late = data_end - pd.Timedelta(days=3)
    assert set(terms.loc[terms["end_date"] > late, "account_id"]) == set(
        world.loc[world["end_date"] > late, "account_id"])
    terms, world = terms[terms["end_date"] <= late], world[world["end_date"] <= late]
    pair = pd.merge_asof(
        terms.sort_values("end_date").astype({"end_date": "datetime64[ns]"}),
        world[["account_id", "start_date", "end_date", "outcome"]].rename(
            columns=lambda c: f"w_{c}" if c != "account_id" else c).sort_values("w_end_date"),
        left_on="end_date", right_on="w_end_date", by="account_id", direction="nearest",
        tolerance=pd.Timedelta(days=3))
    assert len(terms) == len(world) and pair["w_end_date"].notna().all()
    assert not pair.duplicated(["account_id", "w_end_date"]).any()
    # a month-to-month plan changed twice in a row leaves a one-term subscription: the successors
    # starting within NEAR_DAYS of the first change are summed, so that change reads differently
    changes = world["outcome"].astype(str).isin(["expanded", "downgraded"])
    twice = changes & changes.groupby(world["account_id"]).shift(-1, fill_value=False)
    twice &= (world["end_date"] - world["start_date"]).dt.days <= 31
    flip = pd.MultiIndex.from_frame(world.loc[twice, ["account_id", "end_date"]])
    judged = ~pd.MultiIndex.from_frame(pair[["account_id", "w_end_date"]]).isin(flip)
    assert judged.mean() > 0.99
    pair = pair[judged]
    assert (pair["outcome"].astype(str) == pair["w_outcome"].astype(str)).all()
    assert (pair["start_date"] - pair["w_start_date"]).abs().max() <= pd.Timedelta(days=3)
    assert set(pair["outcome"]) == {"renewed", "churned", "expanded", "downgraded"}


# --- account churn --------------------------------------------------------------------------
def test_churn_events_date_the_churn_and_unmatched_events_count_on_their_own():
    tables = with_renewal_terms({"subscriptions": subs(
        ("s1", "a", "2024-01-01", "2025-01-01", "2024-12-01", 10.0, "annual"),
        ("s2", "b", "2024-01-01", None, None, 10.0, "annual"),
        ("s3", "c", "2024-01-01", "2025-01-01", "2024-12-05", 10.0, "annual"),
    ), "churn_events": pd.DataFrame({
        "account_id": ["a", "b"], "churned_at": pd.to_datetime(["2024-11-20", "2025-03-01"])})})
    churn = account_churn(tables, END).set_index("account_id")
    assert churn.loc["a", "churned_at"] == T("2024-11-20") and churn.loc["a", "source"] == "billing+event"
    assert churn.loc["b", "source"] == "event"  # the billing goes on, the event still counts
    assert (churn.loc["c", "churned_at"], churn.loc["c", "source"]) == (T("2024-12-05"), "billing")


@pytest.mark.parametrize("with_outcome", [True, False])
def test_contract_churn_needs_the_coverage_to_end(with_outcome):
    contracts = pd.DataFrame({
        "contract_id": ["a1", "a2", "b1", "b2", "c1"],
        "account_id": ["a", "a", "b", "b", "c"],
        "start_date": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-01-01", "2025-01-01", "2024-01-01"]),
        "end_date": pd.to_datetime(["2025-01-01", "2026-06-01", "2025-01-01", "2026-06-01", "2025-01-01"]),
        "arr": 1.0,
        "outcome": ["churned", "open", "renewed", "open", "churned"],
    })
    if not with_outcome:
        contracts = contracts.drop(columns="outcome")
    churn = account_churn({"contracts": contracts}, END)
    # a: another contract runs on (a partial churn); b: renewed by b2; c: its coverage ends
    assert churn["account_id"].tolist() == ["c"]
    assert churn["churned_at"].tolist() == [T("2025-01-01")]
