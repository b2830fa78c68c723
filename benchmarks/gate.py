"""Benchmark: the champion gate's bootstrap interval of ROC-AUC, vectorised vs a per-resample loop.

Test sets of the sizes ``train`` meets (1,545 rows: the ``make demo`` test; 50,000 rows: a large
book), two snapshots per account, a score with ROC-AUC about 0.75. The vectorised
:func:`churnml.model.bootstrap.auc_interval` (1,000 resamples of accounts) is compared in the same
run with the obvious reference: the same account draws, one ``sklearn.metrics.roc_auc_score`` with
``sample_weight`` per resample in a Python loop. Reported: wall time of each, the ratio, and the
largest difference between the two intervals' ends (the same draws give the same interval).

Run: .venv/bin/python benchmarks/gate.py [--sizes 1545 50000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnml.model.bootstrap import auc_interval


def reference_interval(y, p, clusters, *, n_resamples, seed, level=0.95):
    """The same account draws as ``auc_interval`` (same generator calls, block by block), one
    sklearn call per resample."""
    from churnml.model.bootstrap import _BLOCK_CELLS

    codes = pd.factorize(clusters)[0]
    n_clusters = codes.max() + 1
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(len(y), n_clusters))
    aucs = []
    for first in range(0, n_resamples, block):
        draws = rng.integers(0, n_clusters, size=(min(block, n_resamples - first), n_clusters))
        for row in draws:  # the reference loop over resamples
            counts = np.bincount(row, minlength=n_clusters)
            aucs.append(roc_auc_score(y, p, sample_weight=counts[codes]))
    return tuple(np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2]))


def book(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    accounts = np.repeat(np.arange(n_rows // 2), 2)
    risk = rng.normal(0, 1, n_rows // 2)[accounts]
    y = (rng.random(len(accounts)) < 1 / (1 + np.exp(-(risk * 1.3 - 1.5)))).astype(int)
    return y, risk + rng.normal(0, 0.3, len(accounts)), accounts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1545, 50_000])
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    print("| test rows | accounts | ROC-AUC | interval | vectorised | sklearn loop | ratio | max diff |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        y, p, accounts = book(size)
        clock = time.perf_counter()
        fast = auc_interval(y, p, clusters=accounts, n_resamples=args.resamples, seed=0)
        fast_s = time.perf_counter() - clock
        clock = time.perf_counter()
        slow = reference_interval(y, p, accounts, n_resamples=args.resamples, seed=0)
        slow_s = time.perf_counter() - clock
        diff = max(abs(a - b) for a, b in zip(fast, slow))
        print(
            f"| {size:,} | {len(set(accounts)):,} | {roc_auc_score(y, p):.3f} | "
            f"{fast[0]:.3f}–{fast[1]:.3f} | {fast_s:.2f} s | "
            f"{slow_s:.2f} s | {slow_s / fast_s:.0f}x | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()
