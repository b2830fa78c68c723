"""Account buckets: how many, which bucket an account falls in, and one row per (bucket, table).

Every table and the spine get ``_bucket = pmod(xxhash64(account_id), n)``, so all rows of an
account land in the same bucket whatever file or partition they come from. :func:`packed` turns
each table into rows (``_bucket``, ``_table``, ``_payload``): the table's rows of that bucket as an
Arrow IPC stream, built map-side (``mapInArrow``, at most :data:`PACK_ROWS` rows at a time), so one
shuffle by ``_bucket`` brings every table of a bucket to the same grouped call.

The number of buckets
---------------------
``buckets = max(2 × the cluster's cores, ceil(input rows / rows_per_bucket))``. A bucket's work is
the local engine on that bucket's rows, and its Python worker's peak memory grows with them
(``benchmarks/spark.py`` measures the bytes per input row); the default :data:`ROWS_PER_BUCKET`
keeps a bucket near 1 GB of worker memory. Give ``rows_per_bucket`` (or ``buckets``) to fit
your executors: ``rows_per_bucket ≈ (Python memory per task − 0.3 GB) / bytes per row``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BUCKET", "PACK_ROWS", "ROUTE", "ROWS_PER_BUCKET", "SOURCE_ROW", "bucket_count",
           "buckets_for", "packed", "routed", "with_bucket"]

BUCKET = "_bucket"
#: input rows per bucket by default (usage rows dominate; see the module docstring)
ROWS_PER_BUCKET = 4_000_000
#: rows a packing task holds before it writes their payloads
PACK_ROWS = 1_000_000
PACKED_SCHEMA = "_bucket int, _table string, _payload binary"


def bucket_count(rows: int, cores: int, *, rows_per_bucket: int = ROWS_PER_BUCKET) -> int:
    """``max(2 × cores, ceil(rows / rows_per_bucket))`` (at least 1).

    Examples
    --------
    >>> bucket_count(49_000_000, cores=2)
    13
    >>> bucket_count(10_000_000_000, cores=320, rows_per_bucket=4_000_000)
    2500
    """
    if rows_per_bucket < 1:
        raise ValueError(f"rows_per_bucket must be at least 1, but got rows_per_bucket={rows_per_bucket}")
    return max(1, 2 * int(cores), math.ceil(int(rows) / int(rows_per_bucket)))


#: columns a frame may carry to send its rows elsewhere than their own account's bucket
ROUTE, SOURCE_ROW = "_route", "_source_row"


def with_bucket(frame, buckets: int, key: str = "account_id"):
    """``frame`` with ``_bucket`` from its ``account_id`` (or another column holding one)."""
    from pyspark.sql import functions as F

    hashed = F.xxhash64(F.col(key).cast("string"))
    return frame.withColumn(BUCKET, F.pmod(hashed, F.lit(int(buckets))).cast("int"))


def routed(frame, buckets: int):
    """``frame`` with ``_bucket``: by ``_route`` when it has one (one row per source row and
    bucket, the routing columns dropped), else by ``account_id``."""
    if ROUTE not in frame.columns:
        return with_bucket(frame, buckets)
    out = with_bucket(frame, buckets, key=ROUTE).dropDuplicates([SOURCE_ROW, BUCKET])
    return out.drop(ROUTE, SOURCE_ROW)


def _split(name: str, batches):
    """One output batch: the rows of ``batches`` cut into one IPC payload per bucket."""
    import pyarrow as pa

    from churnml.spark.arrow import to_ipc

    table = pa.Table.from_batches(batches)
    bucket = table.column(BUCKET).to_numpy()
    order = np.argsort(bucket, kind="stable")
    rows = table.drop_columns([BUCKET]).take(pa.array(order))
    ordered = bucket[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else []
    ends = np.r_[starts[1:], len(ordered)] if len(ordered) else []
    payloads = [to_ipc(rows.slice(s, e - s)) for s, e in zip(starts, ends)]  # one per bucket
    return pa.record_batch({
        BUCKET: pa.array(ordered[starts] if len(ordered) else [], pa.int32()),
        "_table": pa.array([name] * len(payloads), pa.string()),
        "_payload": pa.array(payloads, pa.binary()),
    })


def _packer(name: str):
    def pack(batches):
        pending, held = [], 0
        for batch in batches:
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            held += batch.num_rows
            if held >= PACK_ROWS:
                yield _split(name, pending)
                pending, held = [], 0
        if pending:
            yield _split(name, pending)

    return pack


def packed(frames: dict, buckets: int):
    """All ``frames`` (name -> Spark DataFrame with ``account_id``, or ``_route`` and
    ``_source_row``: see :func:`routed`) as one DataFrame of (``_bucket``, ``_table``,
    ``_payload``) rows."""
    out = None
    for name, frame in frames.items():
        part = routed(frame, buckets).mapInArrow(_packer(name), PACKED_SCHEMA)
        out = part if out is None else out.unionByName(part)
    return out


def buckets_for(spark, frames: dict, *, rows_per_bucket: int = ROWS_PER_BUCKET) -> int:
    """:func:`bucket_count` of the rows of ``frames`` (one count per table) and the cluster's
    default parallelism."""
    rows = sum(frame.count() for frame in frames.values())
    return bucket_count(rows, spark.sparkContext.defaultParallelism, rows_per_bucket=rows_per_bucket)
