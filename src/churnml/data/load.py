"""Load customer tables onto the Customer 360 contract, and write them back as Parquet.

A source is a folder of Parquet/CSV files (file stem = table name), a DuckDB database file
(table names), or a dict of DataFrames. A mapping file (see :mod:`churnml.data.mapping`) renames
tables and columns, gives timestamp formats and time zones, or selects a table with SQL.

Every contract column is parsed to its kind: ids to strings, timestamps to UTC tz-naive
``datetime64``, floats, nullable booleans. Values that do not parse become missing and are recorded
in ``frame.attrs["churnml"]["unparseable"]``; columns mixing naive and zoned timestamps are recorded
in ``frame.attrs["churnml"]["mixed_timezones"]``. :func:`churnml.data.validate.validate` reports both.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.data.contract import CONTRACT, OUTCOMES, PRIORITIES, ROLES, SEGMENTS, TABLES

__all__ = ["load_tables", "parse_table", "read_mapping", "write_tables"]

FILE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}
DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
_TZ_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
N_EXAMPLES = 3
#: curated columns whose text is normalised to the contract's spelling ("Mid Market" -> "mid_market")
VOCABULARY = {
    ("contracts", "outcome"): OUTCOMES,
    ("contacts", "role"): ROLES,
    ("accounts", "segment"): SEGMENTS,
    ("tickets", "priority"): PRIORITIES,
}


def read_mapping(path):
    """Read a mapping YAML file (see :func:`churnml.data.mapping.read_mapping`)."""
    from churnml.data.mapping import read_mapping as _read

    return _read(path)


# --- parsing ------------------------------------------------------------------------------
def _as_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values) and values.dropna().mod(1).eq(0).all():
        values = values.astype("Int64")
    return values.astype("str").str.strip()


def _parse_string(values):
    dtype = values.dtype
    if (
        isinstance(dtype, pd.StringDtype)
        and dtype.storage == "pyarrow"
        and dtype.na_value is not pd.NA
    ):
        return values, None
    if isinstance(dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(
        dtype.categories.dtype
    ):
        return values, None
    return _as_text(values), None


def _parse_float(values):
    if pd.api.types.is_float_dtype(values) and not isinstance(
        values.dtype, pd.api.extensions.ExtensionDtype
    ):
        return values, None  # float32 stays compact
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.astype("float64"), None
    return pd.to_numeric(_as_text(values), errors="coerce").astype("float64"), None


def _parse_int(values):
    out, _ = _parse_float(values)
    out = out.where(out.mod(1).eq(0))
    return out.astype("Int64"), None


def _parse_bool(values):
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), None
    text = _as_text(values).str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    return out, None


def _localize(stamps: pd.Series, tz: str | None) -> pd.Series:
    """Naive local times in ``tz`` -> naive UTC; ambiguous DST hours taken as standard time."""
    if not tz or tz.upper() == "UTC":
        return stamps
    ambiguous = np.zeros(len(stamps), dtype=bool)
    return (
        stamps.dt.tz_localize(tz, ambiguous=ambiguous, nonexistent="shift_forward")
        .dt.tz_convert("UTC")
        .dt.tz_localize(None)
    )


def _parse_timestamp(values, fmt=None, tz=None):
    """Parse to naive UTC ``datetime64[us]``; returns (parsed, mixed-time-zone info or None)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None), None
    if pd.api.types.is_datetime64_dtype(values):
        return _localize(values, tz), None
    text = _as_text(values)
    present = values.notna()
    zoned = text.str.contains(_TZ_SUFFIX, regex=True, na=False)
    mixed = None
    if zoned.any() and (present & ~zoned).any():
        mixed = {
            "zoned": int(zoned.sum()),
            "naive": int((present & ~zoned).sum()),
            "examples": [*text[zoned].head(2), *text[present & ~zoned].head(2)],
        }
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    for part, is_zoned in ((zoned, True), (present & ~zoned, False)):
        if not part.any():
            continue
        raw = text[part]
        kwargs = {"utc": True} if is_zoned else {}
        parsed = pd.to_datetime(raw, format=fmt or "ISO8601", errors="coerce", **kwargs)
        retry = parsed.isna()
        if fmt is None and retry.any():
            parsed[retry] = pd.to_datetime(raw[retry], format="mixed", errors="coerce", **kwargs)
        if is_zoned:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        else:
            parsed = _localize(parsed, tz)
        out[part] = parsed.astype("datetime64[us]")
    return out, mixed


_PARSERS = {"string": _parse_string, "float": _parse_float, "int": _parse_int, "bool": _parse_bool}


def _normalise_words(values: pd.Series, vocabulary) -> pd.Series:
    """Map case/space/hyphen variants of the contract's words onto them; other values are kept."""
    words = values.str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)
    return words.where(words.isin(vocabulary), values)


def _examples(frame: pd.DataFrame, mask: pd.Series, column: str, key: tuple[str, ...]) -> list[str]:
    rows = frame.loc[mask].head(N_EXAMPLES)
    keys = [k for k in key if k in frame.columns and k != column]
    out = []
    for pos, (idx, value) in enumerate(rows[column].items()):
        where = ", ".join(f"{k}={rows[k].iloc[pos]}" for k in keys) or f"row {idx}"
        out.append(f"{where}: {value!r}")
    return out


def parse_table(name: str, frame: pd.DataFrame, *, timezone=None, formats=None, infer_extras=False):
    """Parse the contract columns of table ``name`` to their kinds (other columns are kept).

    Parameters
    ----------
    name : str
        Contract table name.
    frame : DataFrame
        Raw table with contract column names.
    timezone : str, optional
        IANA time zone of naive timestamps (default UTC).
    formats : dict, optional
        Column -> ``strftime`` format for timestamp text.
    infer_extras : bool
        Convert non-contract text columns to numbers when every value converts (CSV sources).

    Returns
    -------
    DataFrame
        A new frame; ``attrs["churnml"]`` holds ``unparseable`` and ``mixed_timezones`` records.
    """
    spec = CONTRACT[name]
    formats = dict(formats or {})
    out = frame.copy(deep=False)
    out.attrs = {}
    unparseable, mixed_tz = [], []
    key = spec.key or ("account_id",)
    for column, kind in spec.columns.items():
        if column not in out.columns:
            continue
        raw = out[column]
        if kind == "timestamp":
            parsed, mixed = _parse_timestamp(raw, formats.get(column), timezone)
            if mixed:
                mixed_tz.append({"column": column, **mixed})
        else:
            parsed, _ = _PARSERS[kind](raw)
        bad = raw.notna() & parsed.isna()
        if kind == "string" and bad.any():  # blank text is missing, not unparseable
            bad[bad] = raw[bad].astype("str").str.strip().ne("")
        if bad.any():
            unparseable.append(
                {
                    "column": column,
                    "kind": kind,
                    "count": int(bad.sum()),
                    "examples": _examples(out, bad, column, key),
                }
            )
        if (name, column) in VOCABULARY and not isinstance(parsed.dtype, pd.CategoricalDtype):
            parsed = _normalise_words(parsed, VOCABULARY[name, column])
        out[column] = parsed
    if infer_extras:
        for column in out.columns.difference(list(spec.columns)):
            values = out[column]
            if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
                numbers = pd.to_numeric(values, errors="coerce")
                if numbers.notna().sum() == values.notna().sum() and values.notna().any():
                    out[column] = numbers
    out.attrs["churnml"] = {"unparseable": unparseable, "mixed_timezones": mixed_tz}
    return out


# --- sources ------------------------------------------------------------------------------
def _read_file(path: Path) -> pd.DataFrame:
    kind = FILE_SUFFIXES[path.suffix.lower()]
    if kind == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, sep="\t" if kind == "tsv" else ",")


class _Source:
    """Uniform access to a folder, a DuckDB file or a dict of frames: names, read, sql."""

    def __init__(self, source):
        self._con = None
        self.files: dict[str, Path] = {}
        self.frames: dict[str, pd.DataFrame] = {}
        self.db: Path | None = None
        if isinstance(source, dict):
            self.frames = dict(source)
            self.label = "dict of DataFrames"
            return
        path = Path(source)
        self.label = str(path)
        if path.is_dir():
            for f in sorted(path.iterdir()):
                if f.suffix.lower() in FILE_SUFFIXES and not f.name.startswith("."):
                    self.files.setdefault(f.stem, f)
        elif path.is_file() and path.suffix.lower() in DUCKDB_SUFFIXES:
            self.db = path
        elif path.is_file() and path.suffix.lower() in FILE_SUFFIXES:
            raise ValueError(
                f"source {path} is a single file; give the folder holding one file per table"
            )
        elif not path.exists():
            raise FileNotFoundError(f"data source not found: {path}")
        else:
            raise ValueError(
                f"source {path}: expected a folder, a DuckDB file {DUCKDB_SUFFIXES} or a dict"
            )

    @property
    def con(self):
        if self._con is None:
            import duckdb

            if self.db is not None:
                self._con = duckdb.connect(str(self.db), read_only=True)
            else:
                self._con = duckdb.connect()
                for stem, f in self.files.items():
                    kind = FILE_SUFFIXES[f.suffix.lower()]
                    rel = (
                        self._con.read_parquet(str(f))
                        if kind == "parquet"
                        else self._con.read_csv(str(f))
                    )
                    rel.create_view(stem)
                for name, frame in self.frames.items():
                    self._con.register(name, frame)
            try:
                self._con.execute("SET TimeZone = 'UTC'")
            except Exception:  # noqa: BLE001, S110 - ICU may be unavailable; timestamps stay naive then
                pass
        return self._con

    def names(self) -> list[str]:
        if self.db is not None:
            return [
                r[0]
                for r in self.con.execute(
                    "SELECT table_name FROM information_schema.tables"
                ).fetchall()
            ]
        return [*self.files, *self.frames]

    def is_text(self, name: str) -> bool:
        f = self.files.get(name)
        return f is not None and FILE_SUFFIXES[f.suffix.lower()] in ("csv", "tsv")

    def read(self, name: str) -> pd.DataFrame | None:
        if name in self.frames:
            return self.frames[name]
        if name in self.files:
            return _read_file(self.files[name])
        if self.db is not None and name in self.names():
            return self.con.table(name).df()
        return None

    def read_path(self, file: str, base: Path | None) -> pd.DataFrame:
        path = Path(file)
        if not path.is_absolute():
            root = base if base is not None else Path(self.label)
            path = root / path
        if not path.exists():
            raise FileNotFoundError(f"mapping file entry not found: {path}")
        return _read_file(path)

    def sql(self, query: str) -> pd.DataFrame:
        return self.con.execute(query).df()

    def close(self):
        if self._con is not None:
            self._con.close()


@contextmanager
def _open(source):
    src = _Source(source)
    try:
        yield src
    finally:
        src.close()


def _fetch(src: _Source, name: str, tm, base):
    """Raw frame of contract table ``name`` (contract column names), or None when absent."""
    if tm is None:
        return src.read(name)
    kind, value = tm.origin
    if kind == "sql":
        try:
            frame = src.sql(value)
        except Exception as exc:  # noqa: BLE001 - re-raised with the table named
            raise ValueError(
                f"mapping for table {name!r}: the SQL failed in DuckDB: {exc}"
            ) from None
    elif kind == "file":
        frame = src.read_path(value, base)
    else:
        frame = src.read(value)
        if frame is None:
            raise ValueError(
                f"mapping for table {name!r}: source table {value!r} not found in {src.label}; "
                f"available: {sorted(src.names())}"
            )
    missing = [user for user in tm.columns.values() if user not in frame.columns]
    if missing:
        raise ValueError(
            f"mapping for table {name!r}: columns {missing} not in the source table; "
            f"it has {list(frame.columns)}"
        )
    return frame.rename(columns={user: contract for contract, user in tm.columns.items()})


def load_tables(
    source=None, mapping=None, *, tables=None, validate=True
) -> dict[str, pd.DataFrame]:
    """Load customer tables as a dict of contract tables.

    Parameters
    ----------
    source : str, Path or dict, optional
        Folder of Parquet/CSV files (file stem = table name), a DuckDB database file, or a dict
        of DataFrames. Defaults to the mapping's ``source``.
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
        Contract tables present in the source; absent ones are not in the dict.

    Examples
    --------
    >>> tables = load_tables("data/", mapping="mapping.yaml")  # doctest: +SKIP
    >>> sorted(tables)  # doctest: +SKIP
    ['accounts', 'contracts', 'usage']
    """
    from churnml.data.mapping import Mapping

    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = read_mapping(mapping)
    base = None
    if source is None:
        if mapping is None or mapping.source is None:
            raise ValueError(
                "load_tables: give a source (folder, DuckDB file or dict) or a mapping with source:"
            )
        source = mapping.source
    if not isinstance(source, dict):
        base = Path(source) if Path(source).is_dir() else Path(source).parent
    wanted = list(tables) if tables is not None else list(TABLES)
    out: dict[str, pd.DataFrame] = {}
    with _open(source) as src:
        for name in wanted:
            if name not in CONTRACT:
                frame = src.read(name)
                if frame is not None:
                    out[name] = frame
                continue
            tm = mapping.tables.get(name) if mapping is not None else None
            raw = _fetch(src, name, tm, base)
            if raw is None:
                continue
            text = (
                tm is None
                and src.is_text(name)
                or (
                    tm is not None
                    and tm.origin[0] == "file"
                    and Path(tm.file).suffix.lower() in (".csv", ".tsv")
                )
            )
            out[name] = parse_table(
                name,
                raw,
                timezone=mapping.timezone_for(name) if mapping is not None else None,
                formats=tm.formats if tm is not None else None,
                infer_extras=text,
            )
    if "contacts" in out and "accounts" in out:
        from churnml.data.contacts import match_contacts

        out["contacts"] = match_contacts(out["contacts"], out["accounts"])
    if validate:
        from churnml.data.validate import DataQualityError
        from churnml.data.validate import validate as run_validation

        report = run_validation(out, raise_on_fatal=False)
        unasked = (report["check"] == "missing_table") & ~report["table"].isin(wanted)
        report = report[~unasked].reset_index(drop=True)
        if (report["severity"] == "fatal").any():
            raise DataQualityError(report)
    return out


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
