"""Synthetic data generation: time and peak memory at 2k and 20k accounts.

Each size runs in a fresh process so peak RSS is its own. Baseline: the 2k demo size; the ratio
shows how generation scales (rows per second stay roughly constant when it is linear).

    .venv/bin/python benchmarks/generate.py
"""

from __future__ import annotations

import json
import subprocess
import sys

# (accounts, months, usage_scale): the demo size, and the benchmark scale of about 50M usage rows
SIZES = [(2_000, 24, 1.0), (20_000, 24, 0.7)]


def child(n_accounts: int, months: int, scale: float) -> None:
    import resource
    import time

    from churnml.datasets import make_saas

    t0 = time.perf_counter()
    tables = make_saas(n_accounts=n_accounts, months=months, seed=0, usage_scale=scale)
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    peak_mb = usage.ru_maxrss / 1024
    rows = {k: len(v) for k, v in tables.items()}
    print(
        json.dumps(
            {
                "accounts": n_accounts,
                "seconds": seconds,
                "cpu": cpu,
                "peak_mb": peak_mb,
                "rows": rows,
            }
        )
    )


def main() -> None:
    results = []
    for n, months, scale in SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), str(months), str(scale)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results.append(json.loads(out.splitlines()[-1]))
    base = results[0]
    print(
        f"{'accounts':>9} {'usage rows':>12} {'all rows':>12} {'seconds':>8} {'cpu s':>7} "
        f"{'peak MB':>8} {'Mrows/s':>8} {'time x':>7}"
    )
    for r in results:
        total = sum(n for name, n in r["rows"].items() if name != "oracle")
        print(
            f"{r['accounts']:>9,} {r['rows']['usage']:>12,} {total:>12,} {r['seconds']:>8.1f} "
            f"{r['cpu']:>7.1f} {r['peak_mb']:>8.0f} {r['rows']['usage'] / r['seconds'] / 1e6:>8.2f} "
            f"{r['seconds'] / base['seconds']:>7.1f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
