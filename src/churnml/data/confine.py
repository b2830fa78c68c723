"""Mapping SQL and mapping paths that cannot reach outside the source folder.

A mapping file is the user's own, but it is also the file copied from a colleague or a repository
and run unattended by a scheduler. Its SQL and paths are therefore held to the source folder, in
two independent layers:

- :func:`check_select` refuses anything but one ``SELECT`` (or ``WITH ... SELECT``) statement,
  read by DuckDB's own parser: no ``COPY``, ``ATTACH``, ``INSTALL``, ``LOAD``, ``PRAGMA``, ``SET``,
  ``CREATE`` or second statement.
- :func:`confined_connection` opens DuckDB with external access off except for the source folder
  (``allowed_directories``; DuckDB resolves symbolic links and ``..`` before that check), no
  extension install or autoload, and the configuration locked so the SQL cannot undo any of it.

:func:`resolve_inside` holds ``file:`` and ``table:`` paths to the folder, symbolic links
followed. Every refusal is a :class:`~churnml.errors.ChurnmlError` naming the mapping key
(``mapping tables.usage.sql``) and the reason.
"""

from __future__ import annotations

from pathlib import Path

from churnml.errors import ChurnmlError

__all__ = ["check_select", "confined_connection", "resolve_inside"]

#: settings given when the connection opens (they cannot be changed later in the same process)
_OPEN_SETTINGS = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}

_SELECT_HINT = (
    "mapping SQL must be a single SELECT (or WITH ... SELECT) over the source's tables; "
    "recode, join and filter inside it"
)


def check_select(sql: str, where: str) -> str:
    """The one ``SELECT`` statement in ``sql``, or a refusal naming ``where``.

    Parameters
    ----------
    sql : str
        The mapping's SQL.
    where : str
        What the SQL is, for messages: ``"mapping tables.usage.sql"``.

    Returns
    -------
    str
        The statement's text as DuckDB's parser split it off.

    Raises
    ------
    ChurnmlError
        Not parseable, empty, more than one statement, or not a ``SELECT``.

    Examples
    --------
    >>> check_select("WITH a AS (SELECT 1 AS x) SELECT x FROM a;", "mapping tables.usage.sql")
    'WITH a AS (SELECT 1 AS x) SELECT x FROM a;'
    >>> check_select("COPY usage TO '/tmp/x.csv'", "mapping tables.usage.sql")
    Traceback (most recent call last):
    ...
    churnml.errors.ChurnmlError: mapping tables.usage.sql: refused, it is a COPY statement
    """
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise ChurnmlError(f"{where}: the SQL does not parse: {first}") from None
    if len(statements) != 1:
        kinds = ", ".join(_kind(s) for s in statements) or "none"
        raise ChurnmlError(
            f"{where}: refused, it holds {len(statements)} statements ({kinds})",
            hint=_SELECT_HINT,
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise ChurnmlError(
            f"{where}: refused, it is a {_kind(statement)} statement", hint=_SELECT_HINT
        )
    return statement.query


def _kind(statement) -> str:
    return str(statement.type.name).upper()


def confined_connection(folder=None, *, database=None, settings=None):
    """A DuckDB connection that reads files only inside ``folder``.

    Parameters
    ----------
    folder : str or Path, optional
        The source folder: DuckDB may read files in it and its sub-folders and nowhere else
        (symbolic links and ``..`` resolved). None: no file at all (a dict of frames).
    database : str or Path, optional
        A DuckDB database file, opened read-only (its views run under the same confinement).
    settings : dict, optional
        More DuckDB settings given at open (threads, memory_limit, temp_directory: see
        :func:`churnml.sources.resources.duckdb_settings`); locked with the rest.

    Returns
    -------
    duckdb.DuckDBPyConnection
        Time zone UTC, external access off except ``folder``, no extension install or
        autoload, configuration locked. Register frames and create views on it as usual.

    Examples
    --------
    >>> con = confined_connection("export/")  # doctest: +SKIP
    >>> con.execute("SELECT * FROM read_csv('/etc/passwd')")  # doctest: +SKIP
    Traceback (most recent call last):
    ...
    duckdb.PermissionException: Permission Error: Cannot access file "/etc/passwd" ...
    """
    import duckdb

    target = ":memory:" if database is None else str(database)
    config = {**_OPEN_SETTINGS, **(settings or {})}
    con = duckdb.connect(target, read_only=database is not None, config=config)
    try:
        try:
            con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # ICU may be unavailable; timestamps stay naive then
            pass
        con.execute("SET enable_progress_bar = false")
        allowed = [] if folder is None else [f"{Path(folder).resolve()}/"]
        con.execute("SET allowed_directories = ?", [allowed])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def resolve_inside(root, name, where: str) -> Path:
    """``name`` (relative to ``root``, or absolute) resolved, symbolic links followed; refused
    when it leaves ``root``.

    Parameters
    ----------
    root : str or Path
        The source folder.
    name : str or Path
        A path from the mapping (``file:``) or a file of the folder (``table:``).
    where : str
        What the path is, for messages: ``"mapping tables.accounts.file"``.

    Returns
    -------
    Path
        The resolved path (it may not exist).

    Examples
    --------
    >>> resolve_inside("/data/export", "../x.csv", "mapping tables.accounts.file")
    Traceback (most recent call last):
    ...
    churnml.errors.ChurnmlError: mapping tables.accounts.file: refused, '../x.csv' resolves to \
/data/x.csv, outside the source folder /data/export
    """
    root = Path(root).resolve()
    path = Path(name)
    full = (path if path.is_absolute() else root / path).resolve()
    if not full.is_relative_to(root):
        raise ChurnmlError(
            f"{where}: refused, {str(name)!r} resolves to {full}, outside the source folder {root}",
            hint="mapping paths stay inside the source folder: copy or link the data into it, "
            "or point the source at the folder that holds it",
        )
    return full
