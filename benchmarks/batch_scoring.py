"""Benchmark: batch scoring of 100,000 accounts end to end, step by step (H5b).

Features are precomputed (the synthetic catalog-shaped frame and the ``make demo``-sized model of
``benchmarks/scoring.py``: 400 trees × 31 leaves). Measured in one process, ``--repeat`` times
(medians reported), each run in order:

0. ``predict_proba`` alone: the reference; the script prints score + explain + write against it
   (issue 14's goal: within 10x), in wall time and in CPU time (this process and its forked
   WOODELF workers), with the load average;
   then ``contributions``: the prediction with the TreeSHAP contributions as ``score_frame``
   starts them (WOODELF's workers beside ``predict_proba``), no reasons: the least any explained
   scoring does, printed against the reference too;
1. ``score_frame`` — calibrated probability, tiers, ARR at risk, rank, TreeSHAP contributions
   (auto backend), reasons / reason codes / plays pivot, trend and what changed against a
   previous run of all accounts a month earlier, with that run's contribution history (as
   ``churnml score`` keeps it: scored once in the setup, on other feature values);
2. atomic Parquet writes of scores + explanations + families sidecars;
3. ``write_crm`` Salesforce preset to CSV;
4. ``write_crm`` upsert into SQLite, first write (all new);

then once: the SQLite identical re-run (all unchanged) and dry run after changing 1 % of scores,
and the same three on a real PostgreSQL (``tests/services/postgres.py``) unless ``--no-postgres``.

Peak memory is the process's max RSS (plus forked explanation workers, reported separately),
the setup's scoring of the previous run included.

Run: .venv/bin/python benchmarks/batch_scoring.py [--rows 100000] [--repeat 3] [--no-postgres]
     [--breakdown]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def _bench_scoring():
    spec = importlib.util.spec_from_file_location("bench_scoring", HERE / "scoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--train-rows", type=int, default=30_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are reported")
    parser.add_argument("--breakdown", action="store_true", help="also time explain_all alone")
    args = parser.parse_args(argv)

    from churnml.model.config import load_config

    bench = _bench_scoring()
    ids = bench.indicator_ids()
    t0 = time.perf_counter()
    model = bench.train(bench.make_features(ids, args.train_rows, seed=11), ids, 400, 31)
    model.config_ = load_config()
    model.model_name_, model.model_version_ = "churnml", "1"
    features = bench.make_features(ids, args.rows, seed=12).drop(columns="label")
    print(f"setup (data + 400-tree model): {time.perf_counter() - t0:.1f} s", flush=True)
    rng = np.random.default_rng(0)
    earlier = _previous_run(model, bench, ids, features)
    loaded, _ = _rss_mb()
    runs = [_one_run(model, features, earlier, rng, args, k) for k in range(args.repeat)]
    result = runs[-1].pop("result")
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "result"}
    if args.breakdown:
        from churnml.explain.contributions import explain_all

        _timed("  explain_all alone", lambda: explain_all(model, features))
    _databases(result, args, rng, len(features))
    own, kids = _rss_mb()
    tiers = result.scores["tier"].value_counts().to_dict()
    print(f"rows {len(features):,}; tiers {tiers}; data+model loaded {loaded:.0f} MB")
    print(f"medians of {args.repeat} runs (s): " + ", ".join(f"{k} {v:.2f}" for k, v in med.items()))
    print(
        f"score + explain + write (Parquet, CSV, SQLite) {med['total']:.1f} s vs predict_proba "
        f"{med['predict_proba']:.2f} s in the same runs: ratio {med['ratio']:.1f}x "
        f"(CPU: {med['total_cpu']:.1f} s vs {med['predict_cpu']:.2f} s, {med['ratio_cpu']:.1f}x); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    floor, rest = med["contributions"], med["total"] - med["contributions"]
    print(
        f"of which the prediction with its contributions alone (no reasons): {floor:.1f} s = "
        f"{floor / med['predict_proba']:.1f}x predict_proba (CPU {med['contributions_cpu']:.1f} s); "
        f"reasons, areas, personas, what changed, tiers and writes beyond it: {rest:.1f} s = "
        f"{rest / med['predict_proba']:.1f}x"
    )
    print(f"peak RSS {own:.0f} MB (forked workers {kids:.0f} MB)")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (WOODELF's forked workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(name, fn, timings=None):
    start, cpu = time.perf_counter(), _cpu()
    value = fn()
    wall = time.perf_counter() - start
    if timings is not None:
        timings[name], timings[name + "_cpu"] = wall, _cpu() - cpu
    print(f"{name}: {wall:.2f} s", flush=True)
    return value


def _previous_run(model, bench, ids, features) -> tuple:
    """``(score history, contribution history)`` of the previous run: the same accounts a month
    earlier with other values, scored once."""
    from churnml.scoring.score import score_frame

    t0 = time.perf_counter()
    before = bench.make_features(ids, len(features), seed=13).drop(columns="label")
    before["as_of"] = (features["as_of"] - pd.DateOffset(months=1)).to_numpy()
    result = score_frame(model, before, scored_at=pd.Timestamp("2026-05-02"))
    print(f"setup (the previous run: {len(result.contributions):,} contribution rows): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    return result.scores[["account_id", "as_of", "score", "tier", "scored_at"]], result.contributions


def _one_run(model, features, earlier, rng, args, k) -> dict:
    """predict_proba (the reference), then score_frame and the three writes, in one process."""
    from churnml.scoring.atomic import write_parquet
    from churnml.scoring.crm import write_crm
    from churnml.scoring.score import score_frame

    t: dict = {}
    print(f"-- run {k + 1} (load average {os.getloadavg()[0]:.1f})", flush=True)
    _timed("predict_proba", lambda: model.predict_proba(features), t)
    _timed("contributions", lambda: _contributions(model, features), t)
    score_history, history = earlier  # the previous run and its contribution history
    result = _timed("score_frame", lambda: score_frame(
        model, features, previous=score_history, previous_contributions=history), t)
    folder = Path(tempfile.mkdtemp(prefix="churnml-bench-"))

    def write_all():
        write_parquet(result.scores, folder / "scores.parquet")
        write_parquet(result.explanations, folder / "scores_explanations.parquet")
        write_parquet(result.families, folder / "scores_families.parquet")

    _timed("parquet", write_all, t)
    _timed("csv", lambda: write_crm(result.scores, folder / "crm.csv", preset="salesforce"), t)
    db = f"sqlite:///{folder}/crm.db"
    _timed("sqlite", lambda: write_crm(result.scores, db=db, preset="salesforce"), t)
    steps = ("score_frame", "parquet", "csv", "sqlite")
    t["total"] = sum(t[s] for s in steps)
    t["total_cpu"] = sum(t[s + "_cpu"] for s in steps)
    t["predict_cpu"] = t.pop("predict_proba_cpu")
    t["ratio"] = t["total"] / t["predict_proba"]
    t["ratio_cpu"] = t["total_cpu"] / t["predict_cpu"]
    totals = ("total_cpu", "predict_cpu", "ratio_cpu", "contributions_cpu")
    kept = {k: v for k, v in t.items() if not k.endswith("_cpu") or k in totals}
    return {**kept, "result": result}


def _contributions(model, features):
    """The prediction and the TreeSHAP contributions, started as ``score_frame`` starts them."""
    from churnml.explain.contributions import start_explaining

    pending = start_explaining(model, features)
    model.predict_proba(features)
    return pending.result()


def _databases(result, args, rng, n) -> None:
    """Re-run and dry run against SQLite, then all three on PostgreSQL (unless --no-postgres)."""
    from churnml.scoring.crm import write_crm

    folder = Path(tempfile.mkdtemp(prefix="churnml-bench-"))
    changed = result.scores.copy()
    pick = rng.choice(len(changed), len(changed) // 100, replace=False)
    changed.loc[pick, "score"] = ((changed.loc[pick, "score"] + 7) % 101).astype("int16")
    targets = {"SQLite": f"sqlite:///{folder}/crm.db"}
    server = None
    if not args.no_postgres:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from services.postgres import postgres_server

        server = postgres_server()
        targets["PostgreSQL"] = server.__enter__()
    try:
        for name, url in targets.items():
            first = _timed(f"{name} upsert, first run", lambda u=url: write_crm(result.scores, db=u))
            again = _timed(
                f"{name} upsert, identical re-run", lambda u=url: write_crm(result.scores, db=u)
            )
            dry = _timed(
                f"{name} dry run, 1 % changed", lambda u=url: write_crm(changed, db=u, dry_run=True)
            )
            assert first.inserted == n and again.unchanged == n
            assert dry.updated == len(pick), (dry.updated, len(pick))
    finally:
        if server is not None:
            server.__exit__(None, None, None)


if __name__ == "__main__":
    main()
