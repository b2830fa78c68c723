"""Parse raw columns to the contract's kinds: ids to strings, timestamps to UTC tz-naive
``datetime64``, floats, nullable integers and booleans, curated words to the contract spelling.

Values that do not parse become missing and are recorded in ``frame.attrs["churnml"]["unparseable"]``;
columns mixing naive and zoned timestamps in ``frame.attrs["churnml"]["mixed_timezones"]``.
:func:`churnml.data.validate.validate` reports both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.contract import CONTRACT, VOCABULARY

__all__ = ["parse_table"]

_TZ_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2})\s*$"
_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_FALSE = ("false", "f", "no", "n", "0", "0.0")
N_EXAMPLES = 3


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
    distinct = pd.Series(values.dropna().unique())  # a few words, however long the column
    words = distinct.str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)
    known = words.isin(vocabulary)
    lookup = pd.Series(words[known].to_numpy(), index=distinct[known].to_numpy())
    if not len(lookup) or (lookup.index == lookup.to_numpy()).all():
        return values
    mapped = values.map(lookup)
    return mapped.where(mapped.notna(), values).astype(values.dtype)


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
