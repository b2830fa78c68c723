"""Arrow between Spark and the local engine: time stamps, IPC payloads, frames in a fixed schema."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["from_ipc", "naive", "to_ipc", "to_schema"]


def naive(frame: pd.DataFrame) -> pd.DataFrame:
    """Time-zone-aware columns (Spark's UTC time stamps) as naive UTC ``datetime64``, in place."""
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def to_ipc(table) -> bytes:
    """One Arrow table as an IPC stream (a ``binary`` cell of a Spark row)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(payloads, schema):
    """The rows of several IPC payloads as one table (``schema``'s empty table when none)."""
    import pyarrow as pa

    tables = [pa.ipc.open_stream(p).read_all() for p in payloads]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _array(values: pd.Series, kind):
    import pyarrow as pa

    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("string")
    if pa.types.is_timestamp(kind):
        values = pd.to_datetime(values)
        if kind.tz is not None and values.dt.tz is None:
            values = values.dt.tz_localize("UTC")
        elif kind.tz is None and values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pa.types.is_integer(kind) and pd.api.types.is_integer_dtype(values):
        return pa.array(values, from_pandas=True).cast(kind)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        numbers = pd.to_numeric(values).astype("float64").to_numpy(na_value=np.nan)
        return pa.array(numbers, from_pandas=True).cast(kind, safe=False)
    return pa.array(values, from_pandas=True).cast(kind)


def to_schema(frame: pd.DataFrame, schema):
    """``frame``'s columns named in ``schema`` as an Arrow table of exactly that schema."""
    import pyarrow as pa

    arrays = [_array(frame[field.name], field.type) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
