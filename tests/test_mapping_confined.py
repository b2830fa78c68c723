"""Mapping SQL and mapping paths cannot reach outside the source folder; legitimate uses still work.

Each attack below was observed working before the confinement: a mapping's ``sql:`` wrote files
(``COPY``), created databases (``ATTACH``), read ``/etc/passwd`` (printed by ``validate``) and tried
to download extensions (``INSTALL httpfs``); ``file:`` escaped with ``../../..``.
"""

from __future__ import annotations

import textwrap

import duckdb
import pandas as pd
import pytest

from churnml.data.confine import check_select, confined_connection, resolve_inside
from churnml.data.load import load_tables
from churnml.data.mapping import mapping_from_dict, read_mapping
from churnml.errors import ChurnmlError


@pytest.fixture
def world(tmp_path):
    """``export/`` (the source: customers, subscriptions, a sub-folder of events) next to
    ``outside/`` (a secret CSV and Parquet file the mapping must not reach)."""
    src, outside = tmp_path / "export", tmp_path / "outside"
    (src / "events").mkdir(parents=True)
    outside.mkdir()
    pd.DataFrame({"cust": ["a", "b"], "tier": ["smb", "enterprise"]}).to_csv(
        src / "customers.csv", index=False
    )
    pd.DataFrame(
        {"sub": ["s1", "s2"], "cust": ["a", "b"], "begins": ["2024-01-01", "2024-02-01"],
         "ends": ["2025-01-01", "2025-02-01"], "mrr": [100.0, 200.0]}
    ).to_parquet(src / "subscriptions.parquet", index=False)  # fmt: skip
    pd.DataFrame({"sub": ["s1", "s2", "s2"], "at": ["2024-03-01", "2024-03-02", "2024-03-03"]}
                 ).to_parquet(src / "events" / "2024-03.parquet", index=False)  # fmt: skip
    pd.DataFrame({"cust": ["SECRET"]}).to_csv(outside / "secret.csv", index=False)
    pd.DataFrame({"cust": ["SECRET"]}).to_parquet(outside / "secret.parquet", index=False)
    return tmp_path


def mapping(world, tables: str):
    path = world / "mapping.yaml"
    path.write_text("source: export\ntables:\n" + textwrap.indent(textwrap.dedent(tables), "  "))
    return path


def load_sql(world, sql: str, table: str = "accounts"):
    """Read ``table`` from ``sql`` (a YAML block) over the export."""
    block = textwrap.indent(textwrap.dedent(sql).strip(), "    ")
    return load_tables(
        None, mapping=mapping(world, f"{table}:\n  sql: |\n{block}\n"),
        tables=[table], validate=False,
    )  # fmt: skip


# --- statements: refused when the mapping is read, before any data -------------------------
@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("COPY (SELECT * FROM customers) TO '{out}/stolen.csv'", "it is a COPY statement"),
        ("ATTACH '{out}/new.db' AS x", "it is a ATTACH statement"),
        ("INSTALL httpfs", "it is a LOAD statement"),
        ("LOAD httpfs", "it is a LOAD statement"),
        ("PRAGMA enable_profiling", "it is a PRAGMA statement"),
        ("SET enable_external_access = true", "it is a SET statement"),
        ("CREATE TABLE t AS SELECT 1", "it is a CREATE statement"),
        ("SELECT cust AS account_id FROM customers; COPY customers TO '{out}/stolen.csv'",
         r"it holds 2 statements \(SELECT, COPY\)"),
        ("-- nothing", r"it holds 0 statements"),
    ],
)  # fmt: skip
def test_only_one_select_is_accepted_and_the_refusal_names_the_key(world, sql, reason):
    sql = sql.format(out=world / "outside")
    with pytest.raises(ChurnmlError, match=rf"mapping tables\.usage\.sql: refused, {reason}") as e:
        read_mapping(mapping(world, f"usage:\n  sql: {sql!r}\n"))
    assert "single SELECT" in e.value.hint
    assert sorted(p.name for p in (world / "outside").iterdir()) == ["secret.csv", "secret.parquet"]


def test_the_statement_check_also_guards_mappings_built_in_python(world):
    with pytest.raises(ChurnmlError, match="tables.usage.sql: refused, it is a COPY"):
        mapping_from_dict({"tables": {"usage": {"sql": "COPY customers TO 'x.csv'"}}})


# --- reads outside the folder: refused by DuckDB itself, reported with the key --------------
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd', sep = ':', header = false)",
        "SELECT content AS account_id FROM read_text('/etc/passwd')",
        "SELECT * FROM read_parquet('/etc/x.parquet')",
        "SELECT * FROM read_csv('{world}/outside/secret.csv')",
        "SELECT * FROM read_parquet('{world}/outside/secret.parquet')",
        "SELECT * FROM read_csv('{world}/export/../outside/secret.csv')",  # escape through ..
        "SELECT * FROM read_csv('../outside/secret.csv')",  # relative escape
        "SELECT file AS account_id FROM glob('/etc/*')",
        "SELECT * FROM query('SELECT * FROM read_csv(''{world}/outside/secret.csv'')')",
        "SELECT * FROM read_csv('https://example.com/accounts.csv')",  # no httpfs, no network
        "WITH c AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM customers, c",
    ],
)  # fmt: skip
def test_reads_outside_the_source_folder_are_refused(world, sql):
    with pytest.raises(
        ChurnmlError,
        match=r"mapping tables\.accounts\.sql: refused, the SQL reaches outside the source folder",
    ) as e:
        load_sql(world, sql.format(world=world))
    assert "SECRET" not in str(e.value) and "root:" not in str(e.value)


def test_validate_no_longer_prints_a_file_outside_the_folder(world, capsys):
    from churnml.cli import main

    path = mapping(world, "accounts:\n  sql: SELECT * FROM read_csv('/etc/passwd', sep=':')\n")
    assert main(["validate", str(world / "export"), "--mapping", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "tables.accounts.sql: refused" in err and "Traceback" not in err
    assert "root:x:0" not in out + err and "/bin/" not in out + err


def test_getenv_is_not_available(world):
    with pytest.raises(ChurnmlError, match="tables.accounts.sql: the SQL failed"):
        load_sql(world, "SELECT getenv('HOME') AS account_id")


def test_the_connection_itself_refuses_writes_attach_extensions_and_unlocking(world):
    """Second layer, without the statement check: the connection is locked down on its own."""
    out = world / "outside"
    con = confined_connection(world / "export")
    try:
        for statement in (
            f"COPY (SELECT 1) TO '{out}/x.csv'",
            f"ATTACH '{out}/x.db' AS x",
            "INSTALL httpfs",
            "LOAD httpfs",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(statement)
        for statement in (
            "SET enable_external_access = true",
            "SET allowed_directories = ['/']",
            "SET lock_configuration = false",
            "SET autoinstall_known_extensions = true",
        ):
            with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
                con.execute(statement)
        assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
        # DuckDB's replacement scan of the caller's Python variables is off as well
        secret_frame = pd.DataFrame({"account_id": ["SECRET"]})  # noqa: F841 - read by DuckDB
        with pytest.raises(duckdb.CatalogException, match="secret_frame does not exist"):
            con.execute("SELECT * FROM secret_frame")
        assert duckdb.connect().execute("SELECT * FROM secret_frame").fetchall() == [("SECRET",)]
    finally:
        con.close()
    assert sorted(p.name for p in out.iterdir()) == ["secret.csv", "secret.parquet"]


# --- paths: file: and table: stay in the folder, symbolic links too --------------------------
def test_file_paths_that_escape_the_folder_are_refused(world):
    for file in ("../outside/secret.csv", "../../../../../../etc/passwd.csv",
                 str(world / "outside" / "secret.csv")):  # fmt: skip
        with pytest.raises(ChurnmlError, match=r"tables\.accounts\.file: refused, .* outside the"):
            load_tables(None, mapping=mapping(world, f"accounts: {{file: '{file}'}}\n"),
                        tables=["accounts"], validate=False)  # fmt: skip
    # a path with .. that stays inside is fine
    tables = load_tables(
        None, mapping=mapping(world, "accounts: {file: events/../customers.csv, columns: "
                                     "{account_id: cust}}\n"),
        tables=["accounts"], validate=False,
    )  # fmt: skip
    assert tables["accounts"]["account_id"].tolist() == ["a", "b"]


def test_symbolic_links_out_of_the_folder_are_refused_everywhere(world):
    src = world / "export"
    (src / "leak.csv").symlink_to(world / "outside" / "secret.csv")
    (src / "accounts.csv").symlink_to(world / "outside" / "secret.csv")
    (src / "elsewhere").symlink_to(world / "outside", target_is_directory=True)
    for tables in ("accounts: {file: leak.csv}", "accounts: {file: elsewhere/secret.csv}",
                   "accounts: {table: leak}", "accounts: {columns: {account_id: cust}}"):  # fmt: skip
        with pytest.raises(ChurnmlError, match="refused, .* outside the source folder"):
            load_tables(None, mapping=mapping(world, tables + "\n"), tables=["accounts"],
                        validate=False)  # fmt: skip
    with pytest.raises(ChurnmlError, match="table accounts: refused"):  # no mapping at all
        load_tables(src, tables=["accounts"], validate=False)
    # SQL: no view for the link, and its path is refused by DuckDB (links are resolved)
    with pytest.raises(ChurnmlError, match=r"failed in DuckDB: .*leak.* \(left out, outside"):
        load_sql(world, "SELECT cust AS account_id FROM leak")
    for path in (src / "leak.csv", src / "elsewhere" / "secret.csv"):
        with pytest.raises(ChurnmlError, match="reaches outside the source folder"):
            load_sql(world, f"SELECT cust AS account_id FROM read_csv('{path}')")


def test_resolve_inside_follows_links(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ok.csv").write_text("x\n")
    (tmp_path / "in" / "link.csv").symlink_to(tmp_path / "in" / "ok.csv")
    assert resolve_inside(tmp_path / "in", "link.csv", "w") == (tmp_path / "in" / "ok.csv")
    with pytest.raises(ChurnmlError, match="^w: refused"):
        resolve_inside(tmp_path / "in", "../in2/x.csv", "w")


def test_unknown_suffix_lists_the_supported_ones(world):
    with pytest.raises(
        ChurnmlError,
        match=r"mapping tables\.accounts\.file: customers\.xlsx has suffix '\.xlsx'; "
        r"supported are \.parquet, \.pq, \.csv, \.tsv",
    ):
        read_mapping(mapping(world, "accounts: {file: customers.xlsx}\n"))
    with pytest.raises(ChurnmlError, match="customers has no suffix"):
        read_mapping(mapping(world, "accounts: {file: customers}\n"))


def test_a_dict_of_frames_has_no_files_and_no_folder():
    frames = {"clients": pd.DataFrame({"cid": ["a"]})}
    with pytest.raises(ChurnmlError, match="tables.accounts.file: a dict of DataFrames has no"):
        load_tables(frames, mapping=mapping_from_dict({"tables": {"accounts": {"file": "x.csv"}}}),
                    tables=["accounts"], validate=False)  # fmt: skip
    spec = {"tables": {"accounts": {"sql": "SELECT * FROM read_csv('/etc/passwd')"}}}
    with pytest.raises(ChurnmlError, match="reaches outside the source folder"):
        load_tables(frames, mapping=mapping_from_dict(spec), tables=["accounts"], validate=False)


# --- legitimate uses keep working -------------------------------------------------------------
def test_joins_ctes_and_paths_inside_the_folder_work(world):
    sql = f"""
        WITH ev AS (SELECT * FROM read_parquet('{world}/export/events/*.parquet'))
        SELECT s.cust AS account_id, CAST(ev.at AS TIMESTAMP) AS ts, 'login' AS event
        FROM ev JOIN subscriptions AS s USING (sub) ORDER BY ts;
    """
    usage = load_sql(world, sql, table="usage")["usage"]
    assert usage["account_id"].tolist() == ["a", "b", "b"]
    assert usage["ts"].tolist() == list(pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03"]))


def test_views_of_a_duckdb_source_file_work_and_stay_confined(world):
    db = world / "export" / "crm.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE clients AS SELECT * FROM (VALUES ('a'), ('b')) t(cid)")
    con.execute("CREATE VIEW active AS SELECT cid FROM clients WHERE cid <> 'b'")
    con.execute(f"CREATE VIEW local_file AS SELECT * FROM '{world}/export/customers.csv'")
    con.execute(f"CREATE VIEW leak AS SELECT * FROM '{world}/outside/secret.csv'")
    con.close()
    spec = {
        "tables": {
            "accounts": {
                "sql": "SELECT a.cid AS account_id, f.tier AS segment "
                "FROM active a JOIN local_file f ON f.cust = a.cid"
            }
        }
    }
    tables = load_tables(db, mapping=mapping_from_dict(spec), tables=["accounts"], validate=False)
    assert tables["accounts"][["account_id", "segment"]].values.tolist() == [["a", "smb"]]
    spec = {"tables": {"accounts": {"sql": "SELECT cust AS account_id FROM leak"}}}
    with pytest.raises(ChurnmlError, match="reaches outside the source folder"):
        load_tables(db, mapping=mapping_from_dict(spec), tables=["accounts"], validate=False)
    with pytest.raises(
        ChurnmlError, match="tables.accounts.table: refused, the SQL reaches outside"
    ):
        load_tables(db, mapping=mapping_from_dict({"tables": {"accounts": {"table": "leak"}}}),
                    tables=["accounts"], validate=False)  # fmt: skip


def test_check_select_returns_the_statement():
    assert check_select("FROM customers", "w") == "FROM customers"
    assert check_select("(SELECT 1) UNION ALL (SELECT 2);", "w").startswith("(SELECT 1)")
    with pytest.raises(ChurnmlError, match="^w: the SQL does not parse"):
        check_select("SELEC 1", "w")
