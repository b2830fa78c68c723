"""The ``--engine spark`` side of ``churnml features``, ``score`` and ``train``.

Each takes the parsed arguments of its command (``churnml.cli``) and runs the same steps as the
local command with the tables on Spark: the spine on the driver, the indicators per account
bucket in the executors. ``--spark-master`` picks the cluster (default: the session
``spark-submit`` started, else ``local[*]``).
"""

from __future__ import annotations

__all__ = ["features", "score", "train"]


def _book(args):
    from churnml.errors import UsageError
    from churnml.spark.session import spark_session
    from churnml.spark.tables import SparkTables

    if getattr(args, "mapping", None):
        raise UsageError(
            "--mapping is not available with --engine spark",
            hint="map your tables onto the contract in Spark (spark.sql SELECT ... AS account_id) "
            "and write <table>.parquet folders, or call churnml.spark from Python with DataFrames")
    spark = spark_session(args.spark_master)
    return spark, SparkTables(args.data, spark)


def features(args) -> int:
    """``churnml features --engine spark``: a Parquet dataset partitioned by as_of."""
    import pandas as pd
    from pyspark.sql import functions as F

    from churnml.features.engine import feature_columns
    from churnml.snapshots import make_spine
    from churnml.spark.features import ROW, build_features

    spark, book = _book(args)
    when = {"start": args.start, "end": args.as_of, "cadence": args.cadence} if args.start else {}
    spine = make_spine(book, as_of=None if args.start else pd.Timestamp(args.as_of),
                       horizon_days=args.horizon_days, label=args.label, **when)
    frame = build_features(book, spine, spark=spark)
    indicators = feature_columns(pd.DataFrame(columns=frame.columns))
    (frame.drop(ROW).withColumn("as_of", F.to_date("as_of")).write.mode("overwrite")
     .partitionBy("as_of").parquet(str(args.out)))
    print(f"wrote {args.out} (Parquet partitioned by as_of, on Spark): {len(spine):,} snapshot rows "
          f"x {len(indicators)} indicators ({spine['as_of'].nunique()} as_of dates, "
          f"{spine['label'].notna().sum():,} resolved)")
    for indicator, reason in getattr(frame, "churnml_skipped", {}).items():
        print(f"skipped {indicator}: {reason}")
    return 0


def score(args) -> int:
    """``churnml score --engine spark``: datasets scores, explanations, families, crm under --out."""
    from pyspark.sql import functions as F

    from churnml.errors import UsageError
    from churnml.model.registry import load_model
    from churnml.report.digest import red_digest
    from churnml.spark.scoring import score as score_on_spark

    unsupported = [flag for flag, value in (("--crm-out", args.crm_out), ("--db", args.db),
                                            ("--dry-run", args.dry_run)) if value]
    if unsupported:
        raise UsageError(
            f"{', '.join(unsupported)} cannot be used with --engine spark",
            hint="the CRM fields are written to <out>/crm (Parquet partitioned by as_of); load "
            "them into the CRM from there")
    spark, book = _book(args)
    model = load_model(args.model)
    manifest = score_on_spark(model, book, args.as_of, args.out, spark=spark,
                              crm_preset=args.crm_preset)
    tiers = ", ".join(f"{n:,} {tier}" for tier, n in sorted(manifest["tiers"].items()))
    print(f"scored {manifest['accounts']:,} accounts at {manifest['as_of']} on Spark "
          f"({manifest['buckets']} buckets): {tiers}")
    for kind, path in manifest["outputs"].items():
        print(f"wrote {path} (Parquet partitioned by as_of)")
    red = (spark.read.parquet(manifest["outputs"]["scores"])
           .where((F.col("as_of") == F.lit(manifest["as_of"]).cast("date"))
                  & (F.col("tier") == "red")).toPandas())
    print()
    print(red_digest(red))
    return 0


def train(args) -> int:
    """``churnml train --engine spark``: the training frame on Spark, the model on this machine."""
    from churnml.model.config import load_config
    from churnml.model.training import build_training_frame
    from churnml.model.training import train as train_model

    _, book = _book(args)
    config = load_config(args.config)
    frame = build_training_frame(book, config, engine="spark")
    print(f"training frame built on Spark: {len(frame):,} snapshot rows")
    result = train_model(book, features=frame, config=config, trials=args.trials)
    print(result.summary())
    return 0
