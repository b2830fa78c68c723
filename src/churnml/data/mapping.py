"""Mapping files: how a company's own tables and columns become the Customer 360 contract.

A mapping is a small YAML file read once into frozen dataclasses and checked eagerly, so a typo
shows up with the bad value before any data is read::

    source: raw/              # optional, relative to the mapping file
    timezone: Europe/Berlin   # default time zone of naive timestamps (converted to UTC)
    tables:
      accounts: {file: customers.csv, columns: {account_id: cust_id, name: company}}
      contracts:
        sql: |
          SELECT sub_id AS contract_id, cust_id AS account_id, ... FROM subscriptions
      usage: {file: events.parquet, columns: {ts: event_time}, formats: {ts: "%d/%m/%Y %H:%M"}}

``preset: salesforce`` (with optional ``options``, ``columns`` overrides and the ``schema`` of the
raw tables) selects a table from a standard warehouse schema instead (:mod:`churnml.sources`).
``source`` may also be a database URL (:mod:`churnml.sources.urls`; ``${NAME}`` is filled from
the environment when the source is opened). ``account_key`` says how a table's own customer key
reaches ``account_id`` and ``keys`` names the key map (:mod:`churnml.data.keys`).
``columns`` maps contract names to the user's names. Each table is read from exactly one of
``file`` (a file of the source folder), ``table`` (a table of a DuckDB file, a file stem, or a key
of a dict of frames) or ``sql`` (a DuckDB ``SELECT`` in which every source table is a view).
A mapping is often copied from elsewhere and run by a scheduler, so ``sql`` must be a single
``SELECT`` (checked here, when the mapping is read) and both it and ``file`` stay inside the source
folder (checked when the data are read; see :mod:`churnml.data.confine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from churnml.data.contract import CONTRACT
from churnml.errors import ChurnmlError

__all__ = ["Mapping", "TableMapping", "mapping_from_dict", "read_mapping"]

_TABLE_KEYS = ("file", "table", "sql", "columns", "formats", "timezone", "account_key", "preset",
               "options", "schema")
_TOP_KEYS = ("source", "timezone", "tables", "keys")


def _check_timezone(tz, where: str):
    if tz is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(tz, str):
        raise ValueError(  # noqa: TRY004 - a bad config value, not a bad argument type
            f"{where}: timezone must be a string such as 'Europe/Berlin', but got {tz!r}"
        )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{where}: unknown timezone {tz!r} (use an IANA name such as 'UTC' or 'Europe/Berlin')"
        ) from None
    return tz


def _str_dict(value, where: str, key: str) -> MappingProxyType:
    if value is None:
        return MappingProxyType({})
    if isinstance(value, MappingProxyType):
        value = dict(value)
    if not isinstance(value, dict):
        raise ValueError(  # noqa: TRY004 - a bad config value, not a bad argument type
            f"{where}: {key} must be a mapping of contract column -> value, but got {value!r}"
        )
    bad = {k: v for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)}
    if bad:
        raise ValueError(f"{where}: {key} entries must be strings, but got {bad!r}")
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class TableMapping:
    """How one contract table is read: its origin and column renames, formats and time zone.

    Parameters
    ----------
    name : str
        Contract table name (``accounts``, ``contracts``, ...).
    file, table, sql : str, optional
        At most one origin; with none the table is read under its contract name.
    columns : mapping of str to str
        Contract column name -> the user's column name.
    formats : mapping of str to str
        Contract timestamp column -> ``strftime`` format of its raw text.
    timezone : str, optional
        Time zone of naive timestamps in this table (overrides the mapping-wide one).
    account_key : AccountKey or dict, optional
        How the table's customer key reaches ``account_id`` (:mod:`churnml.data.keys`).
    preset : str, optional
        The source preset the ``sql`` was composed from (:mod:`churnml.sources`).
    """

    name: str
    file: str | None = None
    table: str | None = None
    sql: str | None = None
    columns: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    formats: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    timezone: str | None = None
    account_key: object = None
    preset: str | None = None

    def __post_init__(self):
        where = f"mapping for table {self.name!r}"
        if self.name not in CONTRACT:
            raise ValueError(
                f"mapping: unknown table {self.name!r}; contract tables are {sorted(CONTRACT)}"
            )
        origins = [k for k in ("file", "table", "sql") if getattr(self, k) is not None]
        if len(origins) > 1:
            raise ValueError(f"{where}: give only one of file, table or sql, but got {origins}")
        for k in origins:
            if not isinstance(getattr(self, k), str) or not getattr(self, k).strip():
                raise ValueError(
                    f"{where}: {k} must be a non-empty string, but got {getattr(self, k)!r}"
                )
        object.__setattr__(self, "columns", _str_dict(self.columns, where, "columns"))
        object.__setattr__(self, "formats", _str_dict(self.formats, where, "formats"))
        self._set_account_key(where)
        known = CONTRACT[self.name].columns
        unknown = [c for c in self.columns if c not in known]
        if unknown:
            raise ValueError(
                f"{where}: columns keys must be contract columns ({sorted(known)}), but got {unknown}"
            )
        not_time = [c for c in self.formats if known.get(c) != "timestamp"]
        if not_time:
            raise ValueError(
                f"{where}: formats apply to timestamp columns only, but got {not_time}"
            )
        _check_timezone(self.timezone, where)
        if self.sql is not None:
            from churnml.data.confine import check_select

            check_select(self.sql, f"mapping tables.{self.name}.sql")
        if self.file is not None:
            from churnml.data.load import file_kind

            file_kind(self.file, f"mapping tables.{self.name}.file")

    def _set_account_key(self, where: str) -> None:
        from churnml.data.keys import AccountKey

        key = self.account_key
        if key is None or isinstance(key, AccountKey):
            return
        if not isinstance(key, dict):
            raise ValueError(  # noqa: TRY004 - a bad config value, not a bad argument type
                f"{where}: account_key must be a mapping such as {{column: customer_id, system: "
                f"stripe}}, but got {key!r}")
        bad = [k for k in key if k not in ("column", "system", "email")]
        if bad:
            raise ValueError(f"{where}: account_key keys are column, system and email, but got {bad}")
        key = AccountKey(table=self.name, **key)
        if "account_id" in self.columns:
            raise ValueError(f"{where}: give account_id either in columns or as account_key, "
                             "not both")
        if key.system is None and key.column is not None:  # the column holds the account id
            object.__setattr__(self, "columns",
                               MappingProxyType({**self.columns, "account_id": key.column}))
        object.__setattr__(self, "account_key", key)

    @property
    def origin(self) -> tuple[str, str]:
        """``(kind, value)``: ``("file", ...)``, ``("table", ...)`` or ``("sql", ...)``."""
        for kind in ("sql", "file", "table"):
            if getattr(self, kind) is not None:
                return kind, getattr(self, kind)
        return "table", self.name


@dataclass(frozen=True)
class Mapping:
    """A whole mapping: optional source, default time zone, and per-table mappings."""

    source: Path | str | None = field(default=None, repr=False)  # a URL may hold a password
    timezone: str | None = None
    tables: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    keys: object = None

    def __post_init__(self):
        from churnml.data.keys import KeyMap

        _check_timezone(self.timezone, "mapping")
        object.__setattr__(self, "tables", MappingProxyType(dict(self.tables)))
        if isinstance(self.keys, dict):
            bad = [k for k in self.keys if k not in ("file", "table", "sql", "columns")]
            if bad:
                raise ValueError(f"mapping keys: unknown keys {bad}; allowed are file, table, "
                                 "sql, columns")
            object.__setattr__(self, "keys", KeyMap(**self.keys))
        elif self.keys is not None and not isinstance(self.keys, KeyMap):
            raise ValueError(f"mapping keys: expected file/table/sql and columns, but got "
                             f"{self.keys!r}")
        needs = [n for n, tm in self.tables.items()
                 if tm.account_key is not None and tm.account_key.system is not None]
        if needs and self.keys is None:
            raise ValueError(f"mapping: tables {needs} reach accounts through the key map "
                             "(account_key with system), but the mapping has no keys: section")

    def timezone_for(self, name: str) -> str | None:
        """Time zone of naive timestamps in table ``name``."""
        tm = self.tables.get(name)
        return (tm.timezone if tm is not None and tm.timezone else None) or self.timezone


def mapping_from_dict(spec: dict, base: str | Path | None = None) -> Mapping:
    """Build a :class:`Mapping` from a parsed YAML dict; ``source`` is resolved against ``base``."""
    if not isinstance(spec, dict):
        raise ValueError(  # noqa: TRY004 - a bad config value, not a bad argument type
            f"mapping must be a YAML mapping with a 'tables' key, but got {type(spec).__name__}"
        )
    unknown = [k for k in spec if k not in _TOP_KEYS]
    if unknown:
        raise ValueError(f"mapping: unknown keys {unknown}; allowed are {list(_TOP_KEYS)}")
    tables = spec.get("tables") or {}
    if not isinstance(tables, dict):
        raise ValueError(f"mapping: tables must map table name -> settings, but got {tables!r}")  # noqa: TRY004 - a bad config value, not a bad argument type
    parsed = {}
    for name, settings in tables.items():
        settings = settings or {}
        if isinstance(settings, str):
            settings = {"file": settings}
        if not isinstance(settings, dict):
            raise ValueError(f"mapping for table {name!r}: expected settings, but got {settings!r}")  # noqa: TRY004 - a bad config value, not a bad argument type
        bad = [k for k in settings if k not in _TABLE_KEYS]
        if bad:
            raise ValueError(
                f"mapping for table {name!r}: unknown keys {bad}; allowed are {list(_TABLE_KEYS)}"
            )
        if "preset" in settings:  # a packaged preset: its SQL with the options and columns given
            from churnml.sources.preset_mapping import expand

            settings = expand(name, settings)
        elif "options" in settings or "schema" in settings:
            raise ValueError(f"mapping for table {name!r}: options and schema apply to a preset "
                             "table only")
        parsed[name] = TableMapping(name=name, **settings)
    source = spec.get("source")
    from churnml.sources.urls import is_database_url

    if source is not None and not is_database_url(str(source)):
        source = Path(source)
        if base is not None and not source.is_absolute():
            source = Path(base) / source
    elif source is not None:
        source = str(source).strip()
    return Mapping(source=source, timezone=spec.get("timezone"), tables=parsed,
                   keys=spec.get("keys"))


def read_mapping(path: str | Path) -> Mapping:
    """Read a mapping YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file; a relative ``source`` in it is taken relative to the file's folder.

    Returns
    -------
    Mapping

    Examples
    --------
    >>> m = read_mapping("mapping.yaml")  # doctest: +SKIP
    >>> m.tables["accounts"].columns["account_id"]  # doctest: +SKIP
    'cust_id'
    """
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"mapping file not found: {path}")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ChurnmlError(f"mapping file {path} is not valid YAML: {exc}") from None
    try:
        return mapping_from_dict(spec or {}, base=path.parent)
    except ValueError as exc:
        raise ChurnmlError(f"{path}: {exc}", hint=getattr(exc, "hint", None)) from None
