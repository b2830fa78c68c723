"""Atomic writers for scoring outputs: temporary file in the same folder, then ``os.replace``.

A crash or an interrupted run leaves either the previous file or the new one, never half of one.
Builds on :func:`churnml.data.atomic.atomic_path`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from churnml.data.atomic import atomic_path, write_parquet

__all__ = ["atomic_path", "write_csv", "write_frame", "write_json", "write_parquet"]


def write_csv(frame: pd.DataFrame, path) -> Path:
    """Write ``frame`` to CSV (UTF-8, no index, ISO timestamps) atomically and return the path."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S")
    return Path(path)


def write_frame(frame: pd.DataFrame, path) -> Path:
    """Write CSV or Parquet atomically, chosen by the suffix (``.csv``, ``.parquet``/``.pq``)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(frame, path)
    if suffix in (".parquet", ".pq"):
        return write_parquet(frame, path)
    raise ValueError(f"cannot write {path}: the suffix must be .csv or .parquet, got {suffix!r}")


def write_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON (non-JSON values via ``str``) atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str, ensure_ascii=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)
