"""churnml on Apache Spark: the same catalog and model, one bucket of accounts at a time.

``pip install 'churnml[spark]'`` (and a Java 17 runtime). See the README, "When one machine is not
enough".
"""

from churnml.spark.buckets import bucket_count
from churnml.spark.features import build_features, to_pandas
from churnml.spark.scoring import score
from churnml.spark.session import spark_session
from churnml.spark.tables import SparkTables, driver_tables, read_tables

__all__ = ["SparkTables", "bucket_count", "build_features", "driver_tables", "read_tables",
           "score", "spark_session", "to_pandas"]
