"""What a source holds: its tables and columns, and the few values ``churnml init`` looks at.

A folder of exports (its files, and the files of each sub-folder as the tables of a schema named
after it, as an ingestion tool lands each system in a schema of its own), a DuckDB file, or a
database URL (read through SQLAlchemy; the password, when the URL holds one, is never written
anywhere). Only names, distinct values and counts are read, never whole tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from churnml.errors import ChurnmlError

__all__ = ["Inventory", "open_inventory", "qualified"]

FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv")


def qualified(name: str) -> str:
    """``schema.table`` or ``table`` as quoted SQL (``"zendesk"."ticket"``)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split(".", 1))


@dataclass
class Inventory:
    """Tables (``schema.table`` or ``table``) and their columns, and a way to ask for values.

    Parameters
    ----------
    label : str
        The source as people should read it (a folder, or a URL without its password).
    tables : dict of str to tuple of str
        Table -> column names.
    run : callable
        ``run(sql) -> list of tuples``: a ``SELECT`` on the source.
    dialect : {"duckdb", "postgresql", ...}
        Which SQL the source speaks (JSON keys are listed differently).
    """

    label: str
    tables: dict
    run: object
    dialect: str
    closers: list = field(default_factory=list)

    def counts(self, table: str, column: str, limit: int = 12) -> list[tuple]:
        """The most frequent values of ``table.column`` with their counts."""
        col = qualified(column)
        return [tuple(r) for r in self.run(
            f"SELECT {col}, COUNT(*) AS n FROM {qualified(table)} WHERE {col} IS NOT NULL "
            f"GROUP BY {col} ORDER BY n DESC, {col} LIMIT {int(limit)}")]

    def tally(self, table: str, expression: str, limit: int = 20000) -> dict:
        """Rows per non-missing value of an SQL expression over ``table`` (values as text)."""
        rows = self.run(f"SELECT CAST({expression} AS VARCHAR) AS v, COUNT(*) AS n "
                        f"FROM {qualified(table)} WHERE {expression} IS NOT NULL "
                        f"GROUP BY 1 LIMIT {int(limit)}")
        return {r[0]: int(r[1]) for r in rows}

    def json_keys(self, table: str, column: str, limit: int = 20) -> list[str]:
        """Keys found in the JSON objects of ``table.column``."""
        col, tab = qualified(column), qualified(table)
        if self.dialect == "duckdb":
            sql = (f"SELECT DISTINCT unnest(json_keys(CAST({col} AS JSON))) AS k FROM {tab} "
                   f"WHERE json_type(CAST({col} AS JSON)) = 'OBJECT'")
        else:
            sql = (f"SELECT DISTINCT json_object_keys(CAST({col} AS JSON)) AS k FROM {tab} "
                   f"WHERE json_typeof(CAST({col} AS JSON)) = 'object'")
        try:
            return sorted(r[0] for r in self.run(f"{sql} LIMIT {int(limit)}"))
        except Exception:  # noqa: BLE001 - not JSON after all: no keys
            return []

    def close(self):
        for close in self.closers:
            close()


def open_inventory(source) -> Inventory:
    """An :class:`Inventory` of a folder, a DuckDB file or a database URL.

    Examples
    --------
    >>> inv = open_inventory("export/")  # doctest: +SKIP
    >>> inv.tables["zendesk.ticket"][:3]  # doctest: +SKIP
    ('id', 'organization_id', 'requester_id')
    """
    text = str(source)
    if "://" in text:
        return _database(text)
    path = Path(text)
    if path.is_dir():
        return _folder(path)
    if path.is_file() and path.suffix.lower() in (".duckdb", ".db", ".ddb"):
        return _duckdb_file(path)
    raise ChurnmlError(f"init: {text} is not a folder, a DuckDB file or a database URL")


def _files(folder: Path) -> dict[str, Path]:
    found = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in FILE_SUFFIXES and not f.name.startswith("."):
            found.setdefault(f.stem, f)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(sub.iterdir()):
            if f.is_file() and f.suffix.lower() in FILE_SUFFIXES and not f.name.startswith("."):
                found.setdefault(f"{sub.name}.{f.stem}", f)
    return found


def _folder(folder: Path) -> Inventory:
    from churnml.data.confine import confined_connection

    root = folder.resolve()
    files = {k: f for k, f in _files(folder).items() if f.resolve().is_relative_to(root)}
    con = confined_connection(root)
    tables = {}
    for name, f in files.items():
        full = str(f.resolve())
        rel = con.read_parquet(full) if f.suffix.lower() in (".parquet", ".pq") else \
            con.read_csv(full)
        rel.create_view(name)
        if "." in name:
            schema, table = (qualified(p) for p in name.split(".", 1))
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            whole = '"' + name.replace('"', '""') + '"'
            con.execute(f"CREATE VIEW {schema}.{table} AS SELECT * FROM {whole}")
        tables[name] = tuple(rel.columns)
    return Inventory(label=str(folder), tables=tables,
                     run=lambda sql: con.execute(sql).fetchall(), dialect="duckdb",
                     closers=[con.close])


def _duckdb_file(path: Path) -> Inventory:
    from churnml.data.confine import confined_connection

    con = confined_connection(path.resolve().parent, database=path)
    rows = con.execute("SELECT table_schema, table_name, column_name FROM "
                       "information_schema.columns ORDER BY table_schema, table_name, "
                       "ordinal_position").fetchall()
    tables: dict = {}
    for schema, table, column in rows:
        name = table if schema == "main" else f"{schema}.{table}"
        tables.setdefault(name, ())
        tables[name] += (column,)
    return Inventory(label=str(path), tables=tables,
                     run=lambda sql: con.execute(sql).fetchall(), dialect="duckdb",
                     closers=[con.close])


def _database(url: str) -> Inventory:
    import sqlalchemy as sa

    from churnml.scoring.database import engine_for

    engine = engine_for(url)
    inspector = sa.inspect(engine)
    skip = {"information_schema", "pg_catalog", "pg_toast"}
    default = inspector.default_schema_name
    tables = {}
    for schema in inspector.get_schema_names():
        if schema in skip or schema.startswith("pg_"):
            continue
        for table in inspector.get_table_names(schema=schema):
            name = table if schema == default else f"{schema}.{table}"
            tables[name] = tuple(c["name"] for c in inspector.get_columns(table, schema=schema))

    def run(sql):
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))

    return Inventory(label=sa.engine.make_url(url).render_as_string(hide_password=True),
                     tables=tables, run=run, dialect=engine.dialect.name,
                     closers=[engine.dispose])
