"""Contract tables on Spark, and the two whole-book steps that run before the per-bucket work.

:func:`read_tables` gives the contract tables as Spark DataFrames (from a folder of Parquet / CSV
files named after the tables, a dict of paths or metastore table names, or DataFrames).
:func:`match_contacts` gives contacts known only by email their account from the email domain
(``churnml.data.contacts.match_contacts`` unchanged, with the accounts' domains broadcast), so
every contact row carries the ``account_id`` it is bucketed by. :func:`driver_tables` collects what
the driver needs to build the spine (``make_spine``, ``data_period``): accounts and contracts in
full, and of each activity table only its first and last event time.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["SparkTables", "driver_tables", "is_url", "match_contacts", "read_tables",
           "route_contacts"]

#: tables read from a source besides the contract's (synthetic data carry the true churn odds)
EXTRA_TABLES = ("oracle",)
#: tables the driver collects whole: one row per account or per contract term
DRIVER_TABLES = ("accounts", "contracts", "subscriptions", "churn_events", "oracle", "oracle_terms")


def is_url(path) -> bool:
    """Whether ``path`` names a file system of Spark's (``s3a://``, ``hdfs://``, ``dbfs:/``),
    not a local path (a Windows drive letter is local)."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", str(path)) is not None


def _contract_names() -> list[str]:
    from churnml.data.contract import CONTRACT

    return [*CONTRACT, *EXTRA_TABLES]


def _timestamps(name: str, frame):
    """Contract time columns read as nanosecond longs (pandas' Parquet) as time stamps."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType

    from churnml.data.contract import CONTRACT

    spec = CONTRACT.get(name)
    if spec is None:
        return frame
    for field in frame.schema.fields:
        if spec.columns.get(field.name) == "timestamp" and isinstance(field.dataType, LongType):
            quoted = "`" + field.name.replace("`", "``") + "`"
            micros = F.expr(f"{quoted} div 1000")  # integer division: exact to the microsecond
            frame = frame.withColumn(field.name, F.timestamp_micros(micros))
    return frame


def _read_path(spark, path: Path, name: str):
    if path.is_dir() or path.suffix.lower() == ".parquet":
        return _timestamps(name, spark.read.parquet(str(path)))
    if path.suffix.lower() in (".csv", ".tsv"):
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return spark.read.csv(str(path), header=True, sep=sep)
    raise _error(f"table {name}: cannot read {path}: expected Parquet (a file or a folder of files) or CSV")


def _error(message: str, hint: str | None = None):
    from churnml.errors import ChurnmlError

    return ChurnmlError(message, hint=hint)


def _from_folder(spark, folder: Path) -> dict:
    out = {}
    for name in _contract_names():
        for candidate in (folder / f"{name}.parquet", folder / name, folder / f"{name}.csv",
                          folder / f"{name}.tsv"):
            if candidate.exists():
                out[name] = _read_path(spark, candidate, name)
                break
    return out


def _from_url(spark, base: str) -> dict:
    """Tables under an object-store or HDFS folder (``s3a://bucket/book``): ``<table>.parquet``
    or ``<table>/`` Parquet datasets."""
    from pyspark.errors import AnalysisException

    out = {}
    for name in _contract_names():
        for candidate in (f"{base}/{name}.parquet", f"{base}/{name}"):
            try:
                out[name] = _timestamps(name, spark.read.parquet(candidate))
                break
            except AnalysisException:  # no such path
                continue
    return out


def _frame(spark, name: str, value):
    from pyspark.sql import DataFrame

    if isinstance(value, DataFrame):
        return value
    if isinstance(value, (str, Path)):
        path = Path(value)
        if path.exists():
            return _read_path(spark, path, name)
        if spark.catalog.tableExists(str(value)):
            return spark.table(str(value))
        raise _error(f"table {name}: {value!r} is neither a file nor a metastore table")
    import pandas as pd
    import pyarrow as pa

    if isinstance(value, pd.DataFrame):  # a small local frame (tests, notebooks)
        plain = value.copy(deep=False)
        plain.attrs = {}
        return spark.createDataFrame(pa.Table.from_pandas(plain, preserve_index=False))
    raise _error(f"table {name}: expected a Spark DataFrame, a path or a table name, "
                 f"but got {type(value).__name__}")


def read_tables(source, spark=None) -> dict:
    """The contract tables as Spark DataFrames.

    Parameters
    ----------
    source : str, Path or dict
        A folder holding ``<table>.parquet`` (a file or a folder of files), ``<table>/`` or
        ``<table>.csv`` per contract table (``churnml generate`` writes one), a URL of such a
        folder of Parquet (``s3a://bucket/book``, ``hdfs://...``), or a dict of table
        name -> Spark DataFrame, path, metastore table name (``sales.accounts``) or pandas frame.
    spark : SparkSession, optional
        Default :func:`churnml.spark.session.spark_session`.

    Returns
    -------
    dict of str to pyspark.sql.DataFrame
        The tables found (and ``oracle`` when present); ``accounts`` and ``contracts`` are required.
    """
    from churnml.spark.session import spark_session

    if isinstance(source, SparkTables):
        return source.spark
    spark = spark or spark_session()
    if isinstance(source, dict):
        tables = {name: _frame(spark, name, value) for name, value in source.items()}
    elif is_url(source):
        tables = _from_url(spark, str(source).rstrip("/"))
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise _error(f"the Spark engine reads a folder of table files, but {folder} is not a "
                         "folder", hint="give a folder of <table>.parquet files or, from Python, "
                         "a dict of Spark DataFrames")
        tables = _from_folder(spark, folder)
    missing = [name for name in ("accounts",) if name not in tables]
    if "contracts" not in tables and "subscriptions" not in tables:
        missing.append("contracts or subscriptions")
    if missing:
        where = source if isinstance(source, (str, Path)) else "the tables given"
        raise _error(f"the Spark engine found no {' and no '.join(missing)} table in {where!s} "
                     f"(found: {sorted(tables) or 'none'})",
                     hint="name the files accounts.parquet, contracts.parquet (or "
                          "subscriptions.parquet), usage.parquet, ...")
    return tables


def match_contacts(contacts, accounts):
    """Contacts with ``account_id`` filled from the email domain (still null when none matches).

    The whole-book step before bucketing: the accounts' (account_id, email_domain) pairs are
    collected and broadcast, and each partition of contacts runs
    :func:`churnml.data.contacts.match_contacts`, which matches row by row.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    if "email" not in contacts.columns or "email_domain" not in accounts.columns:
        if "account_id" not in contacts.columns:
            raise _error("table contacts: no account_id and no email column to match accounts by",
                         hint="add account_id, or email with accounts.email_domain")
        return contacts
    spark = contacts.sparkSession
    domains = (accounts.select(F.col("account_id").cast("string"), "email_domain")
               .where(F.col("email_domain").isNotNull()).toPandas())
    shared = spark.sparkContext.broadcast(domains)
    fields = [f for f in contacts.schema.fields if f.name != "account_id"]
    schema = StructType([StructField("account_id", StringType()), *fields])
    names = schema.fieldNames()

    def match(batches):
        import pyarrow as pa

        from churnml.data.contacts import match_contacts as match_frame

        for batch in batches:
            frame = batch.to_pandas()
            if "account_id" in frame:
                frame["account_id"] = frame["account_id"].astype("string")
            out = match_frame(frame, shared.value)[names]
            out["account_id"] = out["account_id"].astype("string")
            yield pa.RecordBatch.from_pandas(out, preserve_index=False)

    return contacts.mapInArrow(match, schema)


def route_contacts(contacts, usage, nps=None):
    """Contacts with ``_route``: the accounts whose bucket each contact must reach.

    A contact reaches its own account's bucket, the bucket of every account whose survey it
    answered (the local engine reads a respondent's role from every contact), and a champion
    with a ``user_id`` also the bucket of every account whose usage carries that user (the local
    engine counts a champion's usage by ``user_id`` wherever it is, even for a contact matched to
    no account). Several rows per contact; ``_source_row`` lets
    :func:`churnml.spark.buckets.packed` keep one per bucket. Contacts reaching no account are
    dropped.
    """
    from pyspark.sql import functions as F

    contacts = contacts.withColumn("_source_row", F.monotonically_increasing_id())
    own = contacts.withColumn("_route", F.col("account_id").cast("string"))
    if nps is not None and {"contact_id", "account_id"} <= set(nps.columns) \
            and "contact_id" in contacts.columns:
        answered = nps.select(F.col("contact_id").cast("string").alias("_contact"),
                              F.col("account_id").cast("string").alias("_route")).distinct()
        own = own.unionByName(
            contacts.withColumn("_contact", F.col("contact_id").cast("string"))
            .join(answered, "_contact").drop("_contact"))
    if usage is None or "user_id" not in contacts.columns or "role" not in contacts.columns \
            or "user_id" not in usage.columns:
        return own.where(F.col("_route").isNotNull())
    role = F.lower(F.trim(F.col("role").cast("string")))
    champions = contacts.where(role.contains("champion") & F.col("user_id").isNotNull())
    users = champions.select(F.col("user_id").cast("string").alias("_user")).distinct()
    owners = (usage.select(F.col("user_id").cast("string").alias("_user"),
                           F.col("account_id").cast("string").alias("_route"))
              .join(F.broadcast(users), "_user").distinct())
    extra = (champions.withColumn("_user", F.col("user_id").cast("string"))
             .join(owners, "_user").drop("_user"))
    return own.unionByName(extra).where(F.col("_route").isNotNull())


def _extremes(frame, column: str):
    """Two rows: the first and the last non-null value of a time column."""
    import pandas as pd
    from pyspark.sql import functions as F

    col = F.col(column)
    if dict(frame.dtypes)[column] == "string":
        col = F.to_timestamp(col)
    row = frame.agg(F.min(col).alias("lo"), F.max(col).alias("hi")).collect()[0]
    values = pd.to_datetime(pd.Series([row["lo"], row["hi"]]), utc=True)
    return pd.DataFrame({column: values.dt.tz_convert("UTC").dt.tz_localize(None)}).dropna()


def driver_tables(tables: dict) -> dict:
    """What the driver needs of the book: accounts, contracts (and oracle) collected and parsed;
    usage, tickets and NPS reduced to their first and last event time.

    The result builds the same spine (``make_spine``) and snapshot period (``data_period``) as
    the full tables: both read only those columns and, of event times, only the extremes.
    """
    from churnml.data.contract import CONTRACT
    from churnml.data.parse import parse_table
    from churnml.snapshots import ACTIVITY_TABLES
    from churnml.spark.arrow import naive

    out = {}
    for name in DRIVER_TABLES:
        if name in tables:
            frame = naive(tables[name].toArrow().to_pandas())
            out[name] = parse_table(name, frame) if name in CONTRACT else frame
    for name in ACTIVITY_TABLES:
        column = CONTRACT[name].event_time
        if name in tables and column in tables[name].columns:
            out[name] = parse_table(name, _extremes(tables[name], column))
    return out


def book_terms(tables: dict) -> dict:
    """``tables`` with the renewal terms cut from ``subscriptions`` as ``contracts``, once for the
    whole book, when no contracts are given (a whole-book step: the end of the data is the book's,
    not a bucket's; every bucket then reads the same terms as its contracts)."""
    if "contracts" in tables or "subscriptions" not in tables:
        return tables
    from churnml.data.subscriptions import with_renewal_terms

    derived = with_renewal_terms(driver_tables(tables))
    if "contracts" not in derived:  # subscriptions lacking a required column: validation says so
        return tables
    session = tables["subscriptions"].sparkSession
    return {**tables, "contracts": _frame(session, "contracts", derived["contracts"])}


class SparkTables(dict):
    """Tables that live on Spark, as the driver sees them.

    A dict of the small pandas tables of :func:`driver_tables` (accounts, contracts, oracle, and
    the first and last event time of usage, tickets and NPS), which is all that ``make_spine``,
    ``data_period`` and ``train(features=...)`` read; :attr:`spark` holds the Spark DataFrames
    that ``build_features(..., engine="spark")`` computes on. The local engine refuses it.

    Parameters
    ----------
    source : str, Path or dict
        Anything :func:`read_tables` accepts.
    spark : SparkSession, optional
    """

    def __init__(self, source, spark=None):
        self.spark = book_terms(read_tables(source, spark))
        super().__init__(driver_tables(self.spark))
