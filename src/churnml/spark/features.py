"""``build_features`` on Spark: the unchanged local engine, once per bucket of accounts.

Every indicator is a function of one account's rows, so the tables and the spine are
hash-partitioned by ``account_id`` into buckets (:mod:`churnml.spark.buckets`), one shuffle brings
each bucket's rows of every table together, and inside the executors
:func:`churnml.features.engine.build_features` (DuckDB, the same SQL as on a laptop) computes the
bucket's indicators: Arrow in, Arrow out. The whole-book step, matching contacts to accounts by
email domain, runs before (:func:`churnml.spark.tables.match_contacts`).
"""

from __future__ import annotations

import logging

import pandas as pd

from churnml.spark.buckets import BUCKET, ROWS_PER_BUCKET, buckets_for, packed

__all__ = ["build_features", "local_features", "prepare_tables", "spine_frame", "to_pandas"]

SPINE = "__spine__"
ROW = "_row"


def prepare_tables(tables, spark=None) -> dict:
    """Contract tables as Spark DataFrames, contacts matched to accounts and routed to the
    buckets that need them (the whole-book steps); tables outside the contract (``oracle``) are
    left out."""
    from churnml.data.contract import CONTRACT
    from churnml.spark.tables import book_terms, match_contacts, read_tables, route_contacts

    tables = book_terms(read_tables(tables, spark))
    out = {name: frame for name, frame in tables.items() if name in CONTRACT}
    if "contacts" in out:
        matched = match_contacts(out["contacts"], out["accounts"])
        out["contacts"] = route_contacts(matched, out.get("usage"), out.get("nps"))
    return out


def spine_frame(spine, spark):
    """The spine as a Spark DataFrame with ``_row`` (its row number, or an increasing id)."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    if isinstance(spine, DataFrame):
        return spine.withColumn(ROW, F.monotonically_increasing_id())
    import numpy as np
    import pyarrow as pa

    local = spine.reset_index(drop=True).copy()
    local.attrs = {}
    for column in local.columns:
        if isinstance(local[column].dtype, pd.CategoricalDtype):
            local[column] = local[column].astype("string")
    local[ROW] = np.arange(len(local), dtype="int64")
    return spark.createDataFrame(pa.Table.from_pandas(local, preserve_index=False))


def _arrow_schemas(tables: dict) -> dict:
    """The Arrow schema of each table's payloads (routing columns are not packed)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    from churnml.spark.buckets import ROUTE, SOURCE_ROW

    return {name: to_arrow_schema(frame.drop(ROUTE, SOURCE_ROW).schema, timezone="UTC")
            for name, frame in tables.items()}


def _local_tables(arrow: dict) -> dict:
    """Arrow tables -> contract-typed pandas frames (what ``load_tables`` gives); contacts are
    marked as matched already (against the whole book, before bucketing)."""
    from churnml.data.parse import parse_table
    from churnml.spark.arrow import naive

    out = {name: parse_table(name, naive(table.to_pandas())) for name, table in arrow.items()}
    if "contacts" in out:
        out["contacts"].attrs["churnml_contact_match"] = {"matched_on": "spark"}
    return out


def _local_spine(table) -> pd.DataFrame:
    import pyarrow as pa

    from churnml.spark.arrow import naive

    nullable = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(),
                pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}
    spine = naive(table.to_pandas(types_mapper=nullable.get))
    for column in spine.columns:  # a nullable integer without nulls goes back to numpy
        values = spine[column]
        nullable = isinstance(values.dtype, pd.api.extensions.ExtensionDtype)
        if nullable and pd.api.types.is_integer_dtype(values) and column != "label" \
                and not values.isna().any():
            spine[column] = values.astype(values.dtype.numpy_dtype)
    return spine


def _output_schema(catalog, schemas: dict, spine_struct):
    """The Spark schema of the features: ``_row``, the spine's columns, then the indicators
    (float, or string for categories), found by running the local engine on empty tables."""
    from pyspark.sql.types import FloatType, StringType, StructField, StructType

    from churnml.features.engine import build_features as local_build

    tables = _local_tables({name: schema.empty_table() for name, schema in schemas.items()
                            if name != SPINE})
    probe = local_build(tables, _local_spine(schemas[SPINE].empty_table()).drop(columns=[ROW]),
                        catalog)
    fields = {f.name: f for f in spine_struct.fields}
    out = [fields[ROW]]
    for column in probe.columns:
        if column in fields:
            kind = StringType() if isinstance(probe[column].dtype, pd.CategoricalDtype) else (
                fields[column].dataType)
        elif pd.api.types.is_float_dtype(probe[column]):
            kind = FloatType()
        else:
            kind = StringType()
        out.append(StructField(column, kind, True))
    return StructType(out), probe.attrs.get("skipped", {})


def _bucket_job(catalog, schemas: dict, out_arrow):
    """The function each bucket runs in an executor: unpack, build locally, return Arrow."""

    def run(table):
        from churnml.features.engine import build_features as local_build
        from churnml.spark.arrow import from_ipc, to_schema

        logging.getLogger("churnml.features.engine").setLevel(logging.ERROR)  # said by the driver
        names = table.column("_table").to_pylist()
        payloads = table.column("_payload")
        arrow = {name: from_ipc([payloads[i].as_buffer() for i, n in enumerate(names) if n == name],
                                schema) for name, schema in schemas.items()}
        spine = _local_spine(arrow.pop(SPINE))
        if spine.empty:  # a bucket whose accounts are all outside the spine
            return out_arrow.empty_table()
        rows = spine.pop(ROW).to_numpy()
        features = local_build(_local_tables(arrow), spine, catalog)
        features.insert(0, ROW, rows)
        return to_schema(features, out_arrow)

    return run


def build_features(tables, spine, catalog=None, *, spark=None, buckets: int | None = None,
                   rows_per_bucket: int = ROWS_PER_BUCKET):
    """Point-in-time indicators on Spark: the same values as the local engine, per account bucket.

    Parameters
    ----------
    tables : dict or str / Path
        Contract tables as Spark DataFrames (or paths / metastore table names), or a folder of
        ``<table>.parquet`` files (see :func:`churnml.spark.tables.read_tables`).
    spine : pandas or Spark DataFrame
        account_id, as_of (midnight) and any columns to carry, e.g. :func:`churnml.make_spine`'s
        output (for tables on Spark: ``make_spine(churnml.spark.SparkTables(source))``).
    catalog : Catalog, optional
        Default the packaged catalog.
    spark : SparkSession, optional
        Default :func:`churnml.spark.session.spark_session`.
    buckets : int, optional
        Number of account buckets; default :func:`churnml.spark.buckets.bucket_count` of the
        input rows and the cluster's cores.
    rows_per_bucket : int
        Input rows per bucket when ``buckets`` is not given.

    Returns
    -------
    pyspark.sql.DataFrame
        ``_row`` (the spine's row number; an increasing id for a Spark spine), the spine's
        columns, then one float column per indicator (segment, touch_model, lifecycle_stage as
        strings), in no particular order: :func:`to_pandas` collects it in the spine's order
        with the local engine's dtypes. The indicators skipped for lack of a table or column
        are logged and kept in its ``churnml_skipped`` attribute.
    """
    from pyspark.sql.pandas.types import to_arrow_schema

    from churnml.features.catalog import load_catalog
    from churnml.features.engine import SPINE_COLUMNS
    from churnml.features.entry_checks import check_catalog
    from churnml.spark.session import spark_session

    catalog = catalog or load_catalog()
    check_catalog(catalog)  # before any table is read
    spark = spark or spark_session()
    missing = [c for c in SPINE_COLUMNS if c not in spine.columns]
    if missing:
        from churnml.errors import UsageError

        raise UsageError(f"spine is missing column(s) {missing}; build it with churnml.make_spine")
    frames = prepare_tables(tables, spark)
    spine_df = spine_frame(spine, spark)
    if buckets is None:
        buckets = buckets_for(spark, frames, rows_per_bucket=rows_per_bucket)
    frames[SPINE] = spine_df
    schemas = _arrow_schemas(frames)
    out_struct, skipped = _output_schema(catalog, schemas, spine_df.schema)
    out_arrow = to_arrow_schema(out_struct, timezone="UTC")
    job = _bucket_job(catalog, schemas, out_arrow)
    # one partition per bucket on average (an explicit repartition: AQE leaves it as it is)
    shuffled = packed(frames, buckets).repartition(buckets, BUCKET)
    result = shuffled.groupBy(BUCKET).applyInArrow(job, out_struct)
    result.churnml_skipped = skipped  # read by to_pandas (attrs["skipped"]), as locally
    return result


def local_features(table, *, drop_row: bool = True) -> pd.DataFrame:
    """An Arrow table of Spark features as the local engine's frame (spine order, dtypes)."""
    import pyarrow as pa

    from churnml.features.engine import CATEGORICAL
    from churnml.spark.arrow import naive

    frame = naive(table.to_pandas(types_mapper={pa.int8(): pd.Int8Dtype()}.get))
    frame = frame.sort_values(ROW, kind="stable").reset_index(drop=True)
    if drop_row:
        frame = frame.drop(columns=[ROW])
    for column in CATEGORICAL:
        if column in frame:
            frame[column] = frame[column].astype("category")
    return frame


def to_pandas(features, *, drop_row: bool = True) -> pd.DataFrame:
    """Collect Spark features in the spine's order with the local engine's dtypes.

    The result equals ``churnml.build_features(tables, spine)`` run locally on the same data.
    """
    frame = local_features(features.toArrow(), drop_row=drop_row)
    frame.attrs["skipped"] = getattr(features, "churnml_skipped", {})
    return frame
