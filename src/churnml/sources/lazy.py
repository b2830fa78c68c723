"""A contract table that stays in DuckDB: the large usage table, read at the speed of a scan.

:class:`LazyTable` is what the CLI, ``train``, ``score`` and ``build_features`` get for usage
instead of a pandas frame: a ``SELECT`` over the source (the Parquet files, a DuckDB file's table,
the mapping's SQL, or the Arrow result of a database query) that renames the columns to the
contract's and parses them in SQL, on the source's own confined DuckDB connection. The feature
engine reduces it to the grains it needs in that connection (no pandas round trip); validation
runs its checks there (:mod:`churnml.data.sql_checks`); everything that only needs the dates of
the rows reads :meth:`LazyTable.dated`, one row per account and active day.
``churnml.load_tables`` materialises it (:meth:`LazyTable.to_pandas`) for notebooks, through
the same parser as every other table.

A lazy table may be *bounded* (``since``): scoring reads only rows inside the longest indicator
look-back before ``as_of``, pushed down to the Parquet scan or the database; what needs the whole
history (the first activity, the row count) comes from a small per-account summary computed at
the source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LazyTable", "as_dated", "as_span", "is_lazy", "row_count"]


class LazyTable:
    """One contract table as SQL on a DuckDB connection (see the module docstring).

    Parameters
    ----------
    name : str
        Contract table name.
    source : object
        The open source (closed with this table); ``source.con`` is its DuckDB connection.
    select : str
        ``SELECT`` producing the contract columns, parsed (account_id text, ts naive UTC, ...).
    columns : list of str
        Contract columns the select produces.
    materialise : callable
        Returns the table as pandas, parsed exactly as ``load_tables`` parses every table.
    since : Timestamp, optional
        Rows before it were left at the source.
    summary : DataFrame, optional
        Per account ``first``, ``last`` and ``rows`` over the whole table (bounded tables).
    label : str
        Where it comes from, for messages (a URL is already redacted).
    """

    def __init__(self, name, source, select, columns, materialise, *, since=None, summary=None,
                 label=""):
        self.name = name
        self.source = source
        self.select = select
        self.columns = pd.Index(columns)
        self._materialise = materialise
        self.since = since
        self.summary = summary
        self.label = label
        self._dated = None
        self._span = None
        self._rows = None
        self.attrs: dict = {}

    @property
    def con(self):
        """The DuckDB connection the select runs on."""
        return self.source.con

    def __repr__(self) -> str:
        bound = f", since {self.since.date()}" if self.since is not None else ""
        return f"LazyTable({self.name!r} from {self.label}, columns {list(self.columns)}{bound})"

    def __contains__(self, column) -> bool:
        return column in self.columns

    def __len__(self) -> int:
        if self._rows is None:
            if self.summary is not None:
                self._rows = int(self.summary["rows"].sum())
            else:
                self._rows = int(self.con.execute(f"SELECT COUNT(*) FROM ({self.select})").fetchall()[0][0])
        return self._rows

    def head(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` rows the select returns (in no particular order), as pandas."""
        return self.con.execute(f"SELECT * FROM ({self.select}) LIMIT {int(n)}").df()

    def to_pandas(self) -> pd.DataFrame:
        """The whole table (within ``since``) as the parsed pandas frame ``load_tables`` returns."""
        frame = self._materialise()
        if self.since is not None and "ts" in frame:
            frame = frame[frame["ts"] >= self.since].reset_index(drop=True)
        return frame

    def dated(self) -> pd.DataFrame:
        """``account_id``, ``ts`` (midnight): one row per account and day with a row, plus each
        account's first day from the summary of a bounded table (so first and last activity,
        coverage and gaps are those of the whole table)."""
        if self._dated is None:
            days = self.con.execute(
                f'SELECT "account_id", CAST(CAST("ts" AS DATE) AS TIMESTAMP) AS "ts" FROM '
                f'({self.select}) WHERE "ts" IS NOT NULL GROUP BY ALL').df()
            if self.summary is not None and len(self.summary):
                first = self.summary[["account_id", "first"]].rename(columns={"first": "ts"})
                first["ts"] = pd.to_datetime(first["ts"]).dt.normalize()
                days = pd.concat([days, first], ignore_index=True)
            days["account_id"] = days["account_id"].astype("string")
            days["ts"] = days["ts"].astype("datetime64[us]")
            self._dated = days
        return self._dated

    def span(self) -> pd.DataFrame:
        """``ts``: the first and the last time of the whole table (two rows; a bounded table's
        first comes from its summary) — all that the data period and its end need."""
        if self._span is None:
            first, last = self.con.execute(
                f'SELECT MIN("ts"), MAX("ts") FROM ({self.select})').fetchall()[0]
            if self.summary is not None and len(self.summary):
                first = self.summary["first"].min()
            self._span = pd.DataFrame({"ts": pd.to_datetime(pd.Series([first, last])).astype(
                "datetime64[us]")})
        return self._span

    def close(self):
        self.source.close()


def is_lazy(frame) -> bool:
    return isinstance(frame, LazyTable)


def as_dated(frame):
    """A pandas frame to read dates and accounts from: ``frame`` itself, or a lazy table's
    :meth:`~LazyTable.dated` rows."""
    return frame.dated() if isinstance(frame, LazyTable) else frame


def as_span(frame):
    """``frame`` itself, or a lazy table's :meth:`~LazyTable.span` (its first and last time)."""
    return frame.span() if isinstance(frame, LazyTable) else frame


def row_count(frame) -> int:
    return len(frame) if frame is not None else 0


def usage_types_ok(types: dict[str, str], formats, timezone) -> bool:
    """Whether usage columns of these DuckDB types parse in SQL exactly as pandas parses them:
    text or integer keys, a real timestamp (no format; naive only in UTC), numeric quantity."""
    text = ("VARCHAR", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER")
    ts = types.get("ts", "")
    if "ts" not in types or "ts" in (formats or {}):
        return False
    zoned = ts.startswith("TIMESTAMP WITH TIME ZONE")
    if not (ts.startswith(("TIMESTAMP", "DATE")) and (zoned or not timezone or
                                                        timezone.upper() == "UTC")):
        return False
    if any(types.get(c, "VARCHAR") not in text for c in ("account_id", "user_id", "event")):
        return False
    quantity = types.get("quantity", "DOUBLE")
    return quantity in ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT",
                        "HUGEINT") or quantity.startswith("DECIMAL")


def parsed_select(relation: str, renames: dict[str, str], types: dict[str, str],
                  since=None) -> tuple[str, list[str]]:
    """``SELECT`` of the contract usage columns from ``relation`` (quoted), parsed in SQL.

    ``renames``: contract column -> the relation's column; ``types``: contract column -> type.
    """
    from churnml.features.shapes import q

    parts = []
    if "churnml_key" in renames:  # the raw key of a key-map table, for validation's examples
        parts.append(f'CAST({q(renames["churnml_key"])} AS VARCHAR) AS "churnml_key"')
    for column in ("account_id", "user_id", "ts", "event", "quantity"):
        if column not in renames:
            continue
        raw = q(renames[column])
        if column == "ts":
            expr = (f"timezone('UTC', {raw})" if types["ts"].startswith("TIMESTAMP WITH")
                    else f"CAST({raw} AS TIMESTAMP)")
        elif column == "quantity":
            expr = f"CAST({raw} AS DOUBLE)"
        else:
            expr = f"CAST({raw} AS VARCHAR)"
        parts.append(f"{expr} AS {q(column)}")
    sql = f"SELECT {', '.join(parts)} FROM {relation}"
    if since is not None:
        # on the raw column in its own type (so DuckDB pushes it into the Parquet scan), then
        # exactly on the parsed time
        bound = f"TIMESTAMP '{pd.Timestamp(since):%Y-%m-%d %H:%M:%S}'"
        raw_type = types["ts"] if not types["ts"].startswith("TIMESTAMP WITH") else "TIMESTAMPTZ"
        sql += f" WHERE {q(renames['ts'])} >= CAST({bound} AS {raw_type})"
        sql = f'SELECT * FROM ({sql}) WHERE "ts" >= {bound}'
    return sql, [c for c in ("account_id", "user_id", "ts", "event", "quantity") if c in renames]


def summary_frame(table) -> pd.DataFrame:
    """A database's per-account summary (Arrow) as pandas: account_id text, first/last naive UTC."""
    frame = table.to_pandas()
    frame["account_id"] = frame["account_id"].astype("string")
    for column in ("first", "last"):
        values = pd.to_datetime(frame[column])
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        frame[column] = values
    frame["rows"] = np.asarray(frame["rows"], dtype=np.int64)
    return frame


def fingerprint_row(table: LazyTable) -> dict:
    """The :func:`churnml.model.fingerprint.fingerprint` row of a lazy table, computed in SQL:
    rows, time span and an order-independent digest of (account_id, ts) (a sum of row hashes, so
    adding, removing or re-dating a row changes it)."""
    import hashlib

    keys = [c for c in ("account_id", "ts") if c in table.columns]
    hashed = f"SUM(HASH({', '.join(chr(34) + k + chr(34) for k in keys)}))" if keys else "0"
    span = 'MIN("ts"), MAX("ts")' if "ts" in table.columns else "NULL, NULL"
    rows, first, last, total = table.con.execute(
        f"SELECT COUNT(*), {span}, {hashed} FROM ({table.select})").fetchall()[0]
    digest = hashlib.sha256(f"{total}:{rows}:{','.join(keys)}".encode()).hexdigest()[:16]
    return {"table": table.name, "rows": int(rows), "columns": len(table.columns),
            "hashed_columns": ",".join(keys),
            "first": None if first is None else str(pd.Timestamp(first)),
            "last": None if last is None else str(pd.Timestamp(last)), "digest": digest}
