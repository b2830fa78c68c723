"""CRM presets and writers: field names, text limits, atomic files, idempotent upserts, dry run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnml.scoring.crm import get_preset, key_fields, load_presets, to_crm, write_crm
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
    "play_owner",
    "risk_areas",
    "trend",
    "previous_score",
    "change_summary",
    "decision_maker_health",
    "influencer_health",
    "user_health",
    "arr_at_risk",
    "csm_rank",
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
            "play_owner": pd.array(["Product specialist"] * n, dtype="string"),
            "plays": pd.array(["Adoption workshop for inactive seats"] * n, dtype="string"),
            "play_owners": pd.array(["Product specialist"] * n, dtype="string"),
            "expected_arr_at_risk": p * arr,
            "csm_rank": pd.array(np.arange(1, n + 1), dtype="Int32"),
            "csm_focus": np.arange(1, n + 1) <= 5,
            "score_change": pd.array([None] * n, dtype="Int16"),
            "changed_since": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
            "change_summary": pd.array([None] * n, dtype="string"),
            "risk_areas": pd.array(["Adoption 70%"] * n, dtype="string"),
            "top_family": pd.array(["usage"] * n, dtype="string"),
            "decision_maker_health": pd.array(["healthy"] * n, dtype="string"),
            "influencer_health": pd.array(["watch"] * n, dtype="string"),
            "user_health": pd.array(["at risk"] * n, dtype="string"),
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
    original, write_bytes = pd.DataFrame.to_csv, Path.write_bytes

    def crash(self, target, *args, **kwargs):
        original(self.iloc[:2], target, *args, **kwargs)  # half a file on disk ...
        raise KeyboardInterrupt  # ... then the run dies

    def crash_bytes(self, data):  # the Arrow-assembled CSV is written in one call
        write_bytes(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    monkeypatch.setattr(Path, "write_bytes", crash_bytes)
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


# --- safe CSV, one table per preset, concurrent writers ---------------------------------------
HOSTILE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1)", "-2+3", "\tx", "\r=1"]


def hostile_scores() -> pd.DataFrame:
    scores = make_scores(n=7)
    scores["name"] = pd.array([*HOSTILE, "Acme - North"], dtype="string")
    scores["account_id"] = pd.array(["=acc-0", *[f"acc-{i}" for i in range(1, 7)]], dtype="string")
    scores["top_reasons"] = pd.array(["=" + "x" * 300] + [None] * 6, dtype="string")
    return scores


def test_formula_cells_are_neutralised_in_csv_but_kept_in_parquet_and_the_database(tmp_path):
    import sqlalchemy as sa

    scores = hostile_scores()
    url = f"sqlite:///{tmp_path}/crm.db"
    write_crm(scores, tmp_path / "crm.csv", db=url)
    csv = pd.read_csv(tmp_path / "crm.csv", dtype=str, keep_default_na=False)
    assert csv["account_name"].tolist() == ["'" + v for v in HOSTILE] + ["Acme - North"]
    assert csv["account_id"].iloc[0] == "'=acc-0" and csv["account_id"].iloc[1] == "acc-1"
    assert csv["churn_risk_score"].tolist() == [str(s) for s in scores["score"]]  # numbers as is
    write_crm(scores, tmp_path / "crm.parquet")
    for kept in (
        pd.read_parquet(tmp_path / "crm.parquet"),
        pd.read_sql("select * from churn_risk", sa.create_engine(url)),
    ):
        assert kept["account_name"].tolist()[:6] == HOSTILE
        assert kept["account_id"].iloc[0] == "=acc-0"
    again = write_crm(scores, tmp_path / "crm.csv")  # the file diff compares like with like
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 7)
    salesforce = tmp_path / "sf.csv"
    write_crm(scores, salesforce, preset="salesforce")
    reasons = pd.read_csv(salesforce, dtype=str)["Churn_Risk_Reasons__c"].iloc[0]
    assert reasons.startswith("'=x") and len(reasons) == 255  # quoted, still within the limit


def test_the_formula_guard_is_a_preset_setting(tmp_path):
    from churnml.scoring.crm import get_preset

    assert all(preset["csv_formula_guard"] for preset in load_presets().values())
    verbatim = {**get_preset("generic"), "csv_formula_guard": False}
    write_crm(hostile_scores(), tmp_path / "crm.csv", preset=verbatim)
    csv = pd.read_csv(tmp_path / "crm.csv", dtype=str, keep_default_na=False)
    assert csv["account_name"].iloc[2] == "@SUM(1)"
    bad = tmp_path / "presets.yaml"
    bad.write_text("x:\n  csv_formula_guard: maybe\n  fields: {account_id: a, as_of: b}\n")
    with pytest.raises(TypeError, match="csv_formula_guard must be true or false, got 'maybe'"):
        load_presets(bad)


def test_another_presets_table_is_refused_naming_missing_and_extra_columns(tmp_path):
    import sqlalchemy as sa

    from churnml.errors import ChurnmlError

    url = f"sqlite:///{tmp_path}/crm.db"
    write_crm(make_scores(), db=url, preset="generic")
    n = len(load_presets()["salesforce"]["fields"])
    for dry_run in (True, False):
        missing = rf"{n} missing \['Account_External_Id__c'"
        with pytest.raises(ChurnmlError, match=missing) as caught:
            write_crm(make_scores(), db=url, preset="salesforce", dry_run=dry_run)
        assert "extra ['account_id', 'as_of'" in str(caught.value)
        assert "--db-table" in caught.value.hint
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("select count(*) from churn_risk")).scalar() == 6
    other = write_crm(make_scores(), db=url, preset="salesforce", table="churn_risk_salesforce")
    assert other.inserted == 6


def test_a_table_written_before_the_preset_gained_fields_gets_the_new_columns(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path}/crm.db"
    fields = load_presets()["salesforce"]["fields"]
    older = {**get_preset("salesforce"),
             "fields": {k: v for k, v in fields.items() if k not in ("csm_rank", "risk_areas")}}
    write_crm(make_scores(), db=url, preset=older)
    dry = write_crm(make_scores(), db=url, preset="salesforce", dry_run=True)
    assert dry.updated == 6  # the new fields are compared as changed, nothing is written
    with sa.create_engine(url).connect() as conn:
        columns = [c["name"] for c in sa.inspect(conn).get_columns("churn_risk")]
    assert "Churn_CSM_Rank__c" not in columns
    written = write_crm(make_scores(), db=url, preset="salesforce")
    assert written.updated == 6 and written.inserted == 0
    with sa.create_engine(url).connect() as conn:
        rows = pd.read_sql("select * from churn_risk order by Churn_CSM_Rank__c", conn)
    assert rows["Churn_CSM_Rank__c"].tolist() == list(range(1, 7))
    assert rows["Churn_Risk_Areas__c"].eq("Adoption 70%").all()
    assert set(rows.columns) == set(fields.values())


CREATOR = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_crm import make_scores
from churnml.scoring.crm import write_crm

url, go, me = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
scores = make_scores(n=40, seed=me, as_of=f"2025-0{me + 1}-01")
Path(f"{go}.{me}").touch()
while not go.exists():
    time.sleep(0.005)
print(write_crm(scores, db=url).inserted)
"""


def test_concurrent_writers_creating_a_new_sqlite_table_all_succeed(tmp_path):
    import subprocess
    import sys
    import time
    from pathlib import Path

    import sqlalchemy as sa

    script = tmp_path / "creator.py"
    script.write_text(CREATOR)
    url, go, n = f"sqlite:///{tmp_path}/crm.db", tmp_path / "go", 3
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(Path(__file__).parent), url, str(go), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.{i}").exists() for i in range(n)):  # all imported: start together
        assert time.monotonic() < deadline and all(c.poll() is None for c in children)
        time.sleep(0.01)
    go.touch()
    results = [c.communicate(timeout=120) for c in children]
    assert [c.returncode for c in children] == [0] * n, [err[-800:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["40"] * n
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("select count(*) from churn_risk")).scalar() == 40 * n
