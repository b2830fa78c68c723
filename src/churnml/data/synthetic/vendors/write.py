"""Write a vendor set where its systems' data would live: a folder with one sub-folder per
system's schema (``salesforce/account.parquet``, ``segment/tracks.parquet``), or PostgreSQL with
one schema per system, loaded with ``COPY`` (JSON objects as ``jsonb``, as Airbyte writes them).

Segment's track calls (one row per event) are streamed in chunks to the file or the table, so a
large world never holds them all in memory.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

__all__ = ["JSON_COLUMNS", "copy_to_postgres", "write_vendor_files", "write_vendor_set"]

#: columns holding JSON objects (written as jsonb to PostgreSQL)
JSON_COLUMNS = {"metadata", "price", "person_properties", "notes", "tags"}


@contextmanager
def _zoned_columns_quiet():
    """pyarrow reads zone-aware columns through ``Series.values``, which pandas now warns about."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*drops timezone information")
        yield


def _path(folder: Path, name: str) -> Path:
    schema, _, table = name.rpartition(".")
    return folder / schema / f"{table}.parquet" if schema else folder / f"{name}.parquet"


def write_vendor_files(raw: dict, folder, *, tracks=None) -> dict[str, Path]:
    """Write ``schema.table`` frames as ``folder/schema/table.parquet`` (others at the top).

    Parameters
    ----------
    raw : dict of DataFrame
        :func:`~churnml.data.synthetic.vendors.export_vendors` output.
    folder : str or Path
        Created when missing.
    tracks : iterable of DataFrame, optional
        Chunks of ``segment.tracks``, streamed to its file.

    Returns
    -------
    dict of str to Path
    """
    from churnml.data.atomic import write_parquet

    folder = Path(folder)
    paths = {}
    for name, frame in raw.items():
        path = _path(folder, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _zoned_columns_quiet():
            paths[name] = write_parquet(frame, path)
    if tracks is not None:
        paths["segment.tracks"] = _stream_parquet(tracks, _path(folder, "segment.tracks"))
    return paths


def _stream_parquet(chunks, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from churnml.data.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        writer = None
        try:
            for chunk in chunks:
                with _zoned_columns_quiet():
                    table = pa.Table.from_pandas(chunk.astype(
                        {"user_id": "object", "event": "object", "event_text": "object"}),
                        preserve_index=False)
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return path


def write_vendor_set(native: dict, folder, crm: str = "salesforce", *, seed: int = 0) -> dict:
    """Write :func:`export_vendors` of ``native`` into ``folder`` (or a ``postgresql://`` URL),
    the track calls streamed; returns table name -> rows written (``churnml generate --export
    salesforce``)."""
    from churnml.data.synthetic.vendors.ids import vendor_ids
    from churnml.data.synthetic.vendors.segment import track_chunks
    from churnml.data.synthetic.vendors.sets import export_vendors

    raw = export_vendors(native, crm, seed=seed, tracks=False)
    counted = []

    def counting(chunks):
        for chunk in chunks:
            counted.append(len(chunk))
            yield chunk

    ids = vendor_ids(native, crm, seed)
    tracks = counting(track_chunks(native["usage"], ids, seed))
    if "://" in str(folder):
        copy_to_postgres(raw, str(folder), tracks=tracks)
    else:
        write_vendor_files(raw, folder, tracks=tracks)
    return {**{name: len(frame) for name, frame in raw.items()}, "segment.tracks": sum(counted)}


def _sql_type(field) -> str:
    """PostgreSQL type of an Arrow column (JSON objects as jsonb)."""
    import pyarrow as pa

    kind = field.type
    if field.name in JSON_COLUMNS:
        return "jsonb"
    checks = ((pa.types.is_boolean, "boolean"), (pa.types.is_integer, "bigint"),
              (pa.types.is_floating, "double precision"), (pa.types.is_date, "date"))
    for check, name in checks:
        if check(kind):
            return name
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    return "text"


def _arrow(chunk: pd.DataFrame):
    """``chunk`` as an Arrow table whose columns a CSV writer takes (categories as text)."""
    import pyarrow as pa

    with _zoned_columns_quiet():
        table = pa.Table.from_pandas(chunk, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) or pa.types.is_null(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


def _csv(table) -> bytes:
    """``table`` as CSV rows; zoned timestamps written as UTC wall times (the COPY session runs in
    UTC), which Arrow writes some twenty times faster than with their zone."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz:
            table = table.set_column(i, field.name,
                                     table.column(i).cast(pa.timestamp(field.type.unit)))
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def copy_to_postgres(raw: dict, url: str, *, tracks=None) -> dict[str, int]:
    """Create one table per frame (``schema.table`` in its schema) and load it with ``COPY``.

    Parameters
    ----------
    raw : dict of DataFrame
        :func:`~churnml.data.synthetic.vendors.export_vendors` output.
    url : str
        ``postgresql://`` (or ``postgresql+psycopg://``) URL; existing tables are replaced.
    tracks : iterable of DataFrame, optional
        Chunks of ``segment.tracks``.

    Returns
    -------
    dict of str to int
        Table name -> rows loaded.
    """
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    rows = {}
    with psycopg.connect(plain) as conn:
        for name, frame in raw.items():
            rows[name] = _copy(conn, name, [frame])
        if tracks is not None:
            rows["segment.tracks"] = _copy(conn, "segment.tracks", tracks)
    return rows


def _copy(conn, name: str, chunks) -> int:
    from psycopg import sql

    schema, _, table = name.rpartition(".")
    target = sql.Identifier(schema or "public", table)
    count, statement = 0, None
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        for chunk in chunks:
            arrow = _arrow(chunk)
            if statement is None:
                if schema:
                    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(schema)))
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
                columns = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_sql_type(f)))
                    for f in arrow.schema)
                cur.execute(sql.SQL("CREATE TABLE {} ({})").format(target, columns))
                names = sql.SQL(", ").join(sql.Identifier(f.name) for f in arrow.schema)
                statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                    target, names)
            with cur.copy(statement) as copy:
                copy.write(_csv(arrow))
            count += len(chunk)
    conn.commit()
    return count
