"""Feature builders: the whole catalog against one windowed scan of the same usage Parquet.

Data: ``make_saas(n_accounts=20000, months=18, seed=0, usage_scale=0.9)`` (about 48.9M user-day
usage rows), written once as Parquet to ``--data`` and reused. Spine: 12 monthly ``as_of`` dates
(2025-01-01 .. 2025-12-01, 180-day horizon). Each measurement runs in its own process: it opens
the tables and the spine, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), runs
one step and reports wall time, CPU time, the process's peak RSS during the step, and the peak
above what the opened tables already held.

Steps (``--steps``, default ``scan,reductions,catalog,catalog_pandas``), each run ``--repeat``
times (default 3, the steps in turn; medians reported, the values compared on the last run):

- ``scan``: the reference, one DuckDB pass over the usage Parquet computing a 30-day count and
  sum of quantity per (account, as_of) for the 12 dates;
- ``reductions``: what the usage indicators cannot do without, in plain DuckDB SQL on the same
  Parquet: the three reductions they read (quantity per account-day, and each user's and each
  feature's active days as one bitmask per 63-day block), keys hashed, one statement each, no
  catalog, no windows; ``catalog`` over it is what the windows and the other tables add;
- ``catalog``: ``build_features`` with the full catalog on ``open_tables`` (usage a lazy table:
  DuckDB reads its Parquet inside the build), as the CLI, ``train`` and ``score`` run it;
- ``catalog_pandas``: the same on ``load_tables`` (usage loaded into pandas first, as notebooks
  do); the two results are compared value by value;
- ``usage_duckdb`` / ``usage_pandas``: the usage family alone, and a plain vectorised pandas
  version of it (boolean-mask windows, one pass per ``as_of``).

    .venv/bin/python benchmarks/features.py [--data DIR] [--accounts 20000] [--usage-scale 0.9]
        [--steps scan,reductions,catalog,catalog_pandas] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-07-01")
USAGE_IDS = ["active_users_30d", "active_users_prev_30d", "active_users_change_30d", "events_30d",
             "events_prev_30d", "events_change_30d", "events_slope_90d", "days_since_last_activity",
             "feature_breadth_30d", "license_utilization_30d", "power_users_30d",
             "power_users_prev_30d", "power_users_change_30d"]


def generate(folder: Path, accounts: int, months: int, scale: float) -> None:
    from churnml.data.load import write_tables
    from churnml.datasets import make_saas

    tables = make_saas(n_accounts=accounts, months=months, seed=0, usage_scale=scale)
    write_tables({k: v for k, v in tables.items() if k != "oracle"}, folder)


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS (VmHWM) := current RSS


def pandas_usage(usage: pd.DataFrame, spine: pd.DataFrame) -> pd.DataFrame:
    """The usage family in plain vectorised pandas, one pass per as_of date (the reference)."""
    day = usage["ts"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype("int64")
    u = pd.DataFrame({"account_id": usage["account_id"], "user_id": usage["user_id"], "day": day,
                      "event": usage["event"], "quantity": usage["quantity"].astype("float64")})
    parts = []
    for as_of, rows in spine.groupby("as_of", sort=True):
        d = np.datetime64(as_of, "D").astype("int64")
        year = u[(u["day"] >= d - 365) & (u["day"] < d)]
        w91 = year[year["day"] >= d - 91]
        cur, prev = w91[w91["day"] >= d - 30], w91[(w91["day"] >= d - 60) & (w91["day"] < d - 30)]
        by = {"observed": True, "sort": False}
        out = pd.DataFrame(index=pd.Index(rows["account_id"].astype(str).unique(), name="account_id"))
        out["days_since_last_activity"] = d - year.groupby("account_id", **by)["day"].max()
        for name, w in (("30d", cur), ("prev_30d", prev)):
            out[f"events_{name}"] = w.groupby("account_id", **by)["quantity"].sum()
            out[f"active_users_{name}"] = w.groupby("account_id", **by)["user_id"].nunique()
            days = w.groupby(["account_id", "user_id"], **by)["day"].nunique()
            out[f"power_users_{name}"] = (days >= 8).groupby(level="account_id", **by).sum()
        out["feature_breadth_30d"] = cur.groupby("account_id", **by)["event"].nunique()
        weeks = (d - w91["day"] - 1) // 7
        weekly = (w91.groupby(["account_id", weeks.rename("k")], **by)["quantity"].sum()
                  .unstack("k").reindex(columns=range(13)).fillna(0.0))
        x = -np.arange(13.0)
        xc = x - x.mean()
        y = weekly.to_numpy()
        out["events_slope_90d"] = pd.Series((y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc),
                                            index=weekly.index.astype(str))
        # no usage in a window: counts are 0, and so is the slope (the catalog counts empty weeks as 0)
        out = out.fillna({c: 0 for c in out if c.startswith(("events_", "active_", "power_", "feature_"))})
        out["as_of"] = as_of
        parts.append(out.reset_index())
    frame = spine[["account_id", "as_of", "seats"]].merge(pd.concat(parts), on=["account_id", "as_of"],
                                                          how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        for stem in ("active_users", "events"):
            a, b = frame[f"{stem}_30d"], frame[f"{stem}_prev_30d"]
            frame[f"{stem}_change_30d"] = np.where(b > 0, a / b - 1, np.nan)
        frame["license_utilization_30d"] = np.where(frame["seats"] > 0,
                                                    frame["active_users_30d"] / frame["seats"], np.nan)
    frame["power_users_change_30d"] = frame["power_users_30d"] - frame["power_users_prev_30d"]
    return frame[["account_id", "as_of", *USAGE_IDS]]


def scan(folder: str, dates) -> pd.DataFrame:
    """The reference: one DuckDB pass over the usage Parquet computing a 30-day count and sum of
    quantity per (account, as_of) for the spine's as_of dates (both cores, no memory limit)."""
    import duckdb

    con = duckdb.connect()
    days = ", ".join(f"DATE '{pd.Timestamp(d):%Y-%m-%d}'" for d in dates)
    return con.sql(
        f"SELECT u.account_id, d.as_of, COUNT(*) AS n, SUM(u.quantity) AS quantity "
        f"FROM read_parquet('{Path(folder) / 'usage.parquet'}') u "
        f"JOIN (SELECT UNNEST([{days}]) AS as_of) d "
        f"ON u.ts >= d.as_of - INTERVAL 30 DAY AND u.ts < d.as_of GROUP BY ALL").to_arrow_table()


#: the three usage reductions of ``reductions`` (the day as days since 1970-01-01)
_DAY = "(CAST(ts AS DATE) - DATE '1970-01-01')"
_BITS = f"{_DAY} // 63 AS b, BIT_OR(CAST(1 AS BIGINT) << ({_DAY} % 63)) AS mask"
REDUCTIONS = {
    "account_day": f"SELECT HASH(account_id) AS a, {_DAY} AS d, SUM(quantity) AS q",
    "user_blocks": f"SELECT HASH(account_id) AS a, HASH(user_id) AS u, {_BITS}",
    "feature_blocks": f"SELECT HASH(account_id) AS a, HASH(event) AS e, {_BITS}",
}


def reductions(folder: str) -> dict:
    """The usage reductions the catalog's usage indicators read, straight from the Parquet (both
    cores, no memory limit): rows of each, as one figure per reduction."""
    import duckdb

    con = duckdb.connect()
    source = f"read_parquet('{Path(folder) / 'usage.parquet'}')"
    for name, select in REDUCTIONS.items():
        con.execute(f"CREATE TEMP TABLE {name} AS {select} FROM {source} GROUP BY ALL")
    return {name: con.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0] for name in REDUCTIONS}


def _spine(tables):
    from churnml.snapshots import make_spine

    return make_spine(tables, start=START + pd.DateOffset(months=6),
                      end=START + pd.DateOffset(months=17), cadence="monthly", horizon_days=180)


def child(step: str, folder: str, out: str) -> None:
    """Tables are opened before the clock, as the CLI opens them: ``catalog`` through
    ``open_tables`` (usage a lazy table, so its Parquet is read inside the build, like the
    scan's), ``catalog_pandas`` and the usage steps through ``load_tables`` (usage loaded into
    pandas first, as before). ``open_s`` is the opening time."""
    from churnml.data.load import load_tables, open_tables
    from churnml.features.catalog import Catalog, load_catalog
    from churnml.features.engine import build_features

    t_open = time.perf_counter()
    if step == "catalog":  # usage stays a lazy table: its Parquet is read inside the build
        tables = open_tables(folder, validate=False)
    elif step in ("scan", "reductions"):
        tables = load_tables(folder, tables=["accounts", "contracts"], validate=False)
    else:
        tables = load_tables(folder, validate=False)
    spine = _spine(tables)
    open_s = time.perf_counter() - t_open
    catalog = load_catalog()
    if step == "usage_duckdb":
        catalog = Catalog([i for i in catalog if i.id in USAGE_IDS or i.id == "seats"])
    base_mb = _rss_mb("VmRSS")
    _reset_peak()
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    if step == "usage_pandas":
        result = pandas_usage(tables["usage"], spine)
    elif step == "scan":
        result = scan(folder, sorted(spine["as_of"].unique()))
    elif step == "reductions":
        result = reductions(folder)
    else:
        result = build_features(tables, spine, catalog)
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = _rss_mb("VmHWM")
    if step.startswith(("usage", "catalog")):
        ids = USAGE_IDS if step.startswith("usage") else [c for c in result.columns
                                                          if c not in ("label",)]
        result[["account_id", "as_of", *[c for c in ids if c not in ("account_id", "as_of")]]
               ].to_parquet(out)
    print(json.dumps({
        "step": step, "seconds": seconds, "peak_mb": peak_mb, "base_mb": base_mb,
        "cpu": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
        "rows": (result.num_rows if step == "scan" else sum(result.values())
                 if step == "reductions" else len(result)),
        "columns": (result.num_columns if step == "scan" else len(result)
                    if step == "reductions" else result.shape[1]),
        "usage_rows": len(tables["usage"]) if "usage" in tables else None, "open_s": open_s,
        "as_of": int(spine["as_of"].nunique()),
        "skipped": len(result.attrs.get("skipped", {})) if step.startswith(("usage", "catalog"))
        else 0,
    }))


def _median(runs: list[dict]) -> dict:
    """The run's figures, each the median over ``runs`` (counts are the same in every run)."""
    import statistics

    keys = ("seconds", "cpu", "peak_mb", "base_mb", "open_s")
    return {**runs[-1], **{k: statistics.median(r[k] for r in runs) for k in keys}}


def _print_step(name: str, r: dict) -> None:
    print(f"{name:>18}: {r['seconds']:6.1f} s wall, {r['cpu']:6.1f} s CPU, peak {r['peak_mb']:6.0f} MB "
          f"({r['peak_mb'] - r['base_mb']:5.0f} MB above the loaded data), {r['rows']:,} rows x "
          f"{r['columns']} columns; tables opened in {r['open_s']:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "churnml-bench-features"))
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--usage-scale", type=float, default=0.9)
    parser.add_argument("--steps", default="scan,reductions,catalog,catalog_pandas")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step; medians shown")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, but got {args.repeat}")
    folder = Path(args.data)
    if not (folder / "usage.parquet").exists():
        print(f"generating {args.accounts:,} accounts into {folder} ...", flush=True)
        subprocess.run([sys.executable, __file__, "--generate", str(folder), str(args.accounts),
                        str(args.months), str(args.usage_scale)], check=True)
    steps = args.steps.split(",")
    runs: dict[str, list] = {step: [] for step in steps}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):  # steps in turn, so a change in the machine's load hits all
            for step in steps:
                out = subprocess.run([sys.executable, __file__, "--child", step, str(folder),
                                      f"{tmp}/{step}.parquet"], check=True, capture_output=True,
                                     text=True)
                runs[step].append(json.loads(out.stdout.splitlines()[-1]))
                _print_step(f"{step} ({k + 1})" if args.repeat > 1 else step, runs[step][-1])
        results = {step: _median(r) for step, r in runs.items()}
        if args.repeat > 1:
            print(f"medians of {args.repeat} runs:")
            for step in steps:
                _print_step(step, results[step])
        if {"usage_duckdb", "usage_pandas"} <= set(results):
            a = pd.read_parquet(f"{tmp}/usage_duckdb.parquet")
            b = pd.read_parquet(f"{tmp}/usage_pandas.parquet")
            diff = {c: float(np.nanmax(np.abs(a[c].astype("float64") - b[c].astype("float64")) /
                                      np.maximum(1.0, np.abs(b[c].astype("float64")))))
                    for c in USAGE_IDS}
            nulls = {c: int((a[c].isna() != b[c].isna()).sum()) for c in USAGE_IDS}
            print(f"usage family, duckdb vs pandas: max relative difference {max(diff.values()):.2e}, "
                  f"rows with a null in only one: {sum(nulls.values())}")
            d, p = results["usage_duckdb"], results["usage_pandas"]
            print(f"usage family: {p['seconds'] / d['seconds']:.1f}x faster than pandas "
                  f"({p['cpu'] / d['cpu']:.1f}x less CPU); working memory {d['peak_mb'] - d['base_mb']:.0f} MB "
                  f"vs {p['peak_mb'] - p['base_mb']:.0f} MB "
                  f"({(d['peak_mb'] - d['base_mb']) / (p['peak_mb'] - p['base_mb']):.2f}x); "
                  f"process peak {d['peak_mb']:.0f} vs {p['peak_mb']:.0f} MB")
        if {"catalog", "catalog_pandas"} <= set(results):
            a = pd.read_parquet(f"{tmp}/catalog.parquet")
            b = pd.read_parquet(f"{tmp}/catalog_pandas.parquet")
            same = a.equals(b)
            print(f"whole catalog, lazy vs pandas path: {'identical' if same else 'DIFFERENT'}")
        if {"catalog", "scan"} <= set(results):
            c, r0 = results["catalog"], results["scan"]
            print(f"whole catalog (usage read inside the build) / one-pass windowed scan: "
                  f"{c['seconds'] / r0['seconds']:.1f}x wall ({c['seconds']:.1f} s vs "
                  f"{r0['seconds']:.2f} s), {c['cpu'] / r0['cpu']:.1f}x CPU; goal 4x")
            if "reductions" in results:
                f = results["reductions"]
                print(f"the usage reductions alone (plain DuckDB, no windows) / the scan: "
                      f"{f['seconds'] / r0['seconds']:.1f}x wall ({f['seconds']:.2f} s), whole "
                      f"catalog / the reductions alone: {c['seconds'] / f['seconds']:.1f}x")
    r = next((v for v in results.values() if v["usage_rows"]), next(iter(results.values())))
    print(f"data: {r['usage_rows'] or 0:,} usage rows, {r['as_of']} as_of dates, {r['rows']:,} spine rows; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    elif len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        main()
