"""The label audit, and train's refusal of data without resolved labels."""

from __future__ import annotations

import pandas as pd
import pytest

import churnml
from churnml.errors import ChurnmlError
from churnml.label_report import label_audit

T = pd.Timestamp


def test_counts_per_as_of_and_overall(spine_small):
    audit = churnml.label_audit(spine_small)
    by = audit.by_as_of.set_index("as_of")
    first = spine_small[spine_small["as_of"] == by.index[0]]
    assert by.iloc[0]["rows"] == len(first)
    assert by.iloc[0]["churned"] == (first["label"] == 1).sum()
    assert by.iloc[0]["unresolved"] == first["label"].isna().sum()
    assert (by["resolved"] == by["churned"] + by["retained"]).all()
    s = audit.summary
    assert s["rows"] == len(spine_small) and s["churned"] == int((spine_small["label"] == 1).sum())
    assert s["base_rate"] == pytest.approx(spine_small["label"].mean())
    assert (s["label"], s["label_reason"]) == ("renewal", "auto: the contracts carry outcomes")
    assert s["outcomes_to"] <= s["observed_until"]
    text = audit.format()
    assert "Labels: renewal (auto: the contracts carry outcomes); horizon 180 days" in text
    assert f"{s['churned']:,} churned" in text and "base_rate" in text


def test_drops_are_reported_with_their_reason(export_tables):
    tables = dict(export_tables)
    subs = tables.pop("subscriptions").copy()
    subs.loc[subs.index[:4], "start_date"] = pd.NaT
    tables.pop("contracts")
    spine = churnml.make_spine(tables | {"subscriptions": subs}, start="2024-10-01")
    audit = label_audit(spine)
    dropped = audit.dropped.set_index("why")
    assert dropped.loc["no start_date", "count"] == 4
    assert dropped.loc["no start_date", "table"] == "subscriptions"
    churned = [w for w in dropped.index if w.startswith("the account had already churned")]
    assert dropped.loc[churned[0], "count"] > 0
    assert "left out: 4 subscriptions: no start_date" in audit.format()
    assert audit.summary["label"] == "window" and "subscriptions" in audit.summary["label_reason"]


def test_too_few_labels_warn_and_none_is_an_error_that_says_how_to_get_outcomes(spine_small):
    few = spine_small[spine_small["as_of"] == spine_small["as_of"].min()].copy()
    few.attrs = dict(spine_small.attrs)
    warnings = label_audit(few).warnings
    assert any("churned snapshot rows (fewer than 50)" in w for w in warnings)
    assert any("resolved snapshot rows (fewer than 200)" in w for w in warnings)

    none = spine_small.assign(label=pd.array([pd.NA] * len(spine_small), dtype="Int8"))
    none.attrs = dict(spine_small.attrs)
    with pytest.raises(ChurnmlError, match="no resolved labels among") as caught:
        churnml.train(features=none, trials=1, log=False, progress=False)
    assert "outcome column" in caught.value.hint and "churn_events" in caught.value.hint


def test_cli_prints_the_audit_and_the_error(tmp_path, capsys):
    from churnml.cli import main

    contracts = pd.DataFrame({"contract_id": ["c1"], "account_id": ["a"], "start_date": ["2024-01-01"],
                              "end_date": ["2025-01-01"], "arr": [1.0]})
    pd.DataFrame({"account_id": ["a"]}).to_csv(tmp_path / "accounts.csv", index=False)
    contracts.to_csv(tmp_path / "contracts.csv", index=False)
    usage = pd.DataFrame({"account_id": "a", "ts": pd.date_range("2024-01-01", "2024-12-31")})
    usage.to_csv(tmp_path / "usage.csv", index=False)
    assert main(["validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Labels: window (auto: the contracts carry no outcomes); horizon 180 days" in out
    assert "WARNING: only 0 churned snapshot rows (fewer than 50)" in out
    config = tmp_path / "renewal.yaml"
    config.write_text("label: renewal\n")
    assert main(["train", "--data", str(tmp_path), "--trials", "1", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "error: train: no resolved labels among" in err and "hint: give the contracts" in err
