"""Features on Spark (``local[2]``) against the local DuckDB engine, and the cost of one bucket.

Data: the features benchmark world (``benchmarks/features.py``: ``make_saas(n_accounts=20000,
months=18, seed=0, usage_scale=0.9)``, about 49M usage rows) as Parquet in ``--data``, generated
when missing. Spine: the same 12 monthly ``as_of`` dates (2025-01-01 .. 2025-12-01, 180 days).
Each step runs in its own process; a sampling thread follows the process and all its descendants
(the Spark JVM, its Python workers) for CPU seconds and peak resident memory (sum over the tree).

Steps: ``duckdb`` (``churnml.build_features`` on this machine), ``spark`` (session start, then
``churnml.spark.build_features`` on ``local[2]`` with the default bucket rule, written to Parquet)
and ``bucket`` (the rows of one bucket collected with Spark, then the local engine on them alone:
seconds, CPU and working memory per input row, the figures behind the bucket rule and the
cluster estimate in ``benchmarks/RESULTS.md``). The two feature frames are compared value by value.

    .venv/bin/python benchmarks/spark.py [--data DIR] [--steps duckdb,spark,bucket]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-07-01")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class TreeMonitor:
    """CPU seconds and peak RSS of this process and its descendants, sampled every 0.2 s."""

    def __init__(self):
        self.first, self.last, self.peak_mb = {}, {}, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [os.getpid()]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def sample(self) -> None:
        rss = 0
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            self.first.setdefault(pid, cpu)
            self.last[pid] = cpu
            rss += int(fields[21]) * PAGE
        self.peak_mb = max(self.peak_mb, rss / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def __enter__(self):
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def cpu(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last)


def _inputs(folder: str):
    from churnml.data.load import load_tables
    from churnml.snapshots import make_spine

    tables = load_tables(folder, validate=False)
    spine = make_spine(tables, start=START + pd.DateOffset(months=6),
                       end=START + pd.DateOffset(months=17), cadence="monthly", horizon_days=180)
    return tables, spine


def _session(master: str):
    from churnml.spark import spark_session

    return spark_session(master, conf={"spark.driver.memory": "6g",
                                       "spark.sql.shuffle.partitions": "16"})


def step_duckdb(folder: str, out: str) -> dict:
    from churnml.features.engine import build_features

    tables, spine = _inputs(folder)
    with TreeMonitor() as tree:
        t0 = time.perf_counter()
        result = build_features(tables, spine)
        seconds = time.perf_counter() - t0
    result.to_parquet(out)
    return {"seconds": seconds, "cpu": tree.cpu, "peak_mb": tree.peak_mb, "rows": len(result),
            "usage_rows": len(tables["usage"])}


def step_spark(folder: str, out: str) -> dict:
    from churnml.spark import SparkTables, build_features
    from churnml.spark.buckets import buckets_for
    from churnml.snapshots import make_spine

    with TreeMonitor() as tree:
        t0 = time.perf_counter()
        spark = _session("local[2]")
        started = time.perf_counter() - t0
        book = SparkTables(folder, spark)
        spine = make_spine(book, start=START + pd.DateOffset(months=6),
                           end=START + pd.DateOffset(months=17), cadence="monthly",
                           horizon_days=180)
        buckets = buckets_for(spark, book.spark)
        t1 = time.perf_counter()
        frame = build_features(book, spine, spark=spark, buckets=buckets)
        frame.write.mode("overwrite").parquet(out + ".spark")
        features_s = time.perf_counter() - t1
        seconds = time.perf_counter() - t0
        spark.stop()
    from churnml.spark.features import local_features
    import pyarrow.parquet as pq

    local_features(pq.read_table(out + ".spark")).to_parquet(out)
    return {"seconds": seconds, "session_s": started, "features_s": features_s, "cpu": tree.cpu,
            "peak_mb": tree.peak_mb, "rows": len(spine), "buckets": buckets}


def step_bucket(folder: str, out: str) -> dict:
    from churnml.data.parse import parse_table
    from churnml.features.engine import build_features
    from churnml.snapshots import make_spine
    from churnml.spark import SparkTables
    from churnml.spark.arrow import naive
    from churnml.spark.buckets import buckets_for, with_bucket
    from churnml.spark.features import prepare_tables

    spark = _session("local[2]")
    book = SparkTables(folder, spark)
    spine = make_spine(book, start=START + pd.DateOffset(months=6),
                       end=START + pd.DateOffset(months=17), cadence="monthly", horizon_days=180)
    buckets = buckets_for(spark, book.spark)
    frames = prepare_tables(book, spark)
    mine = {name: parse_table(name, naive(with_bucket(frame, buckets).where("_bucket = 0")
                                          .drop("_bucket").toArrow().to_pandas()))
            for name, frame in frames.items()}
    keys = with_bucket(spark.createDataFrame(spine[["account_id"]].drop_duplicates()), buckets)
    chosen = set(keys.where("_bucket = 0").toPandas()["account_id"])
    spark.stop()
    part = spine[spine["account_id"].isin(chosen)].reset_index(drop=True)
    bucket_rows = sum(len(t) for t in mine.values())
    with TreeMonitor() as tree:
        base = tree.peak_mb
        t0 = time.perf_counter()
        build_features(mine, part)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "cpu": tree.cpu, "peak_mb": tree.peak_mb, "base_mb": base,
            "bucket_rows": bucket_rows, "usage_rows": len(mine["usage"]), "spine_rows": len(part),
            "buckets": buckets, "accounts": len(chosen)}


def compare(a: pd.DataFrame, b: pd.DataFrame) -> str:
    worst, nulls = 0.0, 0
    for column in b.columns:
        if pd.api.types.is_float_dtype(b[column]):
            x, y = a[column].astype("float64").to_numpy(), b[column].astype("float64").to_numpy()
            nulls += int((np.isnan(x) != np.isnan(y)).sum())
            ok = ~np.isnan(y) & ~np.isnan(x)
            rel = np.abs(x[ok] - y[ok]) / np.maximum(np.abs(y[ok]), 1e-300)
            worst = max(worst, float(rel.max()) if len(rel) else 0.0)
    return f"max relative difference {worst:.1e}, values null in only one: {nulls}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "churnml-bench-features"))
    parser.add_argument("--steps", default="duckdb,spark,bucket")
    args = parser.parse_args()
    folder = Path(args.data)
    if not (folder / "usage.parquet").exists():
        features = Path(__file__).with_name("features.py")
        subprocess.run([sys.executable, str(features), "--generate", str(folder), "20000", "18",
                        "0.9"], check=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for step in args.steps.split(","):
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, "--child", step, str(folder),
                                  f"{tmp}/{step}.parquet"], check=True, capture_output=True, text=True)
            r = results[step] = json.loads(out.stdout.splitlines()[-1])
            print(f"{step:>7}: {json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()})}"
                  f" (load average before: {load:.1f})", flush=True)
        if {"duckdb", "spark"} <= set(results):
            a = pd.read_parquet(f"{tmp}/spark.parquet")
            b = pd.read_parquet(f"{tmp}/duckdb.parquet")
            print(f"spark vs duckdb: {len(a):,} vs {len(b):,} rows, {compare(a, b)}")
            d, s = results["duckdb"], results["spark"]
            print(f"spark/duckdb: wall {s['seconds'] / d['seconds']:.2f}x (features only "
                  f"{s['features_s'] / d['seconds']:.2f}x), CPU {s['cpu'] / d['cpu']:.2f}x, "
                  f"peak memory {s['peak_mb'] / d['peak_mb']:.2f}x")
        if "bucket" in results:
            b = results["bucket"]
            print(f"one bucket of {b['buckets']}: {b['bucket_rows']:,} input rows "
                  f"({b['usage_rows']:,} usage), {b['spine_rows']:,} spine rows: {b['seconds']:.1f} s, "
                  f"{b['seconds'] / b['bucket_rows'] * 1e6:.2f} us and "
                  f"{(b['peak_mb'] - b['base_mb']) * 2**20 / b['bucket_rows']:.0f} bytes of working "
                  f"memory per input row")
    print(f"load average after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        step, folder, out = sys.argv[2:5]
        print(json.dumps(globals()[f"step_{step}"](folder, out)))
    else:
        main()
