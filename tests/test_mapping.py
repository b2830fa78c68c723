"""Mapping a foreign export onto the contract with a mapping file alone, and mapping errors."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from churnml.data.load import load_tables
from churnml.data.mapping import mapping_from_dict, read_mapping

T = pd.Timestamp

MAPPING = """
source: raw/
timezone: Europe/Berlin
tables:
  accounts:
    file: customers.csv
    columns: {account_id: cust_no, name: company, segment: tier}
  contracts:
    timezone: UTC
    sql: |
      SELECT sub_id AS contract_id, cust_no AS account_id, begins AS start_date, ends AS end_date,
             mrr * 12 AS arr,
             CASE WHEN churn_flag IS NULL THEN 'open' WHEN churn_flag THEN 'churned' ELSE 'renewed' END
               AS outcome
      FROM subscriptions
  usage:
    sql: |
      SELECT s.cust_no AS account_id, e.happened AS ts, e.feature AS event
      FROM events AS e JOIN subscriptions AS s USING (sub_id)
    formats: {ts: "%d/%m/%Y %H:%M"}
  tickets:
    table: helpdesk
    columns: {ticket_id: id, account_id: customer, opened_at: created}
"""


@pytest.fixture
def export(tmp_path):
    """A foreign export: other names, usage keyed by subscription, a churn flag, local times."""
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame(
        {"cust_no": ["0042", "0043"], "company": ["Acme", "Beta"], "tier": ["smb", "enterprise"]}
    ).to_csv(raw / "customers.csv", index=False)
    pd.DataFrame(
        {
            "sub_id": ["S1", "S2", "S3"],
            "cust_no": ["0042", "0043", "0043"],
            "begins": pd.to_datetime(["2024-01-01", "2024-02-01", "2025-02-01"]).date,
            "ends": pd.to_datetime(["2025-01-01", "2025-02-01", "2026-02-01"]).date,
            "mrr": [100.0, 2500.0, 2000.0],
            "churn_flag": pd.array([True, False, None], dtype="boolean"),
        }
    ).to_parquet(raw / "subscriptions.parquet", index=False)
    pd.DataFrame(
        {
            "event_id": [1, 2, 3],
            "sub_id": ["S1", "S2", "S3"],
            "happened": ["15/01/2024 09:30", "15/07/2024 09:30", "03/02/2025 00:15"],
            "feature": ["login", "export", "login"],
        }
    ).to_parquet(raw / "events.parquet", index=False)
    pd.DataFrame(
        {"id": ["H1"], "customer": ["0042"], "created": ["2024-03-01T10:00:00+01:00"]}
    ).to_csv(raw / "helpdesk.csv", index=False)
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING)
    return path


def test_foreign_export_maps_onto_the_contract(export):
    tables = load_tables(None, mapping=export)
    assert sorted(tables) == ["accounts", "contracts", "tickets", "usage"]

    accounts = tables["accounts"]
    assert accounts["account_id"].tolist() == ["0042", "0043"]
    assert accounts["segment"].tolist() == ["smb", "enterprise"]

    c = tables["contracts"].sort_values("contract_id").reset_index(drop=True)
    assert c["account_id"].tolist() == ["0042", "0043", "0043"]
    assert c["arr"].tolist() == [1200.0, 30000.0, 24000.0]
    assert c["outcome"].tolist() == ["churned", "renewed", "open"]
    assert c["start_date"].tolist() == [
        T("2024-01-01"),
        T("2024-02-01"),
        T("2025-02-01"),
    ]  # UTC table

    u = tables["usage"].sort_values("ts").reset_index(drop=True)
    assert u["account_id"].tolist() == ["0042", "0043", "0043"]
    assert u["ts"].tolist() == [
        T("2024-01-15 08:30"),  # 09:30 CET
        T("2024-07-15 07:30"),  # 09:30 CEST
        T("2025-02-02 23:15"),  # 00:15 CET, the day before in UTC
    ]
    assert "user_id" not in u.columns  # usage without users is accepted

    t = tables["tickets"]
    assert t["ticket_id"].tolist() == ["H1"] and t["opened_at"].tolist() == [T("2024-03-01 09:00")]


def test_explicit_source_overrides_the_mapping_source(export, tmp_path):
    other = tmp_path / "copy"
    other.mkdir()
    for f in (tmp_path / "raw").iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    pd.DataFrame({"id": ["H9"], "customer": ["0043"], "created": ["2024-03-01"]}).to_csv(
        other / "helpdesk.csv", index=False
    )
    tables = load_tables(other, mapping=export, tables=["accounts", "tickets"])
    assert tables["tickets"]["ticket_id"].tolist() == ["H9"]


def test_mapping_over_a_dict_and_a_duckdb_file(tmp_path):
    import duckdb

    frames = {
        "clients": pd.DataFrame({"cid": ["a", "b"]}),
        "deals": pd.DataFrame(
            {"did": ["d1", "d2"], "cid": ["a", "b"], "s": ["2024-01-01", "2024-01-01"],
             "e": ["2025-01-01", "2025-01-01"], "value": [10.0, 20.0]}
        ),
    }  # fmt: skip
    spec = {
        "tables": {
            "accounts": {"table": "clients", "columns": {"account_id": "cid"}},
            "contracts": {"sql": "SELECT did AS contract_id, cid AS account_id, s AS start_date, "
                                 "e AS end_date, value AS arr FROM deals WHERE value > 15"},
        }
    }  # fmt: skip
    tables = load_tables(frames, mapping=mapping_from_dict(spec))
    assert tables["contracts"]["contract_id"].tolist() == ["d2"]

    db = tmp_path / "crm.db"
    con = duckdb.connect(str(db))
    for name, frame in frames.items():
        con.register("f", frame)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM f')
        con.unregister("f")
    con.close()
    tables = load_tables(db, mapping=mapping_from_dict(spec))
    assert tables["accounts"]["account_id"].tolist() == ["a", "b"]
    assert tables["contracts"]["start_date"].tolist() == [T("2024-01-01")]


def write(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables: {acounts: {file: a.csv}}", "unknown table 'acounts'"),
        ("tables: {accounts: {fiel: a.csv}}", r"unknown keys \['fiel'\]"),
        ("timezone: Mars/Olympus\ntables: {}", "unknown timezone 'Mars/Olympus'"),
        ("tables: {usage: {timezone: Nowhere}}", "table 'usage'.*unknown timezone 'Nowhere'"),
        ("tables: {accounts: {file: a.csv, sql: SELECT 1}}", r"only one of file, table or sql, but got \['file', 'sql'\]"),
        ("tables: {accounts: {columns: {acount_id: x}}}", r"contract columns .* but got \['acount_id'\]"),
        ("tables: {contracts: {formats: {arr: '%d'}}}", r"timestamp columns only, but got \['arr'\]"),
        ("tables: {accounts: {columns: {account_id: 5}}}", "entries must be strings, but got {'account_id': 5}"),
        ("sauce: raw/", r"unknown keys \['sauce'\]"),
        ("tables: [accounts]", "tables must map table name"),
    ],
)  # fmt: skip
def test_bad_mappings_show_the_bad_value(tmp_path, text, message):
    with pytest.raises((ValueError, TypeError), match=message):
        read_mapping(write(tmp_path, text))


def test_mapping_errors_found_when_reading(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame({"cid": ["a"]}).to_csv(raw / "clients.csv", index=False)
    mapping = write(
        tmp_path,
        "source: raw\ntables: {accounts: {file: clients.csv, columns: {account_id: cust}}}",
    )
    with pytest.raises(
        ValueError, match=r"columns \['cust'\] not in the source table; it has \['cid'\]"
    ):
        load_tables(None, mapping=mapping)
    mapping = write(tmp_path, "source: raw\ntables: {accounts: {table: customers}}")
    with pytest.raises(
        ValueError, match=r"source table 'customers' not found .* available: \['clients'\]"
    ):
        load_tables(None, mapping=mapping)
    mapping = write(tmp_path, "source: raw\ntables: {accounts: {sql: SELECT nope FROM clients}}")
    with pytest.raises(
        ValueError,
        match=r'tables.accounts.sql: the SQL failed in DuckDB: Binder Error: .*"nope" not found',
    ):
        load_tables(None, mapping=mapping)
    with pytest.raises(FileNotFoundError, match="mapping file not found"):
        read_mapping(tmp_path / "absent.yaml")


def test_mapping_is_frozen(export):
    mapping = read_mapping(export)
    assert mapping.source == export.parent / "raw"
    assert (
        mapping.timezone_for("contracts") == "UTC"
        and mapping.timezone_for("usage") == "Europe/Berlin"
    )
    with pytest.raises(AttributeError):
        mapping.timezone = "UTC"
    with pytest.raises(TypeError):
        mapping.tables["accounts"].columns["name"] = "x"
