"""Upsert two scoring runs into a real PostgreSQL server (and SQLite) and read back the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from services.postgres import postgres_server
from test_crm import make_scores

from churnml.scoring.crm import write_crm


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/crm.db"
    return request.getfixturevalue("postgres_url")


def read_back(url, table):
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(
                sa.text(f"select * from {table} order by churn_risk_as_of, churn_account_id"),
                conn,
            )
    finally:
        engine.dispose()


def test_upsert_two_runs(db_url, request):
    table = f"churn_risk_{request.node.callspec.id}"
    may = make_scores(n=5, as_of="2025-05-01", scored_at="2025-05-02 06:00", seed=1)
    june = make_scores(n=6, as_of="2025-06-01", scored_at="2025-06-02 06:00", seed=2)
    june.loc[2, "reason_code_3"] = "arr"  # a text column mixing values and NULLs
    first = write_crm(may, db=db_url, preset="hubspot", table=table)
    assert (first.inserted, first.updated, first.unchanged) == (5, 0, 0)
    second = write_crm(june, db=db_url, preset="hubspot", table=table)
    assert (second.inserted, second.updated, second.unchanged) == (6, 0, 0)
    # the June run again, one score corrected and a later scored_at: one update, no duplicates
    fixed = june.assign(scored_at=pd.Timestamp("2025-06-02 07:00"))
    fixed.loc[3, "score"] = np.int16(97)
    again = write_crm(fixed, db=db_url, preset="hubspot", table=table)
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 5)
    assert again.diff.loc[again.diff["status"] == "changed", "churn_account_id"].tolist() == [
        "acc-3"
    ]

    stored = read_back(db_url, table)
    expected = pd.concat([may, fixed], ignore_index=True)
    assert len(stored) == 11
    assert not stored.duplicated(["churn_account_id", "churn_risk_as_of"]).any()
    assert stored["churn_account_id"].tolist() == expected["account_id"].tolist()
    assert pd.to_datetime(stored["churn_risk_as_of"]).tolist() == expected["as_of"].tolist()
    assert stored["churn_risk_score"].tolist() == expected["score"].tolist()
    np.testing.assert_allclose(stored["churn_probability"], expected["probability"], rtol=1e-12)
    np.testing.assert_allclose(stored["churn_arr_at_risk"], expected["arr_at_risk"], rtol=1e-12)
    assert stored["churn_risk_tier"].tolist() == expected["tier"].astype(str).tolist()
    assert stored["churn_reason_code_3"].isna().sum() == 10  # SQL NULL, not the text 'NaN'
    assert stored["churn_reason_code_3"].dropna().tolist() == ["arr"]
    assert stored["churn_previous_score"].isna().all()
    assert stored["churn_risk_reasons"].tolist() == expected["top_reasons"].tolist()
    # only the corrected row was rewritten: unchanged rows keep their first scored_at
    scored = pd.to_datetime(stored["churn_scored_at"])
    june_rows = stored["churn_risk_as_of"].astype(str).str.startswith("2025-06")
    assert (scored[june_rows & (stored["churn_account_id"] == "acc-3")] == "2025-06-02 07:00").all()
    assert (scored[june_rows & (stored["churn_account_id"] != "acc-3")] == "2025-06-02 06:00").all()


def test_database_without_its_driver_is_a_clear_error(monkeypatch):
    import sys

    from churnml.errors import ChurnmlError
    from churnml.scoring.database import engine_for

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(ChurnmlError, match="driver 'psycopg' is not installed") as caught:
        engine_for("postgresql+psycopg://scorer:secret@127.0.0.1:5432/crm")
    assert "churnml[postgres]" in caught.value.hint
    assert "secret" not in str(caught.value)


def test_a_table_of_a_preset_that_gained_fields_gets_its_new_columns(db_url, request):
    from churnml.scoring.crm import get_preset, load_presets

    table = f"churn_gained_{request.node.callspec.id}"
    fields = load_presets()["hubspot"]["fields"]
    gained = ("csm_rank", "change_summary")
    older = {**get_preset("hubspot"),
             "fields": {k: v for k, v in fields.items() if k not in gained}}  # fmt: skip
    may = make_scores(n=5, as_of="2025-05-01", scored_at="2025-05-02 06:00", seed=1)
    write_crm(may, db=db_url, preset=older, table=table)
    june = make_scores(n=5, as_of="2025-06-01", scored_at="2025-06-02 06:00", seed=2)
    june["change_summary"] = pd.array(["Risk up 3 points since 1 May 2025"] * 5, dtype="string")
    written = write_crm(june, db=db_url, preset="hubspot", table=table)
    assert (written.inserted, written.updated) == (5, 0)
    stored = read_back(db_url, table)
    assert set(stored.columns) == set(fields.values())
    assert stored["churn_csm_rank"].isna().tolist() == [True] * 5 + [False] * 5
    assert stored["churn_csm_rank"].iloc[5:].tolist() == [1, 2, 3, 4, 5]
    assert stored["churn_risk_change"].iloc[5:].eq("Risk up 3 points since 1 May 2025").all()
