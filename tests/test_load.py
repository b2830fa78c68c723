"""load_tables from every kind of source, parsing to contract kinds, write_tables, contact matching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.data.load import load_tables, parse_table, write_tables
from churnml.data.validate import DataQualityError

T = pd.Timestamp


def small_tables():
    accounts = pd.DataFrame(
        {
            "account_id": ["007", "008", "009"],
            "name": ["Acme", "Beta", "Gamma"],
            "segment": ["smb", "enterprise", "mid_market"],
            "email_domain": ["acme.com", "beta.io", "gamma.org"],
        }
    )
    contracts = pd.DataFrame(
        {
            "contract_id": ["k1", "k2", "k3"],
            "account_id": ["007", "008", "009"],
            "start_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
            "end_date": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
            "arr": [1200.0, 50000.0, 9000.0],
            "outcome": ["renewed", "churned", "open"],
        }
    )
    usage = pd.DataFrame(
        {
            "account_id": ["007", "007", "008"],
            "user_id": ["u1", "u2", "u3"],
            "ts": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 11:30", "2024-05-03 00:00"]),
            "event": ["login", "report", "login"],
            "quantity": [1.0, 3.0, 2.0],
        }
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": ["t1", "t2"],
            "account_id": ["007", "009"],
            "opened_at": pd.to_datetime(["2024-06-01", "2024-06-02"]),
            "escalated": [True, False],
            "priority": ["high", "low"],
        }
    )
    return {"accounts": accounts, "contracts": contracts, "usage": usage, "tickets": tickets}


def assert_contract_frame(tables):
    c = tables["contracts"]
    assert c["account_id"].tolist() == ["007", "008", "009"]
    assert pd.api.types.is_string_dtype(c["contract_id"])
    assert pd.api.types.is_datetime64_dtype(c["start_date"]) and c["start_date"].dt.tz is None
    assert c["arr"].dtype == "float64"
    assert c.loc[1, "end_date"] == T("2025-02-01")


def test_dict_source_parses_and_restricts():
    raw = small_tables()
    raw["contracts"] = raw["contracts"].assign(
        account_id=[7, 8, 9],
        arr=["1200", "50000", "9000"],
        start_date=["2024-01-01", "2024-02-01", "2024-03-01"],
    )
    tables = load_tables(raw, tables=["contracts", "accounts"], validate=False)
    assert sorted(tables) == ["accounts", "contracts"]
    c = tables["contracts"]
    assert c["account_id"].tolist() == ["7", "8", "9"]
    assert c["arr"].tolist() == [1200.0, 50000.0, 9000.0]
    assert c["start_date"].tolist() == [T("2024-01-01"), T("2024-02-01"), T("2024-03-01")]


def test_folder_of_parquet_roundtrip(tmp_path):
    paths = write_tables(small_tables(), tmp_path / "out")
    assert sorted(paths) == ["accounts", "contracts", "tickets", "usage"]
    assert all(p.exists() and p.suffix == ".parquet" for p in paths.values())
    assert not [p for p in (tmp_path / "out").iterdir() if p.suffix == ".tmp"]
    tables = load_tables(tmp_path / "out", validate=True)
    assert_contract_frame(tables)
    assert "nps" not in tables and "goals" not in tables
    assert str(tables["tickets"]["escalated"].dtype) == "boolean"
    pd.testing.assert_frame_equal(tables["usage"], small_tables()["usage"], check_dtype=False)


def test_folder_of_csv_keeps_ids_as_text_and_parses(tmp_path):
    raw = small_tables()
    for name, frame in raw.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "notes.txt").write_text("ignored")
    tables = load_tables(tmp_path)
    assert_contract_frame(tables)  # "007" stays "007"
    assert tables["usage"]["ts"].tolist() == raw["usage"]["ts"].tolist()
    assert tables["tickets"]["escalated"].tolist() == [True, False]


def test_csv_extra_columns_become_numbers_when_they_all_are(tmp_path):
    frame = small_tables()["accounts"].assign(employees=["10", "20", "30"], note=["a", "1", "b"])
    frame.to_csv(tmp_path / "accounts.csv", index=False)
    accounts = load_tables(tmp_path, validate=False)["accounts"]
    assert accounts["employees"].tolist() == [10, 20, 30]
    assert accounts["note"].tolist() == ["a", "1", "b"]


def test_duckdb_file_source(tmp_path):
    import duckdb

    db = tmp_path / "crm.duckdb"
    con = duckdb.connect(str(db))
    raw = small_tables()
    for name in ("accounts", "contracts"):
        con.register("frame", raw[name])
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
        con.unregister("frame")
    con.execute("CREATE TABLE usage (account_id VARCHAR, ts TIMESTAMPTZ)")
    con.execute("INSERT INTO usage VALUES ('007', '2024-05-01 12:00:00+02:00')")
    con.close()
    tables = load_tables(db)
    assert sorted(tables) == ["accounts", "contracts", "usage"]
    assert_contract_frame(tables)
    assert tables["usage"]["ts"].tolist() == [T("2024-05-01 10:00")]
    assert tables["usage"]["ts"].dt.tz is None


def test_timestamps_in_local_time_and_with_offsets_become_utc():
    usage = pd.DataFrame(
        {
            "account_id": ["a", "a", "a", "a"],
            "ts": [
                "2024-01-15 12:00",
                "2024-07-15 12:00",
                "2024-07-15T12:00:00+02:00",
                "2024-07-15T12:00:00Z",
            ],
        }
    )
    parsed = parse_table("usage", usage, timezone="Europe/Berlin")
    assert parsed["ts"].tolist() == [
        T("2024-01-15 11:00"),  # CET = UTC+1
        T("2024-07-15 10:00"),  # CEST = UTC+2
        T("2024-07-15 10:00"),
        T("2024-07-15 12:00"),
    ]
    mixed = parsed.attrs["churnml"]["mixed_timezones"]
    assert mixed[0]["column"] == "ts" and (mixed[0]["zoned"], mixed[0]["naive"]) == (2, 2)


def test_unparseable_values_become_missing_and_are_recorded():
    contracts = small_tables()["contracts"].astype({"arr": object})
    contracts.loc[1, "arr"] = "fifty"
    contracts["end_date"] = contracts["end_date"].astype(object)
    contracts.loc[2, "end_date"] = "someday"
    parsed = parse_table("contracts", contracts)
    assert np.isnan(parsed.loc[1, "arr"]) and pd.isna(parsed.loc[2, "end_date"])
    problems = {p["column"]: p for p in parsed.attrs["churnml"]["unparseable"]}
    assert (
        problems["arr"]["count"] == 1 and "contract_id=k2: 'fifty'" in problems["arr"]["examples"]
    )
    assert problems["end_date"]["examples"] == ["contract_id=k3: 'someday'"]


def test_validate_true_raises_on_fatal_problems():
    raw = small_tables()
    raw["contracts"].loc[0, "arr"] = -5.0
    with pytest.raises(DataQualityError, match="table contracts, column arr"):
        load_tables(raw)
    assert load_tables(raw, validate=False)["contracts"].loc[0, "arr"] == -5.0


def test_contacts_matched_by_email_domain():
    raw = small_tables()
    raw["accounts"].loc[2, "email_domain"] = (
        "www.acme.com"  # 009 shares acme.com with 007: ambiguous
    )
    raw["contacts"] = pd.DataFrame(
        {
            "contact_id": ["p1", "p2", "p3", "p4", "p5"],
            "account_id": ["009", None, None, None, None],
            "email": [
                "x@acme.com",
                "Bea <bea@Mail.Beta.io>",
                "cy@acme.com",
                "dee@nowhere.net",
                None,
            ],
        }
    )
    contacts = load_tables(raw, validate=False)["contacts"]
    assert contacts["account_id"].tolist()[:2] == ["009", "008"]
    assert contacts["account_id"].iloc[2:].isna().all()
    assert contacts["account_match"].tolist() == [
        "given",
        "email_domain",
        "unmatched",
        "unmatched",
        "unmatched",
    ]
    stats = contacts.attrs["churnml_contact_match"]
    assert (stats["needed"], stats["matched"], stats["unmatched"], stats["ambiguous"]) == (
        4,
        1,
        3,
        1,
    )


def test_missing_source_and_single_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data source not found"):
        load_tables(tmp_path / "nope")
    small_tables()["accounts"].to_csv(tmp_path / "accounts.csv", index=False)
    with pytest.raises(ValueError, match="single file"):
        load_tables(tmp_path / "accounts.csv")


def test_synthetic_roundtrip_through_parquet(saas_small, tmp_path):
    write_tables(saas_small, tmp_path)
    tables = load_tables(tmp_path, tables=["accounts", "contracts", "usage", "contacts", "oracle"])
    assert len(tables["usage"]) == len(saas_small["usage"])
    assert tables["oracle"].shape == saas_small["oracle"].shape
    pd.testing.assert_series_equal(
        tables["contracts"]["end_date"], saas_small["contracts"]["end_date"]
    )
    stats = tables["contacts"].attrs["churnml_contact_match"]
    assert stats["needed"] == int(saas_small["contacts"]["account_id"].isna().sum())
    assert stats["matched"] > 0


def test_curated_words_are_normalised_to_the_contract_spelling():
    raw = small_tables()
    raw["accounts"]["segment"] = ["SMB", "Mid Market", "strategic"]
    raw["contracts"]["outcome"] = [" Renewed", "CHURNED", "open"]
    tables = load_tables(raw, validate=False)
    assert tables["accounts"]["segment"].tolist() == ["smb", "mid_market", "strategic"]
    assert tables["contracts"]["outcome"].tolist() == ["renewed", "churned", "open"]
