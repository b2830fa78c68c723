"""Benchmark: batch scoring of 100,000 accounts end to end, step by step (H5b).

Features are precomputed (the synthetic catalog-shaped frame and the ``make demo``-sized model of
``benchmarks/scoring.py``: 400 trees × 31 leaves). Measured in one process, in order:

1. ``score_frame`` — calibrated probability, tiers, ARR at risk, rank, TreeSHAP contributions
   (auto backend), reasons / reason codes / plays pivot, trend against a previous run of all
   accounts;
2. atomic Parquet writes of scores + explanations + families sidecars;
3. ``write_crm`` Salesforce preset to CSV;
4. ``write_crm`` upsert into SQLite: first write (all new), identical re-run (all unchanged),
   dry run after changing 1 % of scores;
5. the same three on a real PostgreSQL (``tests/services/postgres.py``) unless ``--no-postgres``.

Peak memory is the process's max RSS (plus forked explanation workers, reported separately).

Run: .venv/bin/python benchmarks/batch_scoring.py [--rows 100000] [--no-postgres] [--breakdown]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
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
    parser.add_argument(
        "--breakdown", action="store_true", help="also time predict_proba and explain_all alone"
    )
    args = parser.parse_args(argv)

    from churnml.model.config import load_config
    from churnml.scoring.atomic import write_parquet
    from churnml.scoring.crm import write_crm
    from churnml.scoring.score import score_frame

    bench = _bench_scoring()
    ids = bench.indicator_ids()
    t0 = time.perf_counter()
    model = bench.train(bench.make_features(ids, args.train_rows, seed=11), ids, 400, 31)
    model.config_ = load_config()
    model.model_name_, model.model_version_ = "churnml", "1"
    features = bench.make_features(ids, args.rows, seed=12).drop(columns="label")
    print(f"setup (data + 400-tree model): {time.perf_counter() - t0:.1f} s", flush=True)
    rng = np.random.default_rng(0)
    previous = pd.DataFrame(
        {
            "account_id": features["account_id"],
            "as_of": features["as_of"] - pd.DateOffset(months=1),
            "score": rng.integers(0, 101, len(features)),
            "tier": rng.choice(["red", "amber", "green"], len(features)),
            "scored_at": pd.Timestamp("2026-05-02"),
        }
    )
    loaded, _ = _rss_mb()
    timings = {}

    def timed(name, fn):
        start = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - start
        print(f"{name}: {timings[name]:.2f} s", flush=True)
        return value

    if args.breakdown:
        from churnml.explain.contributions import explain_all

        timed("  of which predict_proba", lambda: model.predict_proba(features))
        timed("  of which explain_all", lambda: explain_all(model, features))
    result = timed("score_frame", lambda: score_frame(model, features, previous=previous))
    folder = Path(tempfile.mkdtemp(prefix="churnml-bench-"))
    out = folder / "scores.parquet"

    def write_all():
        write_parquet(result.scores, out)
        write_parquet(result.explanations, folder / "scores_explanations.parquet")
        write_parquet(result.families, folder / "scores_families.parquet")

    timed("write scores + sidecars (Parquet)", write_all)
    timed(
        "write_crm salesforce CSV",
        lambda: write_crm(result.scores, folder / "crm.csv", preset="salesforce"),
    )
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
            first = timed(f"{name} upsert, first run", lambda u=url: write_crm(result.scores, db=u))
            again = timed(
                f"{name} upsert, identical re-run", lambda u=url: write_crm(result.scores, db=u)
            )
            dry = timed(
                f"{name} dry run, 1 % changed", lambda u=url: write_crm(changed, db=u, dry_run=True)
            )
            assert first.inserted == len(features) and again.unchanged == len(features)
            assert dry.updated == len(pick), (dry.updated, len(pick))
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    own, kids = _rss_mb()
    core = timings["score_frame"] + timings["write scores + sidecars (Parquet)"]
    core += timings["write_crm salesforce CSV"] + timings["SQLite upsert, first run"]
    tiers = result.scores["tier"].value_counts().to_dict()
    print(f"rows {len(features):,}; tiers {tiers}; data+model loaded {loaded:.0f} MB")
    print(f"score + explain + write (Parquet, CSV, SQLite): {core:.1f} s")
    print(f"peak RSS {own:.0f} MB (forked workers {kids:.0f} MB)")


if __name__ == "__main__":
    main()
