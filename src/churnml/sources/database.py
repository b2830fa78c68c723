"""Read contract tables from a database URL into Arrow, with the work pushed down to the database.

PostgreSQL URLs (``postgresql://``, ``postgresql+psycopg://``, ``postgres://``) are read through
ADBC (``adbc-driver-postgresql``: the server's binary ``COPY`` straight into Arrow, no Python per
row); any other SQLAlchemy URL, or PostgreSQL without that driver, through SQLAlchemy and pandas
(the generic fallback). A contract table is one ``SELECT`` sent to the database: a ``table:``
(``schema.table`` allowed) or the mapping's ``sql:`` (checked to be a single ``SELECT`` when the
mapping is read, and run in a read-only transaction), reduced to the columns the mapping names
and, for scoring, to rows at or after a time bound (``WHERE "ts" >= $1``), so the database never
sends what churnml would drop. Errors never show the password (:func:`churnml.sources.urls.redact`).
"""

from __future__ import annotations

import re

from churnml.errors import ChurnmlError
from churnml.sources.urls import expand_env, hide_secrets, redact

__all__ = ["DatabaseSource"]

_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+[A-Za-z0-9_]+)?://")
_HINT = (
    "check the URL, that the server is reachable, and the credentials (in the URL, ${VARIABLE} "
    "from the environment, or the driver's own PGPASSWORD / ~/.pgpass)"
)


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _relation(name: str) -> str:
    """``schema.table`` or ``table`` as quoted identifiers."""
    return ".".join(_quote(part) for part in str(name).split("."))


class DatabaseSource:
    """One database: list its tables, read one as Arrow, summarise its event times.

    Parameters
    ----------
    url : str
        SQLAlchemy-style URL; ``${NAME}`` is filled from the environment.
    """

    def __init__(self, url: str):
        self._url = expand_env(url)
        self.label = redact(url)
        self._adbc = bool(_POSTGRES.match(self._url)) and _has_adbc()
        self._engine = None

    # --- plumbing ------------------------------------------------------------------------------
    def _fail(self, exc: Exception, where: str):
        message = " ".join(hide_secrets(str(exc), self._url).split())[:400]
        return ChurnmlError(f"{where}: the database {self.label} refused or failed: {message}",
                            hint=_HINT)

    def _placeholder(self, i: int) -> str:
        """The driver's mark for parameter ``i`` (0-based), written only where churnml adds a
        parameter: a ``?`` in the user's own SQL (a regex, a JSON operator) stays as it is."""
        return f"${i + 1}" if self._adbc else f":p{i}"

    def _run(self, sql: str, params: tuple, where: str):
        """Arrow table of one read-only statement with :meth:`_placeholder` parameters."""
        if self._adbc:
            return self._run_adbc(sql, params, where)
        return self._run_sqlalchemy(sql, params, where)

    def _run_adbc(self, sql: str, params: tuple, where: str):
        import adbc_driver_postgresql.dbapi as pg

        uri = _POSTGRES.sub("postgresql://", self._url)
        try:
            with pg.connect(uri) as con, con.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                cur.execute(sql, parameters=params or None)
                table = cur.fetch_arrow_table()
                con.rollback()
        except Exception as exc:  # noqa: BLE001 - any driver error becomes one clear line
            raise self._fail(exc, where) from None
        return table.replace_schema_metadata(None)

    def _run_sqlalchemy(self, sql: str, params: tuple, where: str):
        import pandas as pd
        import pyarrow as pa
        import sqlalchemy as sa

        names = [f"p{i}" for i in range(len(params))]
        try:
            if self._engine is None:
                self._engine = sa.create_engine(self._url)
            with self._engine.connect() as conn:
                frame = pd.read_sql(sa.text(sql), conn, params=dict(zip(names, params)))
        except ModuleNotFoundError as exc:
            raise ChurnmlError(f"{where}: the database driver for {self.label} is not installed "
                               f"({exc.name})", hint="install it, e.g. pip install "
                               "'churnml[postgres]' for PostgreSQL") from None
        except Exception as exc:  # noqa: BLE001 - any driver error becomes one clear line
            raise self._fail(exc, where) from None
        return pa.Table.from_pandas(frame, preserve_index=False)

    # --- what the loader asks --------------------------------------------------------------------
    def names(self) -> list[str]:
        """Tables and views of the database (PostgreSQL: every schema but the system ones)."""
        if self._adbc:
            sql = ("SELECT CASE WHEN table_schema = current_schema() THEN table_name ELSE "
                   "table_schema || '.' || table_name END AS name FROM information_schema.tables "
                   "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
            return self._run(sql, (), "list tables").column("name").to_pylist()
        import sqlalchemy as sa

        try:
            if self._engine is None:
                self._engine = sa.create_engine(self._url)
            inspector = sa.inspect(self._engine)
            return sorted([*inspector.get_table_names(), *inspector.get_view_names()])
        except Exception as exc:  # noqa: BLE001
            raise self._fail(exc, "list tables") from None

    def base(self, kind: str, value: str) -> str:
        """The FROM item of a ``table`` or ``sql`` origin."""
        if kind == "sql":
            return f"({value.strip().rstrip(';')}) AS {_quote('churnml_src')}"
        return _relation(value)

    def schema(self, base: str, where: str):
        """Arrow schema of a FROM item (no rows fetched)."""
        return self._run(f"SELECT * FROM {base} LIMIT 0", (), where).schema

    def read(self, base: str, columns, where: str, *, time=None, since=None):
        """Arrow table of ``columns`` (the source's names; None: all) of a FROM item, only rows
        whose ``time`` column is at or after ``since`` when both are given."""
        cols = "*" if columns is None else ", ".join(_quote(c) for c in columns)
        sql, params = f"SELECT {cols} FROM {base}", ()
        if time is not None and since is not None:
            sql += f" WHERE {_quote(time)} >= {self._placeholder(0)}"
            params = (since.to_pydatetime(),)
        return self._run(sql, params, where)

    def summary(self, base: str, account: str, time: str, where: str):
        """Per account: first and last ``time`` and the number of rows (computed by the database)."""
        sql = (f"SELECT {_quote(account)} AS account_id, MIN({_quote(time)}) AS first, "
               f"MAX({_quote(time)}) AS last, COUNT(*) AS rows FROM {base} "
               f"GROUP BY {_quote(account)}")
        return self._run(sql, (), where)

    def close(self):
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _has_adbc() -> bool:
    from importlib.util import find_spec

    return find_spec("adbc_driver_postgresql") is not None
