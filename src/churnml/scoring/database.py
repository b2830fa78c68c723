"""Upsert scoring rows into a database table keyed by (account_id, as_of), and diff against it.

SQLAlchemy Core with the dialect's ``INSERT … ON CONFLICT DO UPDATE`` (SQLite and PostgreSQL via
``postgresql+psycopg://``); other dialects fall back to delete-then-insert in one transaction. The
table is created on first use with a unique constraint on the key. Rows whose values are unchanged
(ignoring ``scored_at``-like columns) are not rewritten, so re-running a scoring is idempotent.

One upsert is one transaction: the table is created (``CREATE TABLE IF NOT EXISTS``), the existing
rows read, compared and written in it, so concurrent writers take turns instead of failing. On
SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the second writer waits up to
:data:`SQLITE_TIMEOUT` seconds); on PostgreSQL with a transaction-level advisory lock on the
table name. A table created by another CRM preset (other column names) is refused with an error
naming the missing and extra columns; write each preset to its own table. A table of the same
preset written before the preset gained fields gets the new columns (``ALTER TABLE ... ADD
COLUMN``, in the upsert's transaction; its older rows hold NULL there).
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.errors import ChurnmlError

DEFAULT_URL = "sqlite:///demo/crm.db"
STATUSES = ("new", "changed", "unchanged")
CHUNK = 5_000
#: seconds a SQLite writer waits for another one (the driver's busy timeout)
SQLITE_TIMEOUT = 120.0


def _sqlite_transactions(engine) -> None:
    """Let SQLAlchemy emit BEGIN (the sqlite3 driver would not for DDL and SELECT), and make it
    ``BEGIN IMMEDIATE`` on connections with ``execution_options(sqlite_immediate=True)``."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def engine_for(url):
    """A SQLAlchemy engine for ``url`` (an Engine is returned as is); SQLite folders are created.

    SQLite engines wait up to :data:`SQLITE_TIMEOUT` seconds for another writer, and their write
    transactions can start with ``BEGIN IMMEDIATE`` (see :func:`_sqlite_transactions`).
    """
    import sqlalchemy as sa

    if isinstance(url, sa.engine.Engine):
        return url
    parsed = sa.engine.make_url(str(url))
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(
            parsed, **({"connect_args": {"timeout": SQLITE_TIMEOUT}} if sqlite else {})
        )
    except ModuleNotFoundError as error:  # the dialect's driver, e.g. psycopg
        extra = " (pip install 'churnml[postgres]')" if error.name == "psycopg" else ""
        raise ChurnmlError(
            f"database {parsed.render_as_string(hide_password=True)}: its driver "
            f"{error.name!r} is not installed",
            hint=f"install {error.name!r} into this environment{extra}",
        ) from error
    if sqlite:
        _sqlite_transactions(engine)
    return engine


def _sql_type(series: pd.Series, is_key: bool):
    import sqlalchemy as sa

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return sa.Float(precision=53)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return sa.DateTime()
    return sa.String(255) if is_key else sa.Text()


def table_for(frame: pd.DataFrame, name: str, key: list[str], metadata):
    """The SQLAlchemy ``Table`` holding ``frame``'s columns, unique on ``key``."""
    import sqlalchemy as sa

    columns = [
        sa.Column(c, _sql_type(frame[c], c in key), nullable=c not in key) for c in frame.columns
    ]
    return sa.Table(name, metadata, *columns, sa.UniqueConstraint(*key, name=f"uq_{name}_key"))


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (missing -> None, Timestamp -> datetime)."""
    out = {}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            values = np.array(s.dt.to_pydatetime(), dtype=object)
        else:
            values = s.astype(object).to_numpy()
        mask = s.isna().to_numpy()
        values = values.astype(object)
        values[mask] = None
        out[c] = values
    # plain dicts, not DataFrame.to_dict: a frame would turn None back into NaN in text columns
    names = list(out)
    return [dict(zip(names, row, strict=True)) for row in zip(*out.values(), strict=True)]


def _reflect(conn, table: str):
    """The reflected ``Table`` named ``table``, or None when it does not exist."""
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table(table):
        return None
    return sa.Table(table, sa.MetaData(), autoload_with=conn)


def check_table_columns(tbl, frame: pd.DataFrame, *, allow_new: bool = False) -> list[str]:
    """Refuse a table whose columns are not exactly ``frame``'s (another CRM preset's table).

    With ``allow_new``, a table that lacks some of ``frame``'s columns but has no other ones
    (the same preset before it gained fields) passes, and the missing columns are returned.

    Raises
    ------
    ChurnmlError
        Naming the missing and the extra columns, with counts.
    """
    have = [c.name for c in tbl.columns]
    missing = [c for c in frame.columns if c not in have]
    extra = [c for c in have if c not in frame.columns]
    if not extra and (allow_new or not missing):
        return missing
    raise ChurnmlError(
        f"database table {tbl.name!r} does not hold these CRM fields: {len(missing)} missing "
        f"{missing[:6]}{' ...' if len(missing) > 6 else ''}, {len(extra)} extra "
        f"{extra[:6]}{' ...' if len(extra) > 6 else ''} (it was created by another CRM preset)",
        hint=f"write each preset to its own table (--db-table NAME), or drop or migrate {tbl.name!r}",
    )


def _read(conn, tbl, keys: pd.DataFrame | None = None, key=None) -> pd.DataFrame:
    """Rows of ``tbl`` (only those whose second key value occurs in ``keys``, when given)."""
    import sqlalchemy as sa

    query = sa.select(tbl)
    if keys is not None and key:
        second = key[-1]
        values = keys[second].dropna().drop_duplicates()
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            values = list(pd.DatetimeIndex(values).to_pydatetime())
        else:
            values = values.tolist()
        query = query.where(tbl.c[second].in_(values))
    frame = pd.read_sql(query, conn)
    for c in tbl.columns:
        if isinstance(c.type, sa.DateTime) and c.name in frame:
            frame[c.name] = pd.to_datetime(frame[c.name]).astype("datetime64[ns]")
    if keys is not None and key:
        frame = frame.merge(_key_frame(keys, key).drop_duplicates(), on=key, how="inner")
    return frame


def read_rows(
    url, table: str, keys: pd.DataFrame | None = None, *, key=None
) -> pd.DataFrame | None:
    """Rows of ``table`` (``None`` when the table does not exist).

    With ``keys`` (a frame holding the key columns), only rows whose ``as_of``-like second key
    value occurs in ``keys`` are read (then filtered to exactly those keys); a table without the
    ``key`` columns is refused with a :class:`~churnml.errors.ChurnmlError`.
    """
    with engine_for(url).connect() as conn:
        tbl = _reflect(conn, table)
        if tbl is None:
            return None
        missing = [c for c in (key or []) if c not in tbl.c]
        if keys is not None and missing:
            raise ChurnmlError(
                f"database table {table!r} has no key column(s) {missing}; it has "
                f"{[c.name for c in tbl.columns][:8]} (it was created by another CRM preset)",
                hint="write each preset to its own table (--db-table NAME)",
            )
        return _read(conn, tbl, keys, key)


def _key_frame(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    out = {}
    for c in key:
        s = frame[c]
        out[c] = (
            pd.to_datetime(s).astype("datetime64[ns]")
            if pd.api.types.is_datetime64_any_dtype(s.dtype)
            or (c != key[0] and not pd.api.types.is_numeric_dtype(s.dtype))
            else pd.array(s, dtype="string")
        )
    return pd.DataFrame(out)


def _same(new: pd.Series, old: pd.Series) -> np.ndarray:
    """Element-wise equality treating two missing values as equal (numbers to 1e-9 relative)."""
    new_na, old_na = new.isna().to_numpy(), old.isna().to_numpy()
    if pd.api.types.is_bool_dtype(new.dtype) or pd.api.types.is_numeric_dtype(new.dtype):
        a = pd.to_numeric(new, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        b = pd.to_numeric(old, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        equal = np.isclose(a, b, rtol=1e-9, atol=1e-12)
    elif pd.api.types.is_datetime64_any_dtype(new.dtype):
        a = pd.to_datetime(new).astype("datetime64[ns]").to_numpy()
        b = pd.to_datetime(old, errors="coerce").astype("datetime64[ns]").to_numpy()
        equal = a == b
    else:
        equal = (new.astype("string") == old.astype("string")).fillna(False).to_numpy(dtype=bool)
    return np.where(new_na | old_na, new_na & old_na, equal)


def compare(
    new: pd.DataFrame, old: pd.DataFrame | None, key: list[str], *, ignore=()
) -> pd.DataFrame:
    """Classify each row of ``new`` against ``old`` by key: new / changed / unchanged.

    Returns
    -------
    DataFrame
        The key columns, ``status`` and ``changed`` (comma-joined names of the differing
        columns, empty for new and unchanged rows), in ``new``'s row order.
    """
    keys = _key_frame(new, key)
    if old is None or len(old) == 0:
        out = keys.assign(status="new", changed="")
        out["status"] = out["status"].astype("string")
        out["changed"] = out["changed"].astype("string")
        return out
    missing = [c for c in key if c not in old.columns]
    if missing:
        raise ValueError(f"previous CRM rows lack the key column(s) {missing}")
    old = old.assign(**{c: v for c, v in _key_frame(old, key).items()})
    old = old.drop_duplicates(key, keep="last")
    both = keys.assign(_row=np.arange(len(new))).merge(
        old.assign(_found=True), on=key, how="left", suffixes=("", "_old")
    )
    both = both.sort_values("_row").reset_index(drop=True)
    found = both["_found"].fillna(False).astype(bool).to_numpy()
    compared = [c for c in new.columns if c not in key and c not in ignore]
    changed = np.full(len(new), "", dtype=object)
    for c in compared:
        if c not in old.columns:
            diff = np.ones(len(new), dtype=bool)
        else:
            diff = ~_same(new[c].reset_index(drop=True), both[c])
        diff &= found
        changed[diff] = np.where(changed[diff] == "", c, changed[diff] + "," + c)
    status = np.where(~found, "new", np.where(changed != "", "changed", "unchanged"))
    out = keys.reset_index(drop=True)
    out["status"] = pd.array(status, dtype="string")
    out["changed"] = pd.array(changed, dtype="string")
    return out


def _lock_key(table: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory lock on ``table``."""
    digest = hashlib.sha256(f"churnml:{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _transaction(engine, table: str):
    """One write transaction, serialised with other churnml writers of ``table``."""
    import sqlalchemy as sa

    dialect = engine.dialect.name
    if dialect == "sqlite":
        engine = engine.execution_options(sqlite_immediate=True)
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(table)})
        yield conn


def _create_or_reflect(conn, table: str, frame: pd.DataFrame, key: list[str]):
    """``table`` as it is in the database, created for ``frame`` when missing; the preset's
    fields it lacks (a preset that gained fields since the table was created) are added, in the
    same transaction."""
    import sqlalchemy as sa
    from sqlalchemy.schema import CreateTable

    conn.execute(CreateTable(table_for(frame, table, key, sa.MetaData()), if_not_exists=True))
    tbl = _reflect(conn, table)
    new = check_table_columns(tbl, frame, allow_new=True)
    if new:
        quote = conn.dialect.identifier_preparer.quote
        for c in new:
            kind = _sql_type(frame[c], False).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(c)} {kind}"))
        tbl = _reflect(conn, table)
    return tbl


def _sqlite_values(series: pd.Series, column_type, dialect) -> np.ndarray:
    """``series`` as the values SQLAlchemy would bind for ``column_type`` on SQLite (datetimes as
    its ``YYYY-MM-DD HH:MM:SS.ffffff`` text, missing as None), converted column-wise."""
    import sqlalchemy as sa

    missing = series.isna().to_numpy()
    if isinstance(column_type, sa.DateTime) and pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.to_datetime(series).dt.tz_localize(None).to_numpy("datetime64[us]")
        values = np.char.replace(np.datetime_as_string(stamps, unit="us"), "T", " ").astype(object)
    else:
        values = series.astype(object).to_numpy()
        process = None if isinstance(column_type, sa.Float) else column_type.bind_processor(dialect)
        if process is not None:
            values = np.array([None if m else process(v) for v, m in zip(values, missing)], object)
    values = values.astype(object)
    values[missing] = None
    return values


def _sqlite_upsert(conn, tbl, todo: pd.DataFrame, key: list[str]) -> None:
    """All of ``todo`` in one prepared ``INSERT … ON CONFLICT DO UPDATE`` run by the driver's
    ``executemany`` (rows as tuples, values converted per column): the same rows SQLAlchemy's
    per-row parameter processing writes, in a fraction of its time."""
    quote = conn.dialect.identifier_preparer.quote
    names = list(todo.columns)
    update = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in names if c not in key)
    sql = (
        f"INSERT INTO {conn.dialect.identifier_preparer.format_table(tbl)} "
        f"({', '.join(quote(c) for c in names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in key)}) DO "
        + (f"UPDATE SET {update}" if update else "NOTHING")
    )
    columns = [_sqlite_values(todo[c], tbl.c[c].type, conn.dialect) for c in names]
    conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))


def _write(conn, tbl, todo: pd.DataFrame, key: list[str]) -> None:
    """Insert or update ``todo``'s rows of ``tbl`` by ``key`` (SQLite: one prepared statement for
    all rows; other databases: SQLAlchemy statements in chunks)."""
    if conn.dialect.name == "sqlite":
        return _sqlite_upsert(conn, tbl, todo, key)
    return _statement_write(conn, tbl, todo, key)


def _statement_write(conn, tbl, todo: pd.DataFrame, key: list[str]) -> None:
    """Insert or update through SQLAlchemy statements, 5,000 rows at a time (any dialect)."""
    import sqlalchemy as sa

    records = _records(todo)
    dialect = conn.dialect.name
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        if dialect in ("sqlite", "postgresql"):
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            stmt = insert(tbl)
            update = {c: stmt.excluded[c] for c in todo.columns if c not in key}
            conn.execute(stmt.on_conflict_do_update(index_elements=key, set_=update), chunk)
        else:
            cond = sa.and_(*[tbl.c[c] == sa.bindparam(f"_k_{c}") for c in key])
            conn.execute(
                sa.delete(tbl).where(cond), [{f"_k_{c}": r[c] for c in key} for r in chunk]
            )
            conn.execute(sa.insert(tbl), chunk)


def upsert(
    url,
    table: str,
    frame: pd.DataFrame,
    key: list[str],
    *,
    ignore=(),
    dry_run: bool = False,
) -> pd.DataFrame:
    """Insert new rows and update changed rows of ``frame`` into ``table``, keyed by ``key``.

    Parameters
    ----------
    url : str or sqlalchemy.engine.Engine
        Database URL, e.g. ``sqlite:///demo/crm.db`` or ``postgresql+psycopg://user@host/db``.
    table : str
        Table name; created with a unique constraint on ``key`` when missing.
    frame : DataFrame
        Rows to write; an existing table must have exactly its columns.
    key : list of str
        Upsert key columns (unique per row of ``frame``).
    ignore : sequence of str
        Columns not compared when deciding whether a row changed (e.g. the scoring time).
    dry_run : bool
        Only compute the diff; write nothing (and create no table).

    Returns
    -------
    DataFrame
        The diff of :func:`compare` (status per row) before writing.

    Raises
    ------
    ChurnmlError
        When the table exists with other columns (another preset's table).
    """
    dupes = frame.duplicated(key, keep=False)
    if dupes.any():
        raise ValueError(
            f"CRM rows for table {table!r}: {int(dupes.sum())} rows share a key {key}, "
            f"e.g. {frame.loc[dupes, key].head(3).to_dict('records')}"
        )
    engine = engine_for(url)
    if dry_run:
        with engine.connect() as conn:
            tbl = _reflect(conn, table)
            if tbl is not None:
                check_table_columns(tbl, frame, allow_new=True)
            existing = None if tbl is None else _read(conn, tbl, frame, key)
        return compare(frame, existing, key, ignore=ignore)
    with _transaction(engine, table) as conn:
        tbl = _create_or_reflect(conn, table, frame, key)
        diff = compare(frame, _read(conn, tbl, frame, key), key, ignore=ignore)
        todo = frame.reset_index(drop=True).loc[(diff["status"] != "unchanged").to_numpy()]
        if len(todo):
            _write(conn, tbl, todo, key)
    return diff
