"""Auditing an existing health score against the model, and the generator's vendor-style score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.audit import (
    DISAGREEMENTS,
    HealthScoreAudit,
    audit_health_score,
    out_of_time_snapshots,
    read_audit,
    write_audit,
)
from churnml.data.health_scores import read_health_scores
from churnml.data.synthetic.health_score import GREEN_FROM, RED_BELOW, vendor_health_scores
from churnml.errors import ChurnmlError


@pytest.fixture(scope="module")
def tables(saas_small):
    return {k: v for k, v in saas_small.items() if k not in ("oracle", "oracle_terms")}


@pytest.fixture(scope="module")
def vendor(saas_small):
    return vendor_health_scores(saas_small, seed=3)


@pytest.fixture(scope="module")
def model(features_small):
    """A model fitted only on outcomes known before the last two resolved snapshot dates."""
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.config import load_config
    from churnml.model.estimator import ChurnModel

    resolved = features_small.groupby("as_of")["label"].apply(lambda s: s.notna().mean() >= 0.9)
    start = resolved.index[resolved.to_numpy(dtype=bool)][-2]
    labelled = features_small[features_small["label"].notna()]
    train = labelled[labelled["renewal_date"] < start]
    fitted = ChurnModel(
        n_estimators=40, feature_columns=feature_columns(train), time_column="as_of"
    ).fit(train)
    fitted.config_, fitted.catalog_ = load_config(), load_catalog()
    fitted.training_info_ = {"test_start": str(start.date()), "label": "renewal"}
    return fitted


@pytest.fixture(scope="module")
def audit(tables, vendor, model):
    return audit_health_score(vendor, tables, model=model, capacity=10)


def test_metrics_are_the_two_scores_on_the_same_out_of_time_rows(tables, vendor, model, audit):
    from sklearn.metrics import roc_auc_score

    test = out_of_time_snapshots(tables, model, model.config_, model.training_info_)
    assert test["as_of"].min() >= pd.Timestamp(model.training_info_["test_start"])
    assert test["label"].notna().all()
    # the vendor scores the first of every month: the latest before an as_of is a month earlier
    joined = test.assign(date=test["as_of"] - pd.DateOffset(months=1)).merge(
        vendor, on=["account_id", "date"]
    )
    assert audit.summary["rows"] == len(joined) > 100
    assert audit.summary["churned"] == int(joined["label"].sum())
    metrics = audit.metrics.set_index("metric")
    expected_model = roc_auc_score(joined["label"], model.predict_proba(joined)[:, 1])
    expected_health = roc_auc_score(joined["label"], 100 - joined["health_score"])
    assert metrics.loc["roc_auc", "model"] == pytest.approx(expected_model)
    assert metrics.loc["roc_auc", "health_score"] == pytest.approx(expected_health)
    assert metrics.loc["roc_auc", "model"] > metrics.loc["roc_auc", "health_score"]
    for column in ("model", "health_score"):
        assert 0 < metrics.loc["recall_at_capacity", column] <= 1
        assert metrics.loc["lift_at_capacity", column] > 0
    share = (joined["health"] == "green").mean()
    assert audit.summary["green_share"] == pytest.approx(share)
    assert (
        f"({share:.0%}, the health score's green)"
        in metrics.loc["churners_in_green_share", "label"]
    )


def test_disagreements_follow_their_definitions(audit, vendor):
    d = audit.disagreements
    assert set(d["kind"]) <= set(DISAGREEMENTS) and d["account_id"].is_unique
    missed = d[d["kind"] == "missed_by_health_score"]
    assert (missed["health"] == "green").all()
    assert (d.loc[d["kind"] == "missed_by_model", "tier"] == "green").all()
    assert (np.diff(missed["arr"].to_numpy()) <= 0).all()  # most ARR first
    assert d["name"].notna().all()
    text = audit.format()
    assert "ROC-AUC" in text and "held-out" not in text and "the given model" in text


def test_only_scores_dated_before_the_snapshot_and_recent_enough_count(
    tables, vendor, model, audit
):
    last = pd.Timestamp(audit.summary["test_dates"][-1])
    # a score on the last snapshot's own date is not known at its as_of: nothing changes
    same_day = vendor[vendor["date"] == last].assign(health_score=0, health="red")
    later = pd.concat([vendor[vendor["date"] != last], same_day], ignore_index=True)
    again = audit_health_score(later, tables, model=model, capacity=10)
    pd.testing.assert_frame_equal(again.metrics, audit.metrics)
    with pytest.raises(ChurnmlError, match="within 10 days"):
        audit_health_score(vendor, tables, model=model, max_age_days=10)


def test_bands_alone_and_the_json_round_trip(tables, vendor, model, tmp_path):
    bands = vendor.drop(columns="health_score").rename(columns={"health": "band"})
    audit = audit_health_score(bands, tables, model=model, capacity=10)
    metrics = audit.metrics.set_index("metric")
    assert 0.5 < metrics.loc["roc_auc", "health_score"] < 1
    path = write_audit(audit, tmp_path / "audit.json")
    back = read_audit(path)
    assert isinstance(back, HealthScoreAudit) and back.summary == audit.summary
    pd.testing.assert_frame_equal(back.metrics, audit.metrics)
    assert back.disagreements["account_id"].tolist() == audit.disagreements["account_id"].tolist()


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"account": ["a"], "date": ["2026-01-01"], "health_score": [50]}),
         r"no account_id column; it has \['account', 'date', 'health_score'\]"),
        (pd.DataFrame({"account_id": ["a", "b", "c"], "date": "2026-01-01",
                       "health_score": [50, 140, -3]}),
         r"column 'health_score': 2 of 3 rows are not numbers from 0 to 100, e\.g\. \[140, -3\]"),
        (pd.DataFrame({"account_id": ["a", "b"], "date": "2026-01-01", "health": ["red", "blue"]}),
         r"column 'health': 1 of 2 rows are not red, yellow \(amber\) or green, e\.g\. \['blue'\]"),
        (pd.DataFrame({"account_id": ["a"], "date": ["soon"], "health": ["red"]}),
         r"column 'date': 1 of 1 rows are not dates"),
    ],
)  # fmt: skip
def test_a_bad_health_score_file_is_refused_naming_column_count_and_rows(frame, message):
    with pytest.raises(ChurnmlError, match=message):
        read_health_scores(frame)


def test_health_scores_from_csv_with_amber_bands(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("account_id,as_of,score,color\na,2026-01-01,80,Green\nb,2026-01-01,30,AMBER\n")
    read = read_health_scores(path)
    assert read["health"].tolist() == ["green", "yellow"]  # the file's own bands win
    assert read["risk"].tolist() == [20.0, 70.0]
    other = tmp_path / "scores.json"
    other.write_text("{}")
    with pytest.raises(ChurnmlError, match="not a .csv, .tsv or .parquet"):
        read_health_scores(other)


def test_vendor_score_is_a_scorecard_with_bands_known_before_its_date(saas_small, vendor):
    assert list(vendor.columns) == ["account_id", "date", "health_score", "health"]
    assert vendor[["account_id", "date"]].drop_duplicates().shape[0] == len(vendor)
    assert (vendor["date"].dt.day == 1).all() and vendor["health_score"].between(0, 100).all()
    expected = np.where(vendor["health_score"] >= GREEN_FROM, "green",
                        np.where(vendor["health_score"] < RED_BELOW, "red", "yellow"))  # fmt: skip
    assert (vendor["health"].to_numpy() == expected).all()
    shares = vendor["health"].value_counts(normalize=True)
    assert 0.02 < shares["red"] < 0.25 and shares["green"] > 0.25  # skewed green, like vendors'
    # point in time: cutting the data at a date leaves the scores up to it unchanged
    cut = pd.Timestamp("2025-03-01")
    early = {
        name: frame[pd.to_datetime(frame[column]) < cut] if column else frame
        for name, frame, column in [
            (n, f, {"usage": "ts", "tickets": "opened_at", "nps": "responded_at"}.get(n))
            for n, f in saas_small.items()
        ]
    }
    before = vendor_health_scores(early, seed=3)
    mine = before[before["date"] <= cut].reset_index(drop=True)
    theirs = vendor[vendor["date"] <= cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, theirs)


def test_the_vendor_score_is_blind_to_champions_leaving(saas_small, vendor):
    contacts = saas_small["contacts"].copy()
    champions = contacts["role"] == "champion"
    contacts.loc[champions, "ended_at"] = pd.Timestamp("2024-08-01")  # every champion left early
    blind = vendor_health_scores({**saas_small, "contacts": contacts}, seed=3)
    pd.testing.assert_frame_equal(blind, vendor)
    other = vendor_health_scores(saas_small, seed=4)
    assert (other["health_score"] != vendor["health_score"]).mean() > 0.5
