"""Open the usage table of a source as a :class:`~churnml.sources.lazy.LazyTable`.

The usage table is read by DuckDB where it lies: a Parquet file's view, a DuckDB file's table, the
mapping's SQL over the folder, or the Arrow result of one query to a database (only the contract
columns, and with ``since`` only the rows from then on: ``WHERE ts >= since`` in the database, or
a filter DuckDB pushes into the Parquet scan). When its columns cannot be parsed in SQL exactly as
pandas parses them (text timestamps, a ``formats`` entry, naive times in another time zone, CSV
files), it is read through pandas as before, still bounded by ``since``.
"""

from __future__ import annotations

import pandas as pd

from churnml.data.confine import check_select, resolve_inside
from churnml.errors import ChurnmlError
from churnml.features.shapes import q
from churnml.sources.lazy import LazyTable, parsed_select, summary_frame, usage_types_ok

__all__ = ["open_usage"]

COLUMNS = ("account_id", "user_id", "ts", "event", "quantity")
#: how far before ``since`` a database is asked for rows of naive timestamps (their time zone is
#: applied afterwards; the exact bound is applied after parsing)
MARGIN = pd.Timedelta(days=2)


def _missing(where: str, renames: dict, present) -> None:
    missing = [user for user in renames.values() if user not in present]
    if missing:
        raise ChurnmlError(f"{where}: columns {missing} not in the source table; it has "
                           f"{list(present)}")


def _folder_relation(src, kind: str, value: str, where: str) -> str | None:
    """The quoted relation of a folder / DuckDB-file origin, or None (read through pandas)."""
    from churnml.sources.files import FILE_SUFFIXES

    if kind == "sql":
        return f"({check_select(value, where).strip().rstrip(';')}) AS {q('churnml_src')}"
    if kind == "file":
        path = resolve_inside(src.root, value, where)
        if FILE_SUFFIXES.get(path.suffix.lower()) != "parquet" or not path.is_file():
            return None
        src.con.read_parquet(str(path)).create_view("churnml_usage_file")
        return q("churnml_usage_file")
    if value in src.files:
        return q(value) if not src.is_text(value) and value not in src.outside else None
    if src.db is not None and value in src.names():
        return q(value)
    return None


def _key_column(tm):
    """The source column of a key-map ``account_key`` (None otherwise)."""
    key = None if tm is None else tm.account_key
    return key.column if key is not None and key.system is not None else None


def _with_keymap(src, relation: str, tm, keymap, renames: dict) -> str:
    """``relation`` joined to the key map of its system: ``account_id`` from the map."""
    from churnml.data.keys import key_lookup

    lookup = key_lookup(keymap, tm.account_key.system)
    src.con.register("churnml_usage_keys", pd.DataFrame(
        {"external_id": lookup.index.astype(object), "account_id": lookup.to_numpy(dtype=object)}))
    renames["account_id"] = "churnml_account_id"
    renames["churnml_key"] = tm.account_key.column
    return (f'(SELECT r.*, k."account_id" AS "churnml_account_id" FROM {relation} r LEFT JOIN '
            f'"churnml_usage_keys" k ON k."external_id" = CAST(r.{q(tm.account_key.column)} '
            f'AS VARCHAR)) AS {q("churnml_keyed")}')


def _database_relation(src, tm, kind: str, value: str, since, where: str, keymap=None):
    """Fetch the usage columns (bounded by ``since``) into Arrow; (relation, summary) or None."""
    import pyarrow as pa

    db = src.database
    if kind == "file":
        src.read_path(value, where)  # raises: a database has no files
    if kind == "table" and tm is None and value not in db.names():
        return None
    base = db.base(kind, check_select(value, where) if kind == "sql" else value)
    schema = db.schema(base, where)
    mapped = dict(tm.columns) if tm is not None else {}
    _missing("mapping tables.usage.columns", mapped, schema.names)
    renames = {c: mapped.get(c, c) for c in COLUMNS if mapped.get(c, c) in schema.names}
    if _key_column(tm) is not None:
        _missing("mapping tables.usage.account_key", {"k": _key_column(tm)}, schema.names)
        renames["churnml_key"] = _key_column(tm)
    time = renames.get("ts")
    typed = time is not None and (pa.types.is_timestamp(schema.field(time).type)
                                  or pa.types.is_date(schema.field(time).type))
    bound = since - MARGIN if since is not None and typed else None
    table = db.read(base, list(renames.values()), where, time=time if typed else None, since=bound)
    summary = None
    key = renames.get("churnml_key") or renames.get("account_id")
    if bound is not None and key is not None:
        summary = summary_frame(db.summary(base, key, time, where))
        if "churnml_key" in renames:  # per external id: to accounts through the key map
            from churnml.data.keys import key_lookup

            summary["account_id"] = summary["account_id"].map(
                key_lookup(keymap, tm.account_key.system))
            summary = (summary.dropna(subset=["account_id"]).groupby("account_id", as_index=False)
                       .agg(first=("first", "min"), last=("last", "max"), rows=("rows", "sum")))
    src.arrow["churnml_usage"] = table
    if src._con is not None:
        src.con.register("churnml_usage", table)
    return q("churnml_usage"), summary, renames


def open_usage(src, tm, mapping, since, materialise, *, keymap=None):
    """Usage as a LazyTable, a bounded pandas frame (fallback), or None when absent.

    Parameters
    ----------
    src : churnml.sources.files.Source
    tm : TableMapping or None
    mapping : Mapping or None
    since : Timestamp or None
        Read only rows at or after it (scoring).
    materialise : callable
        ``materialise(raw=None)``: the parsed pandas usage (the ``load_tables`` path); ``raw``
        is an already fetched frame with the source's column names.
    """
    kind, value = tm.origin if tm is not None else ("table", "usage")
    where = f"mapping tables.usage.{kind}" if tm is not None else "table usage"
    summary = None
    if src.database is not None:
        found = _database_relation(src, tm, kind, value, since, where, keymap)
        if found is None:
            return None
        relation, summary, renames = found
        arrow = src.arrow["churnml_usage"]
        read = lambda: materialise(arrow.to_pandas())  # the fetched rows, parsed
    else:
        if src.root is None and src.db is None:  # a dict of frames: already pandas
            return _bounded(materialise(), since)
        relation = _folder_relation(src, kind, value, where)
        if relation is None:
            frame = materialise()
            return None if frame is None else _bounded(frame, since)
        names = [r[0] for r in src.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        mapped = dict(tm.columns) if tm is not None else {}
        _missing("mapping tables.usage.columns", mapped, names)
        renames = {c: mapped.get(c, c) for c in COLUMNS if mapped.get(c, c) in names}
        if _key_column(tm) is not None:
            _missing("mapping tables.usage.account_key", {"k": _key_column(tm)}, names)
        read = materialise
    if _key_column(tm) is not None:
        renames.pop("churnml_key", None)
        relation = _with_keymap(src, relation, tm, keymap, renames)
    described = src.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    raw_types = {r[0]: str(r[1]) for r in described}
    types = {c: raw_types[user] for c, user in renames.items()}
    timezone = mapping.timezone_for("usage") if mapping is not None else None
    formats = tm.formats if tm is not None else {}
    if not usage_types_ok(types, formats, timezone):
        return _bounded(read(), since)
    select, columns = parsed_select(relation, renames, types, since)
    if since is not None and summary is None and "account_id" in columns:
        whole, _ = parsed_select(relation, renames, types)
        summary = src.con.execute(
            f'SELECT "account_id", MIN("ts") AS "first", MAX("ts") AS "last", COUNT(*) AS "rows" '
            f'FROM ({whole}) GROUP BY "account_id"').df()
        summary["account_id"] = summary["account_id"].astype("string")
    table = LazyTable("usage", src, select, columns, lambda: read(), since=since,
                      summary=summary, label=src.label)
    if tm is not None and tm.account_key is not None:
        from churnml.data.keys import ATTRS_KEY

        table.attrs[ATTRS_KEY] = {"how": tm.account_key.how, "column": tm.account_key.column}
    return table


def _bounded(frame, since):
    if frame is None or since is None or "ts" not in frame:
        return frame
    kept = frame["ts"] >= since
    return frame if kept.all() else frame[kept].reset_index(drop=True)
