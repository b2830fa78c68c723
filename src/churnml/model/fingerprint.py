"""Data fingerprints: what a model was trained on, cheap enough to log with every run.

A fingerprint records, per table, the row count, the time span of its event column and a hash of
its keys and timestamps (``pd.util.hash_pandas_object``, vectorised). Two trainings on the same data
give the same fingerprint; adding, removing or re-dating a row changes it. Values are not hashed, so
it costs a fraction of a second even on millions of usage rows.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def _hash_columns(frame: pd.DataFrame, table: str) -> list[str]:
    from churnml.data.contract import CONTRACT

    spec = CONTRACT.get(table)
    if spec is not None:
        wanted = [*spec.key, "account_id"]
        wanted += [c for c, kind in spec.columns.items() if kind == "timestamp"]
    else:
        wanted = [c for c in frame.columns if c.endswith("_id")]
        wanted += [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    return [c for c in dict.fromkeys(wanted) if c in frame.columns]


def frame_digest(frame: pd.DataFrame, columns=None) -> str:
    """16-hex-digit digest of ``columns`` (default all) of ``frame``, row order included."""
    part = frame if columns is None else frame[list(columns)]
    if part.shape[1] == 0:
        return hashlib.sha256(str(len(part)).encode()).hexdigest()[:16]
    hashed = pd.util.hash_pandas_object(part, index=False).to_numpy(dtype=np.uint64)
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, part.columns)).encode())
    return digest.hexdigest()[:16]


def fingerprint(tables: dict) -> pd.DataFrame:
    """One row per table: table, rows, columns, hashed_columns, first, last, digest.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables (``oracle`` and other extra frames are fingerprinted too).

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> fp = fingerprint(tables)  # doctest: +SKIP
    >>> fp.set_index("table").loc["usage", "rows"]  # doctest: +SKIP
    """
    from churnml.data.contract import CONTRACT

    from churnml.sources.lazy import fingerprint_row, is_lazy

    rows = []
    for name in sorted(tables):
        frame = tables[name]
        if is_lazy(frame):  # in SQL, where it lies (see churnml.sources.lazy.fingerprint_row)
            rows.append(fingerprint_row(frame))
            continue
        columns = _hash_columns(frame, name)
        spec = CONTRACT.get(name)
        event = spec.event_time if spec is not None else None
        first = last = None
        if event and event in frame.columns and len(frame):
            times = pd.to_datetime(frame[event])
            first, last = times.min(), times.max()
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "columns": int(frame.shape[1]),
                "hashed_columns": ",".join(columns),
                "first": None if first is None or pd.isna(first) else str(first),
                "last": None if last is None or pd.isna(last) else str(last),
                "digest": frame_digest(frame, columns),
            }
        )
    return pd.DataFrame(rows)


def combined_digest(fp: pd.DataFrame) -> str:
    """One digest over every table's digest and row count (the run's ``data_digest`` tag)."""
    text = ";".join(f"{t}:{r}:{d}" for t, r, d in fp[["table", "rows", "digest"]].itertuples(False))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mapping_digest(mapping) -> str | None:
    """16-hex-digit digest of a mapping's tables, columns, formats, SQL and time zones (not of
    where its ``source`` lies: the data digest covers the data); None without a mapping.

    Parameters
    ----------
    mapping : str, Path, dict or Mapping, optional
        What ``load_tables`` accepts as ``mapping``.
    """
    if mapping is None:
        return None
    from churnml.data.mapping import Mapping, mapping_from_dict, read_mapping

    if isinstance(mapping, dict):
        mapping = mapping_from_dict(mapping)
    elif not isinstance(mapping, Mapping):
        mapping = read_mapping(mapping)
    tables = sorted(
        (
            name,
            spec.origin,
            sorted(dict(spec.columns).items()),
            sorted(dict(spec.formats).items()),
            spec.timezone,
            # keys across systems, only when given (older mappings keep their digest)
            *([repr(spec.account_key)] if getattr(spec, "account_key", None) else []),
        )
        for name, spec in mapping.tables.items()
    )
    keys = getattr(mapping, "keys", None)
    text = repr((mapping.timezone, tables, *([repr(keys)] if keys is not None else [])))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: model config fields that define the label (absent ones are skipped)
LABEL_FIELDS = ("label", "horizon_days", "downgrade_churn_share")


def label_definition(config, label: str | None = None) -> str:
    """The label a model config defines, as text: ``label=renewal horizon_days=180 ...``.

    ``label`` is the definition training resolved (``auto`` becomes ``renewal`` or ``window``);
    without it the config's own, ``renewal`` for configs that predate the choice."""
    values = {name: getattr(config, name, None) for name in LABEL_FIELDS}
    values["label"] = label or values["label"] or "renewal"
    return " ".join(f"{k}={v}" for k, v in values.items() if v is not None)
