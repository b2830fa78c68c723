"""The Salesforce vendor set in a real PostgreSQL server, one schema per system as the ingestion
tools land it (loaded with COPY): every preset's SQL runs in PostgreSQL itself, as a database
source runs it where the data live, and gives back the world's contract tables and indicators."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from services.postgres import postgres_server
from vendor_world import assert_same_features, assert_same_table, expected_tables

import churnml
from churnml.data.load import load_tables
from churnml.data.mapping import mapping_from_dict
from churnml.data.synthetic.vendors import export_vendors, vendor_ids
from churnml.data.synthetic.vendors.segment import track_chunks
from churnml.data.synthetic.vendors.write import copy_to_postgres

pytestmark = pytest.mark.slow

MAPPING = Path(__file__).parent / "data" / "vendor_salesforce_mapping.yaml"
WORLD = {"n_accounts": 40, "months": 12, "seed": 5}


@pytest.fixture(scope="module")
def world():
    return churnml.datasets.make_saas(**WORLD)


@pytest.fixture(scope="module")
def server():
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def database(world, server):
    """A PostgreSQL URL holding the Salesforce vendor set."""
    raw = export_vendors(world, "salesforce", seed=5, tracks=False)
    ids = vendor_ids(world, "salesforce", seed=5)
    rows = copy_to_postgres(raw, server, tracks=track_chunks(world["usage"], ids, seed=5,
                                                             rows=40_000))
    assert rows["segment.tracks"] > world["usage"]["quantity"].sum()  # plus anonymous calls
    return server


def run_in_postgres(url: str, statement: str) -> pd.DataFrame:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'America/Los_Angeles'")  # the presets count UTC days anyway
        cur.execute(statement)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def test_the_tables_keep_their_warehouse_types(database):
    types = run_in_postgres(database, """
        SELECT table_schema || '.' || table_name || '.' || column_name AS "column", data_type
        FROM information_schema.columns
        WHERE table_schema IN ('salesforce', 'stripe', 'zendesk', 'segment', 'delighted')""")
    kind = dict(zip(types["column"], types["data_type"], strict=True))
    assert kind["salesforce.contract.end_date"] == "date"
    assert kind["stripe.subscriptions.start_date"] == "bigint"  # epoch seconds
    assert kind["stripe.subscription_items.price"] == "jsonb"
    assert kind["segment.tracks.timestamp"] == "timestamp with time zone"
    assert kind["salesforce.account.is_deleted"] == "boolean"


def test_the_presets_run_in_postgresql_and_give_back_the_world(world, database):
    mapping = mapping_from_dict(yaml.safe_load(MAPPING.read_text()))
    contract = {}
    for name, table in mapping.tables.items():
        kind, value = table.origin
        statement = value if kind == "sql" else f'SELECT * FROM "{value}"'
        contract[name] = run_in_postgres(database, statement).rename(
            columns={user: mine for mine, user in table.columns.items()})
    got = load_tables(contract)
    ids = vendor_ids(world, "salesforce", seed=5)
    expected = expected_tables(world, ids, drop={"tickets": ["category"]})
    for name in expected:
        assert_same_table(name, got[name], expected[name])
    spine = {"start": "2024-10-01", "cadence": "monthly"}
    assert_same_features(churnml.build_features(got, churnml.make_spine(got, **spine)),
                         churnml.build_features(expected, churnml.make_spine(expected, **spine)))


def test_a_mapping_reads_the_presets_from_a_database_url(world, database):
    spec = yaml.safe_load(MAPPING.read_text())
    got = load_tables(database, mapping=mapping_from_dict(spec))
    expected = expected_tables(world, vendor_ids(world, "salesforce", seed=5),
                               drop={"tickets": ["category"]})
    for name in expected:
        assert_same_table(name, got[name], expected[name])


def test_init_recognises_the_presets_in_a_database(database):
    from churnml.sources.init import propose_mapping

    result = propose_mapping(database)
    assert result.tables == {"accounts": "salesforce", "contracts": "salesforce",
                             "contacts": "salesforce", "tickets": "zendesk", "usage": "segment",
                             "nps": "nps"}
    spec = yaml.safe_load(result.text)
    assert spec["source"] == database  # the test server has no password to leave out
    assert spec["tables"]["usage"] == {
        "preset": "segment", "schema": "segment",
        "columns": {"account_id": "groups.salesforce_account_id"}}
    assert "Closed Lost (" in result.text and result.todos >= 6


def test_every_preset_gives_the_same_tables_in_postgresql_as_in_duckdb(server, capsys):
    """The HubSpot set, written by the CLI into a second database, read by every preset table
    in PostgreSQL and in DuckDB (the same raw tables): the same contract tables, ids included."""
    import psycopg

    from churnml.cli import main
    from churnml.sources import compose, load_preset

    with psycopg.connect(server.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CREATE DATABASE hubspot_set")
    url = server.rsplit("/", 1)[0] + "/hubspot_set"
    assert main(["generate", "--accounts", "15", "--months", "6", "--seed", "8", "--export",
                 "hubspot", "--out", url]) == 0
    assert "hubspot.deal" in capsys.readouterr().out
    raw = export_vendors(churnml.datasets.make_saas(n_accounts=15, months=6, seed=8), "hubspot",
                         seed=8)
    schemas = {"hubspot": "hubspot", "stripe": "stripe", "zendesk": "zendesk",
               "segment": "segment", "nps": "delighted"}
    for preset, schema in schemas.items():
        for name, table in load_preset(preset).tables.items():
            statement = compose(table, schema=schema)
            in_postgres = load_tables({name: run_in_postgres(url, statement)}, tables=[name],
                                      validate=False)[name]
            spec = {"tables": {name: {"preset": preset, "schema": schema}}}
            in_duckdb = load_tables(raw, mapping=mapping_from_dict(spec), tables=[name],
                                    validate=False)[name]
            assert len(in_duckdb) > 0, (preset, name)
            columns = [c for c in in_duckdb.columns if c != "account_match"]
            pd.testing.assert_frame_equal(
                *(frame[columns].astype({c: "str" for c in columns if c in ("user_id", "event")})
                  .sort_values(columns, ignore_index=True) for frame in (in_postgres, in_duckdb)),
                check_dtype=False, check_categorical=False, rtol=1e-9, obj=f"{preset} {name}")
