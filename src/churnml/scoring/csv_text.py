"""CSV bytes of a frame assembled with pyarrow compute, byte for byte what pandas writes.

``DataFrame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S", lineterminator="\\r\\n")`` formats
every cell in Python and sends it through the ``csv`` module: 1.6 s for the 100,000 rows of a CRM
file (``benchmarks/batch_scoring.py``). Here each column becomes one Arrow string array (numbers
with NumPy's shortest round-trip text, which is what pandas writes; datetimes with
``datetime_as_string``), cells holding a comma, a quote, a carriage return or a line feed are
quoted as the ``csv`` module quotes them (``QUOTE_MINIMAL``, quotes doubled), and the columns are
joined row-wise in Arrow. Column kinds not listed in :func:`_cells` (and one-column frames, where
the ``csv`` module quotes an empty row) return None, and the caller writes them with pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: what makes the ``csv`` module quote a cell (the delimiter, the quote, the line terminator)
_QUOTE_WHEN = r'[,"\r\n]'
LINE_END = "\r\n"


def _text(values, missing=None) -> object:
    """An Arrow string array of ``values`` (NumPy text, str or None objects, or a pandas string
    array), quoted where the csv module would, with ``missing`` cells (and nulls) empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, mask=missing) if missing is not None else pa.array(values)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = text.cast(pa.large_string())
    risky = pc.fill_null(pc.match_substring_regex(text, _QUOTE_WHEN), False)
    if pc.any(risky).as_py():
        mark = pa.scalar('"', pa.large_string())
        quoted = pc.binary_join_element_wise(
            mark, pc.replace_substring(text, '"', '""'), mark, pa.scalar("", pa.large_string())
        )
        text = pc.if_else(risky, quoted, text)
    return pc.fill_null(text, pa.scalar("", pa.large_string()))


def _cells(series: pd.Series):
    """The cells of ``series`` as pandas writes them with the CRM date format, or None when its
    kind is not one this module reproduces exactly."""
    dtype = series.dtype
    missing = series.isna().to_numpy()
    if isinstance(dtype, pd.StringDtype):
        return _text(series.array)  # Arrow-backed already: no Python strings made
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = series.dt.tz_localize(None) if getattr(dtype, "tz", None) else series
        stamps = stamps.to_numpy("datetime64[s]")
        if len(stamps) and not (stamps[~missing] >= np.datetime64("1000-01-01")).all():
            return None  # %Y pads years below 1000 differently
        return _text(np.datetime_as_string(stamps, unit="s"), missing)
    if pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    ):
        if pd.api.types.is_float_dtype(dtype) and dtype != np.float64:
            return None
        numbers = series.to_numpy(dtype=getattr(dtype, "numpy_dtype", dtype), na_value=0)
        return _text(numbers.astype(str), missing)  # NumPy's shortest round trip, as pandas
    if pd.api.types.is_string_dtype(dtype):
        values = series.astype(object).to_numpy()
        if all(isinstance(v, str) for v in values[~missing].tolist()):
            values[missing] = None
            return _text(values)
    return None


def csv_bytes(frame: pd.DataFrame) -> bytes | None:
    """``frame`` as CSV bytes (UTF-8, header, no index, ISO datetimes, CRLF rows), or None.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": ["a", "b,c"], "score": [0.5, None]})
    >>> csv_bytes(frame)
    b'id,score\\r\\na,0.5\\r\\n"b,c",\\r\\n'
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if frame.shape[1] < 2 or not frame.columns.is_unique:
        return None
    header = _text([str(c) for c in frame.columns]).to_pylist()
    columns = []
    for name in frame.columns:
        cells = _cells(frame[name])
        if cells is None:
            return None
        columns.append(cells)
    head = (",".join(header) + LINE_END).encode("utf-8")
    if not len(frame):
        return head
    comma, empty = pa.scalar(",", pa.large_string()), pa.scalar("", pa.large_string())
    lines = pc.binary_join_element_wise(*columns, comma)
    lines = pc.binary_join_element_wise(lines, pa.scalar(LINE_END, pa.large_string()), empty)
    body = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(body.buffers()[1], dtype=np.int64)
    offsets = offsets[body.offset : body.offset + len(body) + 1]
    data = body.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]
    return head + data
