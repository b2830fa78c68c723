"""A PostgreSQL source (the real server of ``tests/services/postgres.py``), read through ADBC:
the same tables and indicators as the same data in files, the SQL of a mapping pushed down,
scoring that never fetches usage outside its look-back, and credentials that never show."""

from __future__ import annotations

import pandas as pd
import pytest
from services.postgres import postgres_server

from churnml.data.load import load_tables, open_tables, write_tables
from churnml.errors import ChurnmlError
from churnml.features.engine import build_features
from churnml.sources.lazy import is_lazy

pytestmark = pytest.mark.slow
TABLES = ["accounts", "contracts", "usage", "tickets", "nps", "contacts", "goals"]


@pytest.fixture(scope="module")
def world():
    from churnml.datasets import make_saas

    return {k: v for k, v in make_saas(n_accounts=60, months=14, seed=5).items() if k in TABLES}


@pytest.fixture(scope="module")
def folder(tmp_path_factory, world):
    path = tmp_path_factory.mktemp("pg") / "data"
    write_tables(world, path)
    return path


@pytest.fixture(scope="module")
def pg(world, folder):
    """The server's URL (``postgresql+psycopg://``), with the world's tables loaded by ADBC."""
    import pyarrow as pa
    from adbc_driver_postgresql import dbapi

    with postgres_server() as url:
        with dbapi.connect(url.replace("postgresql+psycopg", "postgresql")) as con:
            cur = con.cursor()
            for name in world:
                frame = pd.read_parquet(folder / f"{name}.parquet")
                for column in frame.columns:  # categoricals as plain text columns
                    if isinstance(frame[column].dtype, pd.CategoricalDtype):
                        frame[column] = frame[column].astype(str)
                cur.adbc_ingest(name, pa.Table.from_pandas(frame, preserve_index=False))
            con.commit()
        yield url


def _execute(url, sql):
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(url.replace("postgresql+psycopg", "postgresql")) as con:
        con.cursor().execute(sql)
        con.commit()


@pytest.fixture(scope="module")
def spine(folder):
    from churnml.snapshots import make_spine

    tables = load_tables(folder, validate=False)
    end = pd.to_datetime(tables["usage"]["ts"]).max().normalize()
    return make_spine(tables, start=end - pd.DateOffset(months=2), end=end, cadence="monthly")


def test_tables_from_postgres_equal_the_files(pg, folder):
    db = load_tables(pg, validate=False)
    files = load_tables(folder, validate=False)
    assert sorted(db) == sorted(files)
    for name in ("accounts", "usage", "tickets"):
        keys = list(files[name].columns)  # every column: ties cannot reorder
        a = db[name].astype(str).sort_values(keys, ignore_index=True)
        b = files[name].astype(str).sort_values(keys, ignore_index=True)
        assert list(db[name].columns) == keys
        for column in keys:
            assert a[column].tolist() == b[column].tolist(), (name, column)
        for column in keys:
            if pd.api.types.is_datetime64_any_dtype(files[name][column]):
                assert pd.api.types.is_datetime64_any_dtype(db[name][column]), (name, column)


def test_lazy_usage_from_postgres_builds_the_same_features(pg, folder, spine, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(  # usage renamed by SQL that runs in PostgreSQL
        f"source: {pg}\n"
        "tables:\n"
        "  usage:\n"
        "    sql: SELECT account_id AS customer, ts AS happened_at, user_id, event, quantity "
        "FROM usage\n"
        "    columns: {account_id: customer, ts: happened_at}\n")
    tables = open_tables(mapping=mapping, validate=False)
    try:
        assert is_lazy(tables["usage"])
        got = build_features(tables, spine)
    finally:
        tables["usage"].close()
    want = build_features(load_tables(folder, validate=False), spine)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_scoring_never_fetches_usage_outside_its_lookback(pg, folder, spine, tmp_path):
    from churnml.features.catalog import load_catalog
    from churnml.scoring.indicator_history import usage_read_since

    as_of = pd.Timestamp(spine["as_of"].max())
    since = usage_read_since(load_catalog(), as_of)
    # a view whose rows before the look-back fail when fetched: a division by zero in quantity
    _execute(pg, "CREATE VIEW usage_guarded AS SELECT account_id, user_id, ts, event, "
                 f"quantity / (CASE WHEN ts < TIMESTAMP '{since - pd.Timedelta(days=3):%Y-%m-%d}'"
                 " THEN 0 ELSE 1 END) AS quantity FROM usage")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(f"source: {pg}\ntables:\n  usage: {{table: usage_guarded}}\n")
    with pytest.raises(ChurnmlError, match="division by zero"):
        load_tables(mapping=mapping, validate=False)  # reading everything reaches them
    bounded = open_tables(mapping=mapping, validate=False, since=since)
    try:
        at = spine[spine["as_of"] == as_of].reset_index(drop=True)
        got = build_features(bounded, at)
        summary = bounded["usage"].summary
    finally:
        bounded["usage"].close()
    want = build_features(load_tables(folder, validate=False), at)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # first activity and row counts still describe the whole table (the database's summary)
    usage = pd.read_parquet(folder / "usage.parquet")
    assert summary["rows"].sum() == len(usage)
    assert summary["first"].min() == usage["ts"].min()


def test_credentials_never_show(monkeypatch, tmp_path):
    from services.postgres import free_port

    url = f"postgresql://churn:hunter2@127.0.0.1:{free_port()}/nowhere"
    with pytest.raises(ChurnmlError) as caught:
        load_tables(url, validate=False)
    assert "hunter2" not in str(caught.value) and "churn:***@" in str(caught.value)
    monkeypatch.setenv("CHURNML_PG_SECRET", "s3cret-value")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        f"source: postgresql://churn:${{CHURNML_PG_SECRET}}@127.0.0.1:{free_port()}/nowhere\n")
    with pytest.raises(ChurnmlError) as caught:
        load_tables(mapping=mapping, validate=False)
    assert "s3cret-value" not in str(caught.value)
