"""validate: every fatal problem and warning names its table, column, count and example rows."""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.data.validate import DataQualityError, format_report, validate

NOW = pd.Timestamp("2025-06-01")


def clean():
    return {
        "accounts": pd.DataFrame(
            {
                "account_id": ["a1", "a2", "a3"],
                "segment": ["smb", "enterprise", "mid_market"],
                "csm": ["Ann", "Bo", "Cy"],
                "email_domain": ["a1.com", "a2.com", "a3.com"],
            }
        ),
        "contracts": pd.DataFrame(
            {
                "contract_id": ["c1", "c2", "c3"],
                "account_id": ["a1", "a2", "a3"],
                "start_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                "end_date": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
                "arr": [100.0, 200.0, 300.0],
                "outcome": ["renewed", "churned", "open"],
            }
        ),
        "usage": pd.DataFrame(
            {
                "account_id": ["a1", "a2", "a3"],
                "user_id": ["u1", "u2", "u3"],
                "ts": pd.to_datetime(["2024-05-01", "2024-05-02", "2024-05-03"]),
            }
        ),
        "nps": pd.DataFrame(
            {
                "response_id": ["r1", "r2"],
                "account_id": ["a1", "a2"],
                "responded_at": pd.to_datetime(["2024-06-01", "2024-06-02"]),
                "score": [9.0, 3.0],
            }
        ),
    }


def only(report, check):
    rows = report[report["check"] == check]
    assert len(rows) == 1, report
    return rows.iloc[0]


def test_clean_tables_give_an_empty_report():
    report = validate(clean(), now=NOW)
    # the tables a small export leaves out only say which indicators they skip
    skips = report["check"] == "indicators_skipped"
    assert report[~skips].empty and set(report.loc[skips, "severity"]) == {"info"}
    assert list(report.columns)[:6] == ["table", "column", "check", "severity", "count", "examples"]
    assert format_report(report).startswith("0 fatal, 0 warnings")


def fatal_case(name):
    t = clean()
    if name == "missing_table":
        del t["contracts"]  # and no subscriptions either
        return t, ("contracts|subscriptions", "", 1, "tables given")
    if name == "missing_column":
        t["usage"] = t["usage"].drop(columns="ts")
        return t, ("usage", "ts", 1, "columns present: ['account_id', 'user_id']")
    if name == "unparseable":
        t["contracts"]["arr"] = ["100", "lots", "n/a"]
        return t, ("contracts", "arr", 2, "contract_id=c2: 'lots'; contract_id=c3: 'n/a'")
    if name == "duplicate_key":
        t["contracts"].loc[2, "contract_id"] = "c1"
        return t, ("contracts", "contract_id", 1, "contract_id=c1; contract_id=c1")
    if name == "end_before_start":
        t["contracts"].loc[1, "end_date"] = pd.Timestamp("2023-12-31")
        return t, ("contracts", "end_date", 1, "contract_id=c2 (start_date=2024-02-01")
    if name == "score_out_of_range":
        t["nps"].loc[1, "score"] = 11.0
        return t, ("nps", "score", 1, "response_id=r2 (account_id=a2, score=11.0)")
    if name == "negative_arr":
        t["contracts"].loc[0, "arr"] = -1.0
        return t, ("contracts", "arr", 1, "contract_id=c1 (arr=-1.0)")
    raise AssertionError(name)


FATAL = ("missing_table", "missing_column", "unparseable", "duplicate_key", "end_before_start",
         "score_out_of_range", "negative_arr")  # fmt: skip


@pytest.mark.parametrize("check", FATAL)
def test_fatal_problems_raise_one_error_naming_table_column_count_examples(check):
    tables, (table, column, count, example) = fatal_case(check)
    with pytest.raises(DataQualityError) as caught:
        validate(tables, now=NOW)
    message = str(caught.value)
    assert f"table {table}" in message and f"[{check}, count {count}]" in message
    if column:
        assert f"column {column}" in message
    assert example in message
    row = only(caught.value.report, check)
    assert (row["table"], row["column"], row["severity"], row["count"]) == (
        table,
        column,
        "fatal",
        count,
    )
    assert isinstance(caught.value, ValueError)


def test_all_fatal_problems_are_listed_together():
    t = clean()
    t["contracts"].loc[0, "arr"] = -1.0
    t["nps"].loc[0, "score"] = -2.0
    t["usage"] = t["usage"].drop(columns="account_id")
    with pytest.raises(DataQualityError, match="3 fatal data problems") as caught:
        validate(t, now=NOW)
    assert set(caught.value.report.query("severity == 'fatal'")["check"]) == {
        "negative_arr", "score_out_of_range", "missing_column"
    }  # fmt: skip
    report = validate(t, raise_on_fatal=False, now=NOW)
    assert (report["severity"] == "fatal").sum() == 3


def warning_case(name):
    t = clean()
    if name == "orphan_key":
        t["usage"].loc[1:2, "account_id"] = ["zz", "yy"]
        return t, ("usage", "account_id", 2, "row 1 (account_id=zz)", "warning")
    if name == "future_date":
        t["usage"].loc[0, "ts"] = pd.Timestamp("2025-07-01")
        return t, ("usage", "ts", 1, "row 0 (account_id=a1, ts=2025-07-01", "warning")
    if name == "mixed_timezones":
        t["usage"]["ts"] = ["2024-05-01T10:00:00+02:00", "2024-05-02 10:00", "2024-05-03 10:00"]
        return t, ("usage", "ts", 3, "2024-05-01T10:00:00+02:00", "warning")
    if name == "mostly_empty":
        t["accounts"]["csm"] = ["Ann", None, None]
        return t, ("accounts", "csm", 2, "account_id=a2; account_id=a3", "warning")
    if name == "duplicate_rows":
        t["usage"] = pd.concat([t["usage"], t["usage"].iloc[[1]]], ignore_index=True)
        return t, (
            "usage",
            "account_id,user_id,ts",
            1,
            "row 3 (account_id=a2, user_id=u2, ts=2024-05-02",
            "warning",
        )
    if name == "unknown_value":
        t["contracts"].loc[2, "outcome"] = "lost"
        return t, ("contracts", "outcome", 1, "contract_id=c3 (outcome=lost)", "warning")
    if name == "missing_value":
        t["usage"].loc[2, "account_id"] = None
        return t, ("usage", "account_id", 1, "row 2 (account_id=nan, ts=2024-05-03", "warning")
    if name in ("contact_unmatched", "matched_by_email_domain"):
        t["contacts"] = pd.DataFrame(
            {"contact_id": ["p1", "p2", "p3"], "email": ["x@a1.com", "y@a2.com", "z@gmail.com"]}
        )
        if name == "contact_unmatched":
            return t, ("contacts", "account_id", 1, "p3 (z@gmail.com)", "warning")
        return t, ("contacts", "account_id", 2, "p1 (x@a1.com) -> a1", "info")
    raise AssertionError(name)


WARNINGS = ("orphan_key", "future_date", "mixed_timezones", "mostly_empty", "duplicate_rows",
            "unknown_value", "missing_value", "contact_unmatched", "matched_by_email_domain")  # fmt: skip


@pytest.mark.parametrize("check", WARNINGS)
def test_warnings_have_table_column_count_and_examples(check):
    tables, (table, column, count, example, severity) = warning_case(check)
    report = validate(tables, now=NOW)  # no fatal problem, so nothing raises
    row = only(report, check)
    assert (row["table"], row["column"], row["severity"], row["count"]) == (
        table,
        column,
        severity,
        count,
    )
    assert example in row["examples"]
    assert table in row["message"] or column in row["message"] or "contacts" in row["message"]
    text = format_report(report)
    assert check in text and table in text and f"{count:,}" in text


def test_match_rate_is_reported():
    tables, _ = warning_case("matched_by_email_domain")
    row = only(validate(tables, now=NOW), "matched_by_email_domain")
    assert "2 of 3 contacts" in row["message"] and "match rate 67%" in row["message"]


def test_now_defaults_to_the_clock_only_in_validation():
    t = clean()
    t["usage"].loc[0, "ts"] = pd.Timestamp("2999-01-01")
    assert only(validate(t), "future_date")["count"] == 1
    assert validate(t, now="3000-01-01").query("check != 'indicators_skipped'").empty


def test_format_report_summary_and_alignment():
    t = clean()
    t["contracts"].loc[0, "arr"] = -1.0
    t["usage"].loc[1, "account_id"] = "zz"
    text = format_report(validate(t, raise_on_fatal=False, now=NOW))
    lines = text.splitlines()
    n_info = int((validate(t, raise_on_fatal=False, now=NOW)["severity"] == "info").sum())
    assert lines[0] == f"1 fatal, 1 warning, {n_info} info" and n_info > 0  # the skipped indicators
    header = lines[2]
    assert header.split()[:5] == ["severity", "table", "column", "check", "count"]
    assert lines[3].startswith("fatal") and lines[4].startswith("warning")
    assert lines[3].index("contracts") == lines[4].index("usage") == header.index("table")


def test_validation_of_the_synthetic_data_has_no_fatal_problem(saas_small):
    report = validate(saas_small, raise_on_fatal=False, now="2030-01-01")
    assert not (report["severity"] == "fatal").any(), format_report(report)


# --- billing: subscriptions and churn events ----------------------------------------------
def with_subscriptions():
    t = clean()
    del t["contracts"]
    t["subscriptions"] = pd.DataFrame(
        {
            "subscription_id": ["s1", "s2", "s3"],
            "account_id": ["a1", "a2", "a3"],
            "start_date": pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01"]),
            "end_date": pd.to_datetime(["2024-01-01", None, None]),
            "canceled_at": pd.to_datetime(["2023-12-10", None, None]),
            "mrr": [10.0, 20.0, 30.0],
            "billing_period": ["annual", "monthly", "annual"],
            "status": ["canceled", "active", "active"],
        }
    )
    t["churn_events"] = pd.DataFrame(
        {"account_id": ["a1"], "churned_at": pd.to_datetime(["2023-12-10"]), "reason": ["price"]}
    )
    return t


def test_subscriptions_replace_contracts_and_agree_with_churn_events():
    report = validate(with_subscriptions(), now=NOW)
    assert (report["severity"] != "fatal").all() and (report["severity"] != "warning").all(), report
    near = only(report, "near_billing_end")
    assert near["count"] == 1 and "1 of 1 churn events (100%)" in near["message"]


@pytest.mark.parametrize(
    ("change", "check", "severity", "count"),
    [
        (lambda t: t.__setitem__("subscriptions", t["subscriptions"].drop(columns="mrr")),
         "missing_column", "fatal", 1),
        (lambda t: t["subscriptions"].loc.__setitem__((1, "end_date"), pd.Timestamp("2022-01-01")),
         "end_date_before_start", "fatal", 1),
        (lambda t: t["subscriptions"].loc.__setitem__((2, "mrr"), -5.0), "negative_arr", "fatal", 1),
        (lambda t: t["subscriptions"].loc.__setitem__((1, "billing_period"), "weekly"),
         "term_length_assumed", "warning", 1),
        (lambda t: t["subscriptions"].loc.__setitem__((2, "status"), "Canceled"),
         "closed_without_date", "warning", 1),
        (lambda t: t.__setitem__("churn_events", pd.DataFrame(
            {"account_id": ["a3"], "churned_at": pd.to_datetime(["2024-03-01"])})),
         "event_without_churn", "warning", 1),
        (lambda t: t.__setitem__("churn_events", pd.DataFrame(
            {"account_id": ["a3"], "churned_at": pd.to_datetime(["2024-03-01"])})),
         "churn_without_event", "warning", 1),
        (lambda t: t.__setitem__("contracts", clean()["contracts"]), "not_used", "info", 3),
    ],
)
def test_billing_problems_are_named(change, check, severity, count):
    t = with_subscriptions()
    change(t)
    report = validate(t, now=NOW, raise_on_fatal=False)
    row = only(report, check)
    assert (row["severity"], row["count"]) == (severity, count)
    assert row["table"] in ("subscriptions", "churn_events")


def test_a_billing_table_is_mandatory():
    t = with_subscriptions()
    del t["subscriptions"]
    row = only(validate(t, now=NOW, raise_on_fatal=False), "missing_table")
    assert row["table"] == "contracts|subscriptions" and "give contracts" in row["message"]
