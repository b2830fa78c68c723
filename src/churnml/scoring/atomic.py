"""Writers for scoring outputs: plain writers (``*_to``) and their atomic versions (``write_*``).

The plain writers write one file at a path they are given; a scoring run uses them on the
temporary files of its staging (:mod:`churnml.scoring.commit`). The ``write_*`` functions write a
temporary file in the same folder and rename it over the target, so a crash leaves either the
previous file or the new one, never half of one (:func:`churnml.data.atomic.atomic_path`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from churnml.data.atomic import atomic_path

__all__ = [
    "atomic_path",
    "csv_to",
    "frame_to",
    "json_to",
    "parquet_to",
    "write_csv",
    "write_frame",
    "write_json",
    "write_parquet",
]

FRAME_SUFFIXES = (".csv", ".parquet", ".pq")


def parquet_to(frame: pd.DataFrame, path, metadata: dict | None = None) -> Path:
    """Write ``frame`` to Parquet at ``path`` with extra key-value ``metadata`` (str -> str)."""
    if not metadata:
        frame.to_parquet(path, index=False)
        return Path(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = dict(table.schema.metadata or {})
    merged.update({str(k).encode(): str(v).encode() for k, v in metadata.items()})
    pq.write_table(table.replace_schema_metadata(merged), path)
    return Path(path)


def csv_to(frame: pd.DataFrame, path) -> Path:
    """Write ``frame`` to CSV at ``path`` (UTF-8, no index, ISO timestamps, RFC 4180 CRLF rows).

    With CRLF rows every cell holding a carriage return or a line feed is quoted; with bare LF
    rows a carriage return inside a cell would be written unquoted and split the row. The bytes
    are assembled in Arrow (:func:`churnml.scoring.csv_text.csv_bytes`, the same bytes in about
    half the time) unless the frame holds a kind of column only pandas formats.
    """
    from churnml.scoring.csv_text import csv_bytes

    data = csv_bytes(frame)
    if data is None:
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S", lineterminator="\r\n")
    else:
        Path(path).write_bytes(data)
    return Path(path)


def frame_to(frame: pd.DataFrame, path, *, suffix_of=None) -> Path:
    """CSV or Parquet at ``path``, chosen by the suffix of ``suffix_of`` (default ``path``)."""
    suffix = check_frame_suffix(suffix_of if suffix_of is not None else path)
    return csv_to(frame, path) if suffix == ".csv" else parquet_to(frame, path)


def check_frame_suffix(path) -> str:
    """The lower-case suffix of ``path`` when it is ``.csv``, ``.parquet`` or ``.pq``."""
    suffix = Path(path).suffix.lower()
    if suffix not in FRAME_SUFFIXES:
        raise ValueError(
            f"cannot write {path}: the suffix must be .csv or .parquet, got {suffix!r}"
        )
    return suffix


def json_to(obj, path) -> Path:
    """Write ``obj`` as indented JSON (non-JSON values via ``str``) at ``path``."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
    return Path(path)


def write_parquet(frame: pd.DataFrame, path, *, metadata: dict | None = None) -> Path:
    """Write ``frame`` to Parquet atomically and return the path."""
    with atomic_path(path) as tmp:
        parquet_to(frame, tmp, metadata)
    return Path(path)


def write_csv(frame: pd.DataFrame, path) -> Path:
    """Write ``frame`` to CSV (as :func:`csv_to`) atomically and return the path."""
    with atomic_path(path) as tmp:
        csv_to(frame, tmp)
    return Path(path)


def write_frame(frame: pd.DataFrame, path) -> Path:
    """Write CSV or Parquet atomically, chosen by the suffix (``.csv``, ``.parquet``/``.pq``)."""
    check_frame_suffix(path)
    with atomic_path(path) as tmp:
        frame_to(frame, tmp, suffix_of=path)
    return Path(path)


def write_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON (non-JSON values via ``str``) atomically."""
    with atomic_path(path) as tmp:
        json_to(obj, tmp)
    return Path(path)
