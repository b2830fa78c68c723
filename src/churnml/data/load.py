"""Load customer tables onto the Customer 360 contract, and write them back as Parquet.

A source is a folder of Parquet/CSV files (file stem = table name), a DuckDB database file
(table names), a database URL (:mod:`churnml.sources.database`), or a dict of DataFrames
(:class:`churnml.sources.files.Source`). A mapping file (see :mod:`churnml.data.mapping`) renames
tables and columns, gives timestamp formats and time zones, or selects a table with SQL: one
``SELECT`` that reads nothing outside the source folder (:mod:`churnml.data.confine`).

Every contract column is parsed to its kind by :func:`churnml.data.parse.parse_table`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churnml.data.contract import CONTRACT, TABLES
from churnml.data.parse import parse_table
from churnml.errors import ChurnmlError
from churnml.sources.files import DUCKDB_SUFFIXES, FILE_SUFFIXES, Source, file_kind  # noqa: F401

__all__ = ["load_tables", "open_tables", "parse_table", "read_mapping", "write_tables"]


def read_mapping(path):
    """Read a mapping YAML file (see :func:`churnml.data.mapping.read_mapping`)."""
    from churnml.data.mapping import read_mapping as _read

    return _read(path)



def _read_origin(src: Source, kind: str, value: str, where: str) -> pd.DataFrame:
    """The rows a mapping entry names: its ``sql``, its ``file`` or a source ``table``
    (``where`` names the entry in messages)."""
    if kind == "sql":
        return src.sql(value, where)
    if kind == "file":
        return src.read_path(value, where)
    frame = src.read(value, where)
    if frame is None:
        raise ChurnmlError(f"{where}: source table {value!r} not found in {src.label}; "
                           f"available: {sorted(src.names())}")
    return frame


def _fetch(src: Source, name: str, tm, raw=None):
    """Raw frame of contract table ``name`` (contract column names), or None when absent.
    ``raw``: the source's rows already fetched (with the source's column names)."""
    if raw is not None:
        frame = raw
    elif tm is None:
        return src.read(name, f"table {name}")
    else:
        kind, value = tm.origin
        preset = getattr(tm, "preset", None)  # a packaged preset's table (main's presets)
        where = f"mapping tables.{name}" + (f" (preset {preset})" if preset else f".{kind}")
        frame = _read_origin(src, kind, value, where)
    if tm is None:
        return frame
    missing = [user for user in tm.columns.values() if user not in frame.columns]
    if missing:
        raise ChurnmlError(
            f"mapping tables.{name}.columns: columns {missing} not in the source table; "
            f"it has {list(frame.columns)}"
        )
    return frame.rename(columns={user: contract for contract, user in tm.columns.items()})


def _other_billing_mapped(name: str, mapping) -> bool:
    """Whether the mapping gives the other billing table (contracts vs subscriptions)."""
    from churnml.data.contract import BILLING_TABLES

    if mapping is None or name not in BILLING_TABLES:
        return False
    return any(other in mapping.tables for other in BILLING_TABLES if other != name)


def _parsed(src: Source, name: str, tm, mapping, raw=None):
    """Contract table ``name`` read and parsed, or None when the source has none."""
    frame = _fetch(src, name, tm, raw)
    if frame is None:
        return None
    text = (
        tm is None
        and src.is_text(name)
        or (
            tm is not None
            and tm.origin[0] == "file"
            and Path(tm.file).suffix.lower() in (".csv", ".tsv")
        )
    )
    return parse_table(
        name,
        frame,
        timezone=mapping.timezone_for(name) if mapping is not None else None,
        formats=tm.formats if tm is not None else None,
        infer_extras=text,
    )


def _resolve(source, mapping):
    from churnml.data.mapping import Mapping

    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = read_mapping(mapping)
    if source is None:
        if mapping is None or mapping.source is None:
            raise ValueError(
                "load_tables: give a source (folder, DuckDB file, database URL or dict) or a "
                "mapping with source:"
            )
        source = mapping.source
    return source, mapping


def _read_keymap(src: Source, keys) -> pd.DataFrame:
    """The key map (system, external_id, account_id as text) of a mapping's ``keys:``."""
    kind, value = keys.origin
    frame = _read_origin(src, kind, value, f"mapping keys.{kind}")
    names = {c: keys.columns.get(c, c) for c in ("system", "external_id", "account_id")}
    missing = [user for user in names.values() if user not in frame.columns]
    if missing:
        raise ChurnmlError(f"mapping keys.columns: columns {missing} not in the key map; it has "
                           f"{list(frame.columns)}",
                           hint="name them with columns: {system: ..., external_id: ..., "
                           "account_id: ...}")
    return pd.DataFrame({c: frame[user].astype("string").str.strip() for c, user in names.items()})


def _keyed(frame, tm, keymap, accounts):
    """``frame`` with its ``account_key`` applied (or only recorded, for a plain column)."""
    from churnml.data.keys import ATTRS_KEY, resolve_keys

    key = None if tm is None else tm.account_key
    if key is None or frame is None:
        return frame
    if key.system is None and key.email is None:
        frame.attrs[ATTRS_KEY] = {"how": key.how, "column": key.source_column}
        return frame
    if key.source_column not in frame.columns:
        raise ChurnmlError(f"mapping tables.{tm.name}.account_key: column "
                           f"{key.source_column!r} not in the source table; it has "
                           f"{list(frame.columns)}")
    return resolve_keys(frame, key, keymap, accounts)


def _read_all(src: Source, mapping, wanted, *, lazy: bool, since) -> dict:
    out: dict = {}
    keymap = None if mapping is None or mapping.keys is None else _read_keymap(src, mapping.keys)
    for name in wanted:
        if name not in CONTRACT:
            frame = src.read(name, f"table {name}")
            if frame is not None:
                out[name] = frame
            continue
        tm = mapping.tables.get(name) if mapping is not None else None
        if tm is None and _other_billing_mapped(name, mapping):
            continue  # a raw file called subscriptions is not the contract's when contracts are mapped
        emailed = tm is not None and tm.account_key is not None and tm.account_key.email
        if name == "usage" and (lazy or since is not None) and not emailed:
            from churnml.sources.usage import open_usage

            found = open_usage(src, tm, mapping, since,
                               lambda raw=None, tm=tm: _keyed(
                                   _parsed(src, "usage", tm, mapping, raw), tm, keymap, None),
                               keymap=keymap)
            if found is not None and not lazy and not isinstance(found, pd.DataFrame):
                found = found.to_pandas()
        else:
            found = _parsed(src, name, tm, mapping)
            if not emailed:
                found = _keyed(found, tm, keymap, None)
        if found is not None:
            out[name] = found
    for name, frame in list(out.items()):  # by email domain: once the accounts are known
        tm = mapping.tables.get(name) if mapping is not None else None
        if tm is not None and tm.account_key is not None and tm.account_key.email:
            if "accounts" not in out:
                raise ChurnmlError(f"mapping tables.{name}.account_key: matching by email needs "
                                   "the accounts table (with email_domain)")
            out[name] = _keyed(frame, tm, keymap, out["accounts"])
    return out


def _finish(out: dict, wanted, validate: bool) -> dict:
    if "contacts" in out and "accounts" in out:
        from churnml.data.contacts import match_contacts

        out["contacts"] = match_contacts(out["contacts"], out["accounts"])
    from churnml.data.subscriptions import with_renewal_terms

    out = with_renewal_terms(out)  # subscriptions -> renewal terms, once for every entry point
    if validate:
        from churnml.data.validate import DataQualityError
        from churnml.data.validate import validate as run_validation

        report = run_validation(out, raise_on_fatal=False)
        asked = report["table"].str.split("|").map(lambda names: any(n in wanted for n in names))
        unasked = (report["check"] == "missing_table") & ~asked.astype(bool)
        report = report[~unasked].reset_index(drop=True)
        if (report["severity"] == "fatal").any():
            raise DataQualityError(report)
    return out


def _load(source, mapping, *, tables, validate, lazy, since) -> dict:
    source, mapping = _resolve(source, mapping)
    wanted = list(tables) if tables is not None else list(TABLES)
    src = Source(source)
    try:
        out = _read_all(src, mapping, wanted, lazy=lazy, since=since)
        out = _finish(out, wanted, validate)
    except BaseException:
        src.close()
        raise
    from churnml.sources.lazy import is_lazy

    if not any(is_lazy(frame) for frame in out.values()):
        src.close()  # nothing reads the source any more; a lazy table closes it itself
    return out


def open_tables(source=None, mapping=None, *, tables=None, validate=True, since=None) -> dict:
    """The tables as :func:`load_tables` returns them, with usage kept in DuckDB where it can be.

    The internal entry point of the CLI, ``train`` and ``score``: usage is a
    :class:`~churnml.sources.lazy.LazyTable` (the feature engine and the validation read it in
    SQL; :func:`churnml.sources.lazy.as_dated` gives its dated rows), the other tables are
    pandas frames. ``since`` reads only usage rows at or after it (scoring: the longest
    indicator look-back before ``as_of``), pushed down to the Parquet scan or the database.
    Close the lazy table (``tables["usage"].close()``) when done, or let it be collected.
    """
    return _load(source, mapping, tables=tables, validate=validate, lazy=True,
                 since=None if since is None else pd.Timestamp(since))


def load_tables(
    source=None, mapping=None, *, tables=None, validate=True
) -> dict[str, pd.DataFrame]:
    """Load customer tables as a dict of contract tables.

    Parameters
    ----------
    source : str, Path or dict, optional
        Folder of Parquet/CSV files (file stem = table name), a DuckDB database file, a database
        URL (``postgresql://user@host/db``, any SQLAlchemy URL; see :mod:`churnml.sources.urls`
        for credentials), or a dict of DataFrames. Defaults to the mapping's ``source``.
    mapping : str, Path or Mapping, optional
        Mapping YAML (or a :class:`~churnml.data.mapping.Mapping`) onto the contract.
    tables : list of str, optional
        Read only these tables. Non-contract names (e.g. ``oracle``) are read as they are.
    validate : bool
        Run :func:`churnml.data.validate.validate` and raise one ``DataQualityError`` on fatal
        problems (a mandatory table left out by ``tables=`` is not a problem).

    Returns
    -------
    dict of str to DataFrame
        Contract tables present in the source; absent ones are not in the dict. Subscriptions
        without contracts come with the renewal terms cut from them as ``contracts``
        (:func:`churnml.data.subscriptions.with_renewal_terms`).

    Examples
    --------
    >>> tables = load_tables("data/", mapping="mapping.yaml")  # doctest: +SKIP
    >>> sorted(tables)  # doctest: +SKIP
    ['accounts', 'contracts', 'usage']
    """
    return _load(source, mapping, tables=tables, validate=validate, lazy=False, since=None)


def write_tables(tables: dict[str, pd.DataFrame], folder) -> dict[str, Path]:
    """Write each table to ``folder/<name>.parquet`` atomically.

    Parameters
    ----------
    tables : dict of str to DataFrame
    folder : str or Path
        Created when missing.

    Returns
    -------
    dict of str to Path
        Table name -> written file.

    Examples
    --------
    >>> paths = write_tables(tables, "data/")  # doctest: +SKIP
    """
    from churnml.data.atomic import write_parquet

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in tables.items():
        plain = frame.copy(deep=False)
        plain.attrs = {}
        paths[name] = write_parquet(plain, folder / f"{name}.parquet")
    return paths
