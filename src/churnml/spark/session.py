"""The Spark session churnml runs on: an existing one, or one started for a master URL.

On a cluster (``spark-submit``, Databricks, EMR) the session already exists and is used as it is.
For a local master (``local[N]``, ``local-cluster[W,C,MB]``) started from this process, the Python
workers are pointed at this interpreter (``PYSPARK_PYTHON``; otherwise Spark starts the system
Python, which lacks pyarrow and DuckDB) and every Spark process stays on the loopback interface
(``SPARK_LOCAL_IP=127.0.0.1``); a variable you set yourself wins.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["LOCAL_PREFIXES", "SESSION_CONF", "SQL_CONF", "spark_session"]

#: master URLs that run every Spark process on this machine
LOCAL_PREFIXES = ("local", "local-cluster")
#: settings churnml needs: time stamps in UTC end to end, Arrow for pandas conversions,
#: nanosecond Parquet time stamps (pandas' default) readable (as longs, converted on reading)
SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}
SESSION_CONF = {
    **SQL_CONF,
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def _is_local(master: str | None) -> bool:
    return master is None or master.split("[")[0] in LOCAL_PREFIXES


def spark_session(master: str | None = None, *, app_name: str = "churnml", conf: dict | None = None):
    """The active Spark session, or a new one on ``master``.

    Parameters
    ----------
    master : str, optional
        Spark master URL (``local[2]``, ``local-cluster[2,1,1024]``, ``spark://host:7077``,
        ``yarn``). None: the active session when there is one (``spark-submit``, a Databricks
        notebook), else ``SPARK_MASTER`` or ``local[*]``.
    app_name : str
        Application name shown by the cluster manager.
    conf : dict, optional
        Extra Spark settings for a new session (``{"spark.executor.memory": "4g"}``).

    Returns
    -------
    pyspark.sql.SparkSession
        With :data:`SESSION_CONF` applied (:data:`SQL_CONF` on an existing session too).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        from churnml.errors import ChurnmlError

        raise ChurnmlError(
            "the Spark engine needs pyspark, which is not installed",
            hint="pip install 'churnml[spark]' (and a Java 17 runtime: apt-get install "
            "openjdk-17-jre-headless)",
        ) from None
    # churnml hands Spark Arrow tables, never pandas frames through pandas UDFs
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        for key, value in SQL_CONF.items():
            active.conf.set(key, value)
        return active
    master = master or os.environ.get("SPARK_MASTER") or "local[*]"
    if _is_local(master):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SESSION_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
