"""Plain-language reasons: which catalog sentence may be shown for a value, and rendering it.

A driver is shown with the indicator's *risk* sentence and a protective factor with its *protective*
sentence, rendered by ``Indicator.render(kind, row)`` with the account's actual values. SHAP can give
a positive contribution to a value that is not on the risky side (a tree interaction, or a flag that
is off), and the sentence would then state something false ("Active users fell 20%" for a 20% rise).
:func:`sentence_applies` keeps only rows whose value is on the side the sentence describes:

==============================  ==========================  ==========================
indicator (direction)           risk sentence shown when    protective sentence when
==============================  ==========================  ==========================
``none`` (categorical)          always                      always
signed (change, slope,          value > 0                   value < 0
difference), ``up``
signed, ``down``                value < 0                   value > 0
flag (unit ``flag``), ``up``    value > 0 (flag set)        value == 0
flag, ``down``                  value == 0                  value > 0
other, ``up``                   value > max(0, typical)     value < typical; value == 0
                                                            when the sentence does not
                                                            quote the value ("No open
                                                            tickets")
other, ``down``                 value < typical             value > typical
==============================  ==========================  ==========================

``typical`` is the model's median of the indicator over the rows it was fitted on
(``ChurnModel.typical_values_``); templates may quote it as ``{typical}`` ("Low usage per seat: 7
product events per licensed seat (typical account: 88)"). Without it an ``up`` risk needs
``value > 0`` and the other "other" cells always apply. A missing value fails every comparison,
so a signed, flag or ``up`` indicator without a value is never stated as a reason.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

import numpy as np
import pandas as pd

from churnml.features.catalog import _PLURAL_AFTER_ONE, Indicator, _missing, _parse_template

#: explain's row kinds -> the catalog's sentence kinds.
SENTENCE_KIND = {"driver": "risk", "protective": "protective"}
_SIGNED = ("change", "slope", "trend", "delta", "difference")
_FLAG_UNITS = ("flag", "bool", "boolean", "indicator")


def has_sentence(indicator, kind: str) -> bool:
    """True when ``indicator`` has a non-empty template for ``kind`` ("driver" or "protective")."""
    template = getattr(indicator, f"{SENTENCE_KIND[kind]}_sentence", None)
    return isinstance(template, str) and bool(template.strip())


def _is_signed(indicator) -> bool:
    shape = str(getattr(indicator, "shape", "") or "").lower()
    return any(word in shape for word in _SIGNED)


def _is_flag(indicator) -> bool:
    shape = str(getattr(indicator, "shape", "") or "").lower()
    unit = str(getattr(indicator, "unit", "") or "").lower()
    return "flag" in shape or unit in _FLAG_UNITS


def sentence_applies(indicator, kind: str, values, typical=None) -> np.ndarray:
    """Boolean mask: may ``indicator``'s sentence of ``kind`` be shown for each of ``values``?

    See the module docstring for the rules. ``values`` are the indicator's own values (float, NaN
    for missing); ``typical`` the typical account's value, if known; categorical indicators
    (direction ``none``) always apply.
    """
    values = np.asarray(values)
    direction = getattr(indicator, "direction", "none")
    if direction not in ("up", "down") or values.dtype.kind not in "biuf":
        return np.ones(values.shape, dtype=bool)
    v = values.astype(np.float64)
    risky_up = direction == "up"
    with np.errstate(invalid="ignore"):
        if _is_signed(indicator):
            risky = v > 0 if risky_up else v < 0
            safe = v < 0 if risky_up else v > 0
        elif _is_flag(indicator):
            risky = v > 0 if risky_up else v == 0
            safe = v == 0 if risky_up else v > 0
        else:
            every = np.ones(v.shape, dtype=bool)
            has_typical = typical is not None and np.isfinite(typical)
            if risky_up:
                risky = v > max(0.0, typical) if has_typical else v > 0
                safe = v < typical if has_typical else every
                if not _quotes_value(indicator, "protective"):
                    safe = v == 0  # the sentence claims zero ("No open tickets")
            else:
                risky = v < typical if has_typical else every
                safe = v > typical if has_typical else every
    return risky if kind == "driver" else safe


def _quotes_value(indicator, sentence_kind: str) -> bool:
    """Does the ``risk``/``protective`` template show ``{value}`` or ``{abs_value}``?"""
    template = getattr(indicator, f"{sentence_kind}_sentence", None) or ""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError:
        return True
    return bool(names & {"value", "abs_value"})


class FrameColumns:
    """Lazy per-column Python lists of a feature frame for sentence rendering.

    Numeric columns become lists of floats (NaN for missing); categorical, text and other columns
    lists of objects with ``None`` for missing. A column is converted on first use only.
    """

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self._cache: dict[str, list] = {}

    def __contains__(self, name) -> bool:
        return name in self.frame.columns

    def __getitem__(self, name) -> list:
        if name not in self._cache:
            self._cache[name] = column_values(self.frame[name]).tolist()
        return self._cache[name]


def has_numbers(dtype) -> bool:
    """Whether a column of ``dtype`` holds numbers (numeric or bool; not categories or text)."""
    return pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    )


def column_values(series: pd.Series) -> np.ndarray:
    """``series`` as float64 (numeric, bool) or object with ``None`` for missing (anything else)."""
    if has_numbers(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.array(series.astype(object).to_numpy(), dtype=object, copy=True)
    out[pd.isna(out)] = None
    return out


def template_fields(indicator) -> tuple[str, ...]:
    """Names an indicator's two templates read (besides ``value``/``abs_value``), plus its own id."""
    names = {indicator.id}
    for kind in SENTENCE_KIND.values():
        template = getattr(indicator, f"{kind}_sentence", None)
        if not isinstance(template, str):
            continue
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError:  # malformed template: render falls back
            continue
        for _, name, _, _ in parsed:
            if name:
                names.add(re.split(r"[.\[]", name, maxsplit=1)[0])
    return tuple(sorted(names - {"value", "abs_value", "typical", ""}))


def render_sentence(indicator, kind: str, row: Mapping) -> str:
    """The ``kind`` ("driver"/"protective") sentence of ``indicator`` for ``row``; never raises.

    Uses ``indicator.render``; if a template is malformed, falls back to the indicator's
    description and value so one bad catalog entry cannot stop a scoring run.
    """
    try:
        return indicator.render(SENTENCE_KIND[kind], row)
    except Exception:  # noqa: BLE001 - a sentence must never stop scoring
        value = row.get(indicator.id)
        shown = (
            "unknown" if value is None or (isinstance(value, float) and np.isnan(value)) else value
        )
        return f"{getattr(indicator, 'description', indicator.id)}: {shown}"


def render_sentences(
    catalog, frame: pd.DataFrame, rows, indicators, kinds, typical=None
) -> list[str]:
    """Sentences for the shown (row position, indicator id, kind) triples of ``frame``.

    Each call of ``render`` gets a small ``{id: value}`` mapping holding just the indicators its
    templates name (read from the frame's columns; missing values as NaN or None), so rendering
    costs the same however wide the feature frame is.

    Parameters
    ----------
    catalog : Catalog
        Gives ``catalog[id]`` with ``render(kind, row)``.
    frame : DataFrame
        The feature frame; every column is available to the templates.
    rows, indicators, kinds : sequences of equal length
        Row positions in ``frame``, indicator ids, and "driver"/"protective".
    typical : mapping, optional
        Indicator id -> the typical account's value, quoted by ``{typical}``.
    """
    columns = FrameColumns(frame)
    fields = {}
    out = []
    for i, ind, kind in zip(rows, indicators, kinds):
        if ind not in fields:
            fields[ind] = [n for n in template_fields(catalog[ind]) if n in columns]
        row = {n: columns[n][i] for n in fields[ind]}
        row["typical"] = (typical or {}).get(ind)
        out.append(render_sentence(catalog[ind], kind, row))
    return out


def join_per_row(n: int, rows, texts, sep: str = "\n") -> pd.Series:
    """``texts`` joined by ``sep`` per row position (0..n-1), in the given order; missing where a
    row has none. One vectorised concatenation per position within a row, no loop over rows.

    Examples
    --------
    >>> join_per_row(3, [2, 0, 2], ["b", "a", "c"], sep=", ").tolist()
    ['a', <NA>, 'b, c']
    """
    rows = np.asarray(rows, dtype=np.int64)
    texts = pd.Series(texts, dtype=object, copy=False).to_numpy(dtype=object)
    keep = ~pd.isna(texts)
    rows, texts = rows[keep], texts[keep]
    order = np.argsort(rows, kind="stable")
    rows, texts = rows[order], texts[order].astype(str).astype(object)
    starts = np.r_[0, np.flatnonzero(rows[1:] != rows[:-1]) + 1] if len(rows) else np.empty(0, int)
    first = np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    position = np.arange(len(rows)) - first
    out = np.full(n, None, dtype=object)
    for k in range(int(position.max()) + 1 if len(position) else 0):
        at = position == k
        out[rows[at]] = texts[at] if k == 0 else out[rows[at]] + sep + texts[at]
    return pd.Series(pd.array(out, dtype="string"))


def as_strings(values) -> pd.api.extensions.ExtensionArray:
    """``pd.array(values, dtype="string")`` for a long array of few distinct texts (None for
    missing): each distinct text converted once, then taken by its code."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return pd.array(np.asarray(distinct, dtype=object), dtype="string").take(codes)


def row_positions(reasons: pd.DataFrame, account, as_of) -> np.ndarray:
    """Position in the feature frame (``account``, ``as_of``: its keys per row) of each row of
    ``reasons`` (by account_id and as_of; the first feature row when keys repeat)."""
    keys = pd.DataFrame(
        {
            "account_id": pd.array(account, dtype="string"),
            "as_of": as_of,
            "_row": np.arange(len(account)),
        }
    ).drop_duplicates(["account_id", "as_of"])
    left = reasons[["account_id", "as_of"]].assign(
        account_id=reasons["account_id"].astype("string"),
        as_of=pd.to_datetime(reasons["as_of"]).astype("datetime64[ns]"),
    )
    keys["as_of"] = pd.to_datetime(keys["as_of"]).astype("datetime64[ns]")
    return left.merge(keys, on=["account_id", "as_of"], how="left")["_row"].to_numpy()


def _value_codes(values: np.ndarray) -> np.ndarray:
    """Integer codes equal exactly where ``values`` are the same value (floats by their bits, so
    0.0 and -0.0, which render differently, get different codes)."""
    if values.dtype == np.float64:
        values = values.view(np.int64)
    return pd.factorize(values, use_na_sentinel=False)[0]


def render_distinct(catalog, features, rows, indicator, kinds, typical) -> list:
    """:func:`render_sentences`'s sentences, rendered once per distinct (indicator, kind, values its templates
    read): a sentence is a function of exactly these (``render_sentences`` passes the template's
    fields and the typical value), and about half of a batch's shown reasons repeat one. Each
    (indicator, kind) is rendered a template piece at a time (:func:`render_columns`)."""
    out = np.empty(len(rows), dtype=object)
    if not len(rows):
        return []
    columns = {}
    # (indicator, kind) pairs numbered in order of first appearance, from each one's codes
    which = pd.factorize(indicator, use_na_sentinel=False)[0]
    kind = pd.factorize(kinds, use_na_sentinel=False)[0]
    group = pd.factorize(which * (int(kind.max()) + 1) + kind)[0]
    for g in range(int(group.max()) + 1):
        at = np.flatnonzero(group == g)
        name = indicator[at[0]]
        key = None
        for col in template_fields(catalog[name]):
            if col not in features.columns:
                continue
            if col not in columns:
                columns[col] = column_values(features[col])
            codes = _value_codes(columns[col][rows[at]])
            key = codes if key is None else _value_codes(key * (int(codes.max()) + 1) + codes)
        key = np.zeros(len(at), dtype=np.int64) if key is None else key
        # factorize numbers values in order of first appearance: a new code marks a first row
        first = np.flatnonzero(np.r_[True, key[1:] > np.maximum.accumulate(key)[:-1]])
        picked = rows[at[first]]
        shown = render_columns(catalog[name], kinds[at[0]], columns, picked, typical)
        if shown is None:  # a template or value the column renderer does not handle
            shown = render_sentences(
                catalog, features, picked, indicator[at[first]], kinds[at[first]], typical
            )
        out[at] = np.asarray(shown, dtype=object)[key]
    return out.tolist()


def render_columns(indicator, kind: str, columns: dict, rows: np.ndarray, typical) -> list | None:
    """The ``kind`` sentences of ``indicator`` for feature rows ``rows``, rendered one template
    piece at a time over all rows: exactly what :func:`render_sentence` gives for each row.

    ``columns`` maps the template's fields to :func:`column_values` arrays of the whole frame (a
    field absent from it reads as missing). Returns None when the template or a value needs the
    row-by-row path (a custom ``render``, a conversion such as ``!r``, a malformed template, a
    value ``abs`` or ``format`` rejects), so the caller falls back to :func:`render_sentences`.
    """
    if type(indicator).render is not Indicator.render or kind not in SENTENCE_KIND:
        return None
    template = getattr(indicator, f"{SENTENCE_KIND[kind]}_sentence", None)
    if template is None:
        return [None] * len(rows)
    n = len(rows)
    try:
        pieces = _parse_template(template)
        fields = {f: columns[f][rows] for f in template_fields(indicator) if f in columns}
        value = fields.get(indicator.id, np.full(n, None, dtype=object))
        fields["value"] = value
        fields["abs_value"] = _absolute(value)
        out = np.full(n, "", dtype=object)
        one = np.zeros(n, dtype=bool)
        for text, name, spec, conv in pieces:
            if conv:
                return None
            plural = _PLURAL_AFTER_ONE.sub(r" \1\2", text, count=1)
            if plural != text and one.any():
                out = out + np.array([text, plural], dtype=object)[one.astype(np.intp)]
            else:
                out = out + text
            if name is None:
                one[:] = False
                continue
            if name == "typical":
                shown = np.full(n, _format_one((typical or {}).get(indicator.id), spec), object)
            else:
                shown = _formatted(fields.get(name, np.full(n, None, dtype=object)), spec)
            out = out + shown
            one = (shown == "1") | (shown == "+1") | (shown == "-1")
    except Exception:  # noqa: BLE001 - the row-by-row path decides, as render_sentence does
        return None
    return out.tolist()


def _absolute(values: np.ndarray) -> np.ndarray:
    """``abs`` of each value (float64: NaN stays missing; objects: None stays None)."""
    if values.dtype == np.float64:
        return np.abs(values)
    out = np.empty(len(values), dtype=object)
    out[:] = [None if _missing(v) else abs(v) for v in values.tolist()]
    return out


def _formatted(values: np.ndarray, spec: str) -> np.ndarray:
    """``format(v, spec)`` per value: "unknown" when missing, ``str(v)`` when the spec does not fit
    the value (as :meth:`Indicator.render` shows it)."""
    out = np.full(len(values), "unknown", dtype=object)
    if values.dtype != np.float64:
        out[:] = [_format_one(v, spec) for v in values.tolist()]
        return out
    known = ~np.isnan(values)
    present = values[known].tolist()
    try:
        out[known] = [format(v, spec) for v in present]
    except (TypeError, ValueError):
        out[known] = [_format_one(v, spec) for v in present]
    return out


def _format_one(v, spec: str) -> str:
    if _missing(v):
        return "unknown"
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)
