"""Benchmark: render the meeting pack for 500 red accounts (plus amber/green), time and file size.

Baseline measured in the same run: the same 500 red cards from the scores frame alone (no
sidecars: sentences from the scores columns, no waterfall, sparklines, families or contacts), so the
ratio shows what the charts and sidecar sections cost.

Run: .venv/bin/python benchmarks/report.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_report import make_frames

from churnml.report.render import render_report


def timed(fn, repeat: int = 3) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    f = make_frames(1500, seed=0, n_red=500)
    n_red = int((f["scores"]["tier"] == "red").sum())
    full_s, full = timed(
        lambda: render_report(
            f["scores"], f["explanations"], f["history"], f["families"], contacts=f["contacts"]
        )
    )
    amber_s, amber = timed(
        lambda: render_report(
            f["scores"],
            f["explanations"],
            f["history"],
            f["families"],
            contacts=f["contacts"],
            include_amber=True,
        ),
        repeat=1,
    )
    base_s, base = timed(lambda: render_report(f["scores"]))
    print(f"accounts scored: {len(f['scores'])}, red: {n_red}")
    print(f"full pack (500 red cards):   {full_s:6.2f} s  {len(full.encode()) / 1e6:6.2f} MB")
    print(
        f"with amber cards ({amber.count('<article')}):    {amber_s:6.2f} s  "
        f"{len(amber.encode()) / 1e6:6.2f} MB"
    )
    print(f"baseline (scores only):      {base_s:6.2f} s  {len(base.encode()) / 1e6:6.2f} MB")
    print(
        f"ratio full/baseline time: {full_s / base_s:.1f}x; per red card: "
        f"{1000 * (full_s - base_s) / n_red:.1f} ms, {len(full.encode()) / n_red / 1e3:.1f} kB"
    )


if __name__ == "__main__":
    main()
