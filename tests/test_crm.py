"""CRM presets and writers: field names, text limits, atomic files, idempotent upserts, dry run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.scoring.crm import key_fields, load_presets, to_crm, write_crm
from churnml.scoring.score import SCORE_COLUMNS

COVERED = [
    "score",
    "tier",
    "probability",
    "top_reasons",
    "reason_code_1",
    "reason_code_2",
    "reason_code_3",
    "play",
    "trend",
    "previous_score",
    "arr_at_risk",
    "model_name",
    "model_version",
    "scored_at",
    "as_of",
    "account_id",
]


def make_scores(n=6, as_of="2025-06-01", scored_at="2025-06-02 08:00", seed=0) -> pd.DataFrame:
    """A hand-made scores frame with every shared column."""
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0, 1, n), 6)
    arr = rng.integers(10, 200, n) * 1000.0
    frame = pd.DataFrame(
        {
            "account_id": pd.array([f"acc-{i}" for i in range(n)], dtype="string"),
            "name": pd.array([f"Account {i}" for i in range(n)], dtype="string"),
            "segment": pd.array(["smb"] * n, dtype="string"),
            "csm": pd.array(["Ann"] * n, dtype="string"),
            "as_of": pd.Timestamp(as_of),
            "contract_id": pd.array([f"c-{i}" for i in range(n)], dtype="string"),
            "renewal_date": pd.Timestamp(as_of) + pd.Timedelta(days=60),
            "days_to_renewal": pd.array([60] * n, dtype="Int32"),
            "arr": arr,
            "probability": p,
            "score": np.rint(100 * p).astype("int16"),
            "tier": pd.Categorical(np.where(p >= 0.5, "red", "green")),
            "rank": np.arange(1, n + 1, dtype="int32"),
            "arr_at_risk": p * arr,
            "base_value": -1.5,
            "log_odds": np.log(p / (1 - p)),
            "previous_score": pd.array([None] * n, dtype="Int16"),
            "previous_tier": pd.array([None] * n, dtype="string"),
            "trend": pd.array(["new"] * n, dtype="string"),
            "pattern": pd.array([None] * n, dtype="string"),
            "top_reasons": pd.array(
                ["Active users fell 43% in the last 30 days (41 → 23)\n" + "x" * 400] * n,
                dtype="string",
            ),
            "protective_reasons": pd.array([None] * n, dtype="string"),
            "reason_code_1": pd.array(["active_users_change_30d"] * n, dtype="string"),
            "reason_code_2": pd.array(["tickets_90d"] * n, dtype="string"),
            "reason_code_3": pd.array([None] * n, dtype="string"),
            "play": pd.array(["Adoption workshop for inactive seats"] * n, dtype="string"),
            "plays": pd.array(["Adoption workshop for inactive seats"] * n, dtype="string"),
            "model_name": pd.array(["churnml"] * n, dtype="string"),
            "model_version": pd.array(["3"] * n, dtype="string"),
            "scored_at": pd.Timestamp(scored_at),
        }
    )
    return frame[SCORE_COLUMNS]


@pytest.mark.parametrize("preset", ["generic", "salesforce", "hubspot"])
def test_presets_cover_the_fields(preset):
    fields = load_presets()[preset]["fields"]
    assert set(COVERED) <= set(fields)
    crm = to_crm(make_scores(), preset)
    assert list(crm.columns) == list(fields.values())
    assert crm[fields["score"]].tolist() == make_scores()["score"].tolist()
    if preset == "hubspot":
        assert all(c == c.lower() for c in crm.columns)


def test_salesforce_names_and_text_limit():
    crm = to_crm(make_scores(), "salesforce")
    assert key_fields("salesforce") == ["Account_External_Id__c", "Churn_Risk_As_Of__c"]
    assert "Churn_Risk_Score__c" in crm and "Churn_Risk_Tier__c" in crm
    assert crm["Churn_Risk_Reasons__c"].str.len().max() == 255
    assert crm["Churn_Risk_Reasons__c"].iloc[0].startswith("Active users fell 43%")
    generic = to_crm(make_scores(), "generic")
    assert generic["churn_risk_reasons"].str.len().min() > 255  # no limit in the generic preset


def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "crm.csv"
    write_crm(make_scores(seed=0), path)
    before = path.read_bytes()
    original = pd.DataFrame.to_csv

    def crash(self, target, *args, **kwargs):
        original(self.iloc[:2], target, *args, **kwargs)  # half a file on disk ...
        raise KeyboardInterrupt  # ... then the run dies

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    with pytest.raises(KeyboardInterrupt):
        write_crm(make_scores(seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["crm.csv"]  # no temporary file left behind


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_rerun_is_idempotent_apart_from_scored_at(tmp_path, suffix):
    path = tmp_path / f"crm.{suffix}"
    first = write_crm(make_scores(scored_at="2025-06-02 08:00"), path, preset="salesforce")
    assert (first.inserted, first.updated, first.unchanged) == (6, 0, 0)
    a = pd.read_csv(path) if suffix == "csv" else pd.read_parquet(path)
    again = write_crm(make_scores(scored_at="2025-06-02 09:30"), path, preset="salesforce")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    b = pd.read_csv(path) if suffix == "csv" else pd.read_parquet(path)
    pd.testing.assert_frame_equal(
        a.drop(columns="Churn_Scored_At__c"), b.drop(columns="Churn_Scored_At__c")
    )
    assert (a["Churn_Scored_At__c"] != b["Churn_Scored_At__c"]).all()


def test_sqlite_upsert_idempotent_and_dry_run(tmp_path):
    url = f"sqlite:///{tmp_path}/crm.db"
    import sqlalchemy as sa

    first = write_crm(make_scores(), db=url)
    assert (first.inserted, first.updated, first.unchanged) == (6, 0, 0)
    again = write_crm(make_scores(scored_at="2025-06-03"), db=url)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    changed = make_scores()
    changed.loc[[0, 1], "score"] = np.array([99, 1], dtype="int16")
    changed = pd.concat([changed, make_scores(n=7).iloc[[6]]], ignore_index=True)
    dry = write_crm(changed, db=url, dry_run=True)
    assert (dry.inserted, dry.updated, dry.unchanged) == (1, 2, 4)
    assert set(dry.diff.loc[dry.diff["status"] == "changed", "changed"]) == {"churn_risk_score"}
    assert "would write" in dry.summary() and "acc-6" in dry.summary()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = pd.read_sql("select * from churn_risk order by account_id", conn)
    assert (
        len(stored) == 6 and stored["churn_risk_score"].tolist() == make_scores()["score"].tolist()
    )  # the dry run wrote nothing
    write_crm(changed, db=url)
    with engine.connect() as conn:
        stored = pd.read_sql("select * from churn_risk order by account_id", conn)
    assert len(stored) == 7 and stored["churn_risk_score"].tolist()[:2] == [99, 1]


def test_file_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "crm.parquet"
    result = write_crm(make_scores(), path, dry_run=True)
    assert result.paths == [] and not path.exists() and result.inserted == 6
