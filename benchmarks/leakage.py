"""Benchmark: the leakage guard on a training-sized frame, against the indicator report.

Frame: ``--rows`` resolved snapshot rows (default 100,000; 15 % churned) over 20,000 accounts
with one column per numeric indicator of the packaged catalog (random values, 10 % missing; the
three categorical ones as categories), the spine's ``contract_id`` / ``renewal_date`` /
``days_to_renewal``, and a contracts table with one term per row (one to three years long).
Measured in one process, best of ``--repeat``:

- ``leakage_report`` (three calendar signals + every indicator; three rank passes per signal:
  missing values lowest, highest, left out);
- reference: one ``sklearn.metrics.roc_auc_score`` per numeric indicator on its known rows (the
  check the indicator report made before the guard).

    .venv/bin/python benchmarks/leakage.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd


def frame(rows: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    from churnml.features.catalog import load_catalog

    rng = np.random.default_rng(seed)
    catalog = load_catalog()
    accounts = np.array([f"A{i:05d}" for i in range(20000)])
    account = rng.choice(accounts, rows)
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D")
    years = rng.integers(1, 4, rows)
    end = pd.DatetimeIndex(start) + pd.to_timedelta(365 * years, unit="D")
    as_of = end - pd.to_timedelta(rng.integers(1, 181, rows), unit="D")
    out = {"account_id": account, "as_of": as_of, "contract_id": [f"C{i:07d}" for i in range(rows)],
           "renewal_date": end, "days_to_renewal": (end - as_of).days,
           "label": pd.array((rng.random(rows) < 0.15).astype(int), dtype="Int8")}
    for ind in catalog:
        if ind.unit == "category":
            out[ind.id] = pd.Categorical(rng.choice(["a", "b", "c"], rows))
        elif ind.id not in out:
            values = rng.gamma(2.0, 10.0, rows).astype("float32")
            out[ind.id] = np.where(rng.random(rows) < 0.1, np.nan, values).astype("float32")
    contracts = pd.DataFrame({"contract_id": out["contract_id"], "account_id": account,
                              "start_date": start, "end_date": end})
    return pd.DataFrame(out), {"contracts": contracts}


def reference(features: pd.DataFrame) -> dict:
    """One scikit-learn ROC-AUC per numeric indicator on its known resolved rows."""
    from sklearn.metrics import roc_auc_score

    from churnml.features.engine import feature_columns

    resolved = features[features["label"].notna()]
    y = resolved["label"].astype(int).to_numpy()
    out = {}
    for col in feature_columns(features):
        if not pd.api.types.is_numeric_dtype(resolved[col]):
            continue
        x = resolved[col].to_numpy(dtype=float)
        known = ~np.isnan(x)
        out[col] = roc_auc_score(y[known], x[known])
    return out


def best_of(repeat: int, call) -> float:
    times = []
    for _ in range(repeat):
        clock = time.perf_counter()
        call()
        times.append(time.perf_counter() - clock)
    return min(times)


def main() -> None:
    from churnml.features.leakage import leakage_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    features, tables = frame(args.rows)
    leakage_report(features.head(1000), tables)  # imports (scipy) out of the timing
    guard = best_of(args.repeat, lambda: leakage_report(features, tables))
    base = best_of(args.repeat, lambda: reference(features))
    n_signals = len(leakage_report(features, tables))
    print(f"rows {args.rows:,}, signals {n_signals}, load average {os.getloadavg()[0]:.1f}")
    print(f"leakage_report                      {guard:6.2f} s")
    print(f"reference: roc_auc_score per column {base:6.2f} s")
    print(f"ratio guard / reference {guard / base:.2f}")


if __name__ == "__main__":
    main()
