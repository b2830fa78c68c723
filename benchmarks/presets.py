"""Benchmark: reading a world through the source presets vs reading its native tables.

One world (``make_saas``, default 300 accounts x 18 months, seed 3) is written twice: as the
native contract tables (the reference) and as the Salesforce vendor set (Salesforce, Stripe,
Zendesk, Segment with one row per track call, Delighted; ``generate --export salesforce``). Both
are loaded with ``load_tables`` (the vendor set through ``tests/data/vendor_salesforce_mapping.yaml``:
every table a preset's SQL in DuckDB, Segment's calls counted per user, event and day), and
``churnml init`` is timed on the vendor folder. Prints seconds, rows and ratios (median of runs).

Run: .venv/bin/python benchmarks/presets.py [--accounts 300] [--months 18] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

MAPPING = Path(__file__).resolve().parent.parent / "tests" / "data" / "vendor_salesforce_mapping.yaml"


def timed(call, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        clock = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - clock)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from churnml.data.load import load_tables, write_tables
    from churnml.data.synthetic import make_saas
    from churnml.data.synthetic.vendors.write import write_vendor_set
    from churnml.sources.init import propose_mapping

    world = make_saas(n_accounts=args.accounts, months=args.months, seed=3)
    with tempfile.TemporaryDirectory(prefix="churnml-presets-") as tmp:
        native, vendor = Path(tmp) / "native", Path(tmp) / "vendor"
        write_tables(world, native)
        clock = time.perf_counter()
        rows = write_vendor_set(world, vendor, "salesforce", seed=3)
        written = time.perf_counter() - clock
        size = sum(f.stat().st_size for f in vendor.rglob("*.parquet")) / 1e6
        reference, tables = timed(lambda: load_tables(native), args.runs)
        presets, mapped = timed(lambda: load_tables(vendor, mapping=MAPPING), args.runs)
        init, _ = timed(lambda: propose_mapping(vendor, base=vendor), args.runs)
    print(f"world: {args.accounts} accounts x {args.months} months; vendor set "
          f"{sum(rows.values()):,} rows ({rows['segment.tracks']:,} track calls), "
          f"{size:.0f} MB of Parquet, written in {written:.1f} s")
    print(f"load_tables, native tables (reference): {reference:.2f} s "
          f"({len(tables['usage']):,} usage rows)")
    print(f"load_tables, vendor set through presets: {presets:.2f} s "
          f"({len(mapped['usage']):,} usage rows), ratio {presets / reference:.1f}x")
    print(f"init (recognise, measure keys, list option values): {init:.2f} s, "
          f"ratio {init / reference:.1f}x the native load")


if __name__ == "__main__":
    main()
