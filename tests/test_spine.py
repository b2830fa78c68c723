"""make_spine and as_of_dates on hand-built contracts: population, boundaries and labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.snapshots import as_of_dates, make_spine

T = pd.Timestamp


def contracts(*rows):
    """rows: (contract_id, account_id, start, end, arr, outcome[, renewal_arr])."""
    frame = pd.DataFrame(
        [r if len(r) == 7 else (*r, np.nan) for r in rows],
        columns=[
            "contract_id",
            "account_id",
            "start_date",
            "end_date",
            "arr",
            "outcome",
            "renewal_arr",
        ],
    )
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    frame["end_date"] = pd.to_datetime(frame["end_date"])
    return {"contracts": frame}


def one(spine, account, as_of):
    rows = spine[(spine["account_id"] == account) & (spine["as_of"] == T(as_of))]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_columns_and_dtypes():
    spine = make_spine(
        contracts(("c1", "a", "2024-01-01", "2025-01-01", 100.0, "renewed")), as_of="2024-12-01"
    )
    assert list(spine.columns) == [
        "account_id", "as_of", "contract_id", "renewal_date", "days_to_renewal",
        "arr", "seats", "segment", "outcome", "label", "label_date",
    ]  # fmt: skip
    assert str(spine["label"].dtype) == "Int8"
    assert pd.api.types.is_integer_dtype(spine["days_to_renewal"])
    assert pd.api.types.is_datetime64_dtype(spine["as_of"])
    assert spine.loc[0, "days_to_renewal"] == 31


@pytest.mark.parametrize(
    ("outcome", "renewal_arr", "share", "label"),
    [
        ("renewed", np.nan, None, 0),
        ("expanded", 150.0, None, 0),
        ("churned", np.nan, None, 1),
        ("open", np.nan, None, pd.NA),
        (None, np.nan, None, pd.NA),
        ("downgraded", 50.0, None, 0),  # no share configured: a downgrade is a renewal
        ("downgraded", 50.0, 0.4, 1),  # lost 50% > 40%
        ("downgraded", 70.0, 0.4, 0),  # lost 30% <= 40%
        ("downgraded", 60.0, 0.4, 0),  # lost exactly 40%: not more than the share
    ],
)
def test_labels(outcome, renewal_arr, share, label):
    tables = contracts(("c1", "a", "2024-01-01", "2025-01-01", 100.0, outcome, renewal_arr))
    row = make_spine(tables, as_of="2024-10-01", downgrade_churn_share=share).iloc[0]
    if label is pd.NA:
        assert pd.isna(row["label"])
    else:
        assert row["label"] == label


def test_boundaries():
    tables = contracts(
        ("start", "a", "2024-06-01", "2024-09-01", 1.0, "renewed"),  # as_of == start_date: in
        ("end", "b", "2024-01-01", "2024-06-01", 1.0, "renewed"),  # as_of == end_date: out
        ("horizon", "c", "2024-01-01", T("2024-06-01") + pd.Timedelta(days=180), 1.0, "renewed"),
        ("beyond", "d", "2024-01-01", T("2024-06-01") + pd.Timedelta(days=181), 1.0, "renewed"),
        ("future", "e", "2024-06-02", "2024-09-01", 1.0, "renewed"),  # not started yet
    )
    spine = make_spine(tables, as_of="2024-06-01", horizon_days=180)
    assert sorted(spine["contract_id"]) == ["horizon", "start"]
    assert one(spine, "c", "2024-06-01")["days_to_renewal"] == 180


def test_overlapping_terms_pick_the_one_ending_first():
    tables = contracts(
        ("long", "a", "2024-01-01", "2025-03-01", 500.0, "renewed"),
        ("short", "a", "2024-06-01", "2024-12-01", 100.0, "churned"),
    )
    spine = make_spine(tables, as_of=["2024-11-01", "2024-12-01"], horizon_days=180)
    first = one(spine, "a", "2024-11-01")
    assert (first["contract_id"], first["label"], first["arr"]) == ("short", 1, 100.0)
    later = one(spine, "a", "2024-12-01")  # the short term ended at as_of: the long one remains
    assert later["contract_id"] == "long" and later["days_to_renewal"] == 90


def test_monthly_contracts_one_row_per_month():
    starts = pd.date_range("2024-01-01", periods=12, freq="MS")
    rows = [
        (f"m{i}", "a", s, s + pd.DateOffset(months=1), 10.0, "renewed")
        for i, s in enumerate(starts)
    ]
    rows[-1] = (*rows[-1][:5], "churned")
    spine = make_spine(contracts(*rows), start="2024-01-01", end="2024-12-01", horizon_days=60)
    assert len(spine) == 12
    assert spine["contract_id"].tolist() == [f"m{i}" for i in range(12)]
    assert spine["label"].tolist() == [0] * 11 + [1]
    assert (spine["days_to_renewal"] == (spine["renewal_date"] - spine["as_of"]).dt.days).all()


def test_segment_and_seats_come_along():
    tables = contracts(("c1", "a", "2024-01-01", "2025-01-01", 100.0, "renewed"))
    tables["contracts"]["seats"] = 25
    tables["accounts"] = pd.DataFrame({"account_id": ["a"], "segment": ["smb"]})
    row = make_spine(tables, as_of="2024-12-01").iloc[0]
    assert (row["segment"], row["seats"]) == ("smb", 25.0)


def test_matches_brute_force_cross_join():
    rng = np.random.default_rng(0)
    n = 400
    start = T("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    end = start + pd.to_timedelta(rng.choice([30, 91, 365, 400], n), unit="D")
    frame = pd.DataFrame(
        {
            "contract_id": [f"c{i:04d}" for i in range(n)],
            "account_id": [f"a{i:03d}" for i in rng.integers(0, 120, n)],
            "start_date": start,
            "end_date": end,
            "arr": rng.uniform(1, 100, n).round(2),
            "outcome": rng.choice(["renewed", "churned", "open", "expanded"], n),
        }
    )
    dates = as_of_dates("2023-03-01", "2025-01-01", "monthly")
    spine = make_spine({"contracts": frame}, start="2023-03-01", end="2025-01-01", horizon_days=120)

    cross = frame.merge(pd.DataFrame({"as_of": dates}), how="cross")
    live = cross[
        (cross["start_date"] <= cross["as_of"])
        & (cross["as_of"] < cross["end_date"])
        & ((cross["end_date"] - cross["as_of"]).dt.days <= 120)
    ]
    expected = (
        live.sort_values(["end_date", "contract_id"]).groupby(["account_id", "as_of"]).head(1)
    )
    expected = expected.sort_values(["as_of", "account_id"]).reset_index(drop=True)
    assert len(spine) == len(expected) > 100
    assert spine["contract_id"].tolist() == expected["contract_id"].tolist()
    assert (spine["as_of"].to_numpy() == expected["as_of"].to_numpy()).all()
    assert not spine.duplicated(["account_id", "as_of"]).any()


def test_as_of_dates_cadences():
    assert list(as_of_dates("2024-01-15", "2024-04-01").strftime("%m-%d")) == [
        "02-01",
        "03-01",
        "04-01",
    ]
    weekly = as_of_dates("2024-01-01", "2024-01-31", "weekly")
    assert len(weekly) == 5 and (weekly.day_of_week == 0).all()
    assert list(as_of_dates("2024-01-01", "2024-12-31", "quarterly").month) == [1, 4, 7, 10]
    assert len(as_of_dates("2024-01-01", "2024-01-29", "14D")) == 3
    with pytest.raises(ValueError, match="cadence must be one of .* but got 'fortnightly-ish'"):
        as_of_dates("2024-01-01", "2024-02-01", "fortnightly-ish")
    with pytest.raises(ValueError, match="end must not be before start"):
        as_of_dates("2024-02-01", "2024-01-01")


def test_end_defaults_to_the_data_not_the_clock():
    tables = contracts(
        ("c1", "a", "2024-01-01", "2025-01-01", 1.0, "renewed"),
        ("c2", "b", "2024-03-10", "2024-09-10", 1.0, "renewed"),
    )
    spine = make_spine(tables, start="2024-01-01", horizon_days=400)
    assert spine["as_of"].max() == T("2024-03-01")


def test_errors_name_the_problem():
    tables = contracts(("c1", "a", "2024-01-01", "2025-01-01", 1.0, "renewed"))
    with pytest.raises(ValueError, match=r"table contracts: missing required columns \['arr'\]"):
        make_spine({"contracts": tables["contracts"].drop(columns="arr")}, as_of="2024-06-01")
    with pytest.raises(ValueError, match="horizon_days must be at least 1, but got horizon_days=0"):
        make_spine(tables, as_of="2024-06-01", horizon_days=0)
    with pytest.raises(ValueError, match="give as_of"):
        make_spine(tables)


def test_synthetic_spine_is_consistent(spine_small, saas_small):
    c = saas_small["contracts"].set_index("contract_id")
    joined = spine_small.merge(
        c[["start_date", "end_date", "account_id"]],
        left_on="contract_id",
        right_index=True,
        suffixes=("", "_c"),
    )
    assert (joined["start_date"] <= joined["as_of"]).all()
    assert (joined["as_of"] < joined["end_date"]).all()
    assert (joined["account_id"] == joined["account_id_c"]).all()
    assert spine_small["days_to_renewal"].between(1, 180).all()
    resolved = spine_small["label"].notna()
    assert resolved.sum() > 0 and spine_small.loc[~resolved, "outcome"].isin(["open"]).all()


# --- window label and the population: only customers -----------------------------------------
def billing(*rows, usage_until="2025-12-31"):
    """Monthly subscriptions, rows (subscription_id, account_id, start, end, canceled); usage up
    to ``usage_until`` marks the end of the data."""
    subs = pd.DataFrame(rows, columns=["subscription_id", "account_id", "start_date", "end_date",
                                       "canceled_at"])
    for c in ("start_date", "end_date", "canceled_at"):
        subs[c] = pd.to_datetime(subs[c])
    subs = subs.assign(mrr=10.0, billing_period="monthly")
    usage = pd.DataFrame({"account_id": ["a"], "ts": [T(usage_until)]})
    return {"subscriptions": subs, "usage": usage}


def test_window_label_is_churn_within_the_horizon_after_as_of():
    tables = billing(
        ("s1", "a", "2024-01-01", "2025-04-01", "2025-03-20"),  # churns 2025-03-20
        ("s2", "b", "2024-01-01", None, None),  # stays
    )
    spine = make_spine(tables, as_of=["2024-09-01", "2024-10-01", "2025-03-01", "2025-07-01",
                                      "2025-08-01"], horizon_days=180, label="window")
    a = spine[spine["account_id"] == "a"].set_index("as_of")
    assert a["label"].tolist() == [0, 1, 1]  # 2024-09-01 + 180 days < 2025-03-20
    assert T("2025-07-01") not in a.index  # no snapshot after the churn
    b = spine[spine["account_id"] == "b"].set_index("as_of")
    assert b["label"].tolist()[:4] == [0, 0, 0, 0]  # 2025-07-01 + 180 days: inside the data
    assert pd.isna(b.loc[T("2025-08-01"), "label"])  # its window reaches past the data
    assert b.loc[T("2025-08-01"), "outcome"] == "open"
    assert (spine["label_date"] == spine["as_of"] + pd.Timedelta(days=180)).all()
    assert spine.attrs["label"] == "window" and spine.attrs["observed_until"] == "2026-01-01"


def test_window_rows_carry_the_current_terms_renewal_date():
    tables = billing(("s1", "a", "2024-01-15", None, None))
    row = one(make_spine(tables, as_of="2024-06-01", label="window"), "a", "2024-06-01")
    assert row["renewal_date"] == T("2024-06-15") and row["days_to_renewal"] == 14
    assert row["contract_id"] == "s1:5"


def test_no_snapshot_after_churn_under_either_label():
    tables = billing(("s1", "a", "2024-01-01", "2024-07-01", "2024-06-10"))
    tables["subscriptions"]["billing_period"] = "annual"
    for label in ("renewal", "window"):
        spine = make_spine(tables, as_of=["2024-06-01", "2024-06-10", "2024-06-11"], label=label,
                           horizon_days=365)
        assert spine["as_of"].tolist() == [T("2024-06-01"), T("2024-06-10")], label
        assert spine.attrs["label_drops"][-1]["count"] == 1


def test_a_churn_event_dates_the_churn_and_a_comeback_is_a_customer_again():
    tables = billing(
        ("s1", "a", "2024-01-01", "2024-12-01", None),
        ("s2", "a", "2025-03-01", None, None),  # back three months later
    )
    tables["churn_events"] = pd.DataFrame({"account_id": ["a"], "churned_at": [T("2024-10-15")]})
    spine = make_spine(tables, start="2024-09-01", end="2025-04-01", label="window")
    assert spine["as_of"].dt.strftime("%Y-%m").tolist() == ["2024-09", "2024-10", "2025-03", "2025-04"]
    assert spine["label"].tolist()[:2] == [1, 1]


def test_auto_label_says_which_and_why():
    renewal = make_spine(contracts(("c1", "a", "2024-01-01", "2025-01-01", 1.0, "renewed")),
                         as_of="2024-10-01")
    assert (renewal.attrs["label"], renewal.attrs["label_reason"]) == (
        "renewal", "auto: the contracts carry outcomes")
    window = make_spine(billing(("s1", "a", "2024-01-01", None, None)), as_of="2024-10-01")
    assert window.attrs["label"] == "window"
    assert "subscriptions" in window.attrs["label_reason"]
    with pytest.raises(ValueError, match="label must be one of .* but got label='weekly'"):
        make_spine(billing(("s1", "a", "2024-01-01", None, None)), as_of="2024-10-01", label="weekly")


def test_population_matches_a_brute_force_customer_check():
    """Random subscriptions and churn events: a row exists exactly when the account has a term
    active at as_of whose subscription started after its last churn before as_of."""
    rng = np.random.default_rng(1)
    n = 150
    start = T("2023-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D")
    stop = start + pd.to_timedelta(rng.integers(20, 500, n), unit="D")
    open_ = rng.random(n) < 0.4
    subs = pd.DataFrame({
        "subscription_id": [f"s{i}" for i in range(n)],
        "account_id": [f"a{i}" for i in rng.integers(0, 60, n)],
        "start_date": start, "end_date": stop.where(~open_),
        "canceled_at": (stop - pd.to_timedelta(rng.integers(0, 20, n), unit="D")).where(~open_),
        "mrr": 1.0, "billing_period": rng.choice(["monthly", "quarterly", "annual"], n),
    })
    events = pd.DataFrame({"account_id": [f"a{i}" for i in rng.integers(0, 60, 25)],
                           "churned_at": T("2023-03-01") + pd.to_timedelta(rng.integers(0, 700, 25), unit="D")})
    tables = {"subscriptions": subs, "churn_events": events,
              "usage": pd.DataFrame({"account_id": ["a0"], "ts": [T("2025-06-30")]})}
    spine = make_spine(tables, start="2023-02-01", end="2025-06-01", label="window")

    from churnml.data.churn import account_churn
    from churnml.data.subscriptions import with_renewal_terms

    derived = with_renewal_terms(tables)
    terms = derived["contracts"].assign(sub_start=lambda f: f["subscription_id"].map(
        subs.set_index("subscription_id")["start_date"]))
    churn = account_churn(derived)
    cross = terms.merge(pd.DataFrame({"as_of": as_of_dates("2023-02-01", "2025-06-01")}), how="cross")
    live = cross[(cross["start_date"] <= cross["as_of"]) & (cross["as_of"] < cross["end_date"])
                 & ~(cross["stopped_at"] <= cross["as_of"])]
    last = live[["account_id", "as_of"]].drop_duplicates().merge(churn, on="account_id", how="left")
    last = last[last["churned_at"] < last["as_of"]].groupby(["account_id", "as_of"])["churned_at"].max()
    newest = live.groupby(["account_id", "as_of"])["sub_start"].max()
    keep = newest.index[~(newest <= last.reindex(newest.index)).to_numpy()]
    expected = sorted(keep)
    assert sorted(zip(spine["account_id"], spine["as_of"], strict=True)) == expected
    assert len(expected) > 300 and spine.attrs["label_drops"][-1]["count"] > 10

    rows = spine[["account_id", "as_of"]].merge(churn, on="account_id", how="left")
    inside = (rows["churned_at"] >= rows["as_of"]) & (rows["churned_at"] < rows["as_of"] + pd.Timedelta(days=180))
    churns = inside.groupby([rows["account_id"], rows["as_of"]]).any()
    resolved = spine["as_of"] + pd.Timedelta(days=180) <= T(spine.attrs["observed_until"])
    expected_label = churns.reindex(pd.MultiIndex.from_frame(spine[["account_id", "as_of"]]))
    assert (spine.loc[resolved, "label"].to_numpy() == expected_label[resolved.to_numpy()].to_numpy()).all()
    assert spine.loc[~resolved, "label"].isna().all() and spine["label"].eq(1).sum() > 20
