"""Benchmark: what a scoring run's safety costs — the data checks and the committed writes.

1. Data checks (``churnml.model.profile.measure``) on the ``make demo`` data (2,000 accounts,
   24 months, seed 7): over the training snapshots (monthly, the data's whole period, as ``train``
   records the profile) and over the accounts scored at the last date (as ``run_score`` checks
   them). Reference: ``build_features`` for the same scoring population, the step the check
   follows.
2. Committed writes of one run's five Parquet files for ``--rows`` accounts (scores, explanations,
   families, indicator history, score history), shaped like ``churnml score``'s: staged under
   temporary names with the run id in their metadata, journal, renames, under the output lock.
   Reference: the same five frames written one by one with the atomic ``write_parquet`` (what a
   run did before).
3. The CRM CSV (Salesforce preset, ``--rows`` accounts, 1 % of names formula-like) with the
   formula guard on; reference: the same preset with ``csv_formula_guard: false``.

Best of ``--repeat`` runs each. Run: .venv/bin/python benchmarks/runs.py [--rows 100000]
[--data demo/data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_frames(n: int, seed: int = 0) -> dict:
    """Frames of one scoring run for ``n`` accounts (sizes as churnml score writes them)."""
    rng = np.random.default_rng(seed)
    ids = pd.array([f"A{i:06d}" for i in range(n)], dtype="string")
    as_of = pd.Timestamp("2026-07-01")
    p = rng.uniform(0, 1, n)
    text = pd.array(["Active users fell 43% in the last 30 days (41 → 23)"] * n, dtype="string")
    scores = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": as_of,
            "probability": p,
            "score": np.rint(100 * p).astype("int16"),
            "arr": rng.uniform(1e4, 2e5, n),
            "tier": np.where(p > 0.5, "red", "green"),
            "top_reasons": text,
            "play": text,
            "scored_at": pd.Timestamp("2026-07-02"),
        }
    )
    long = np.repeat(np.arange(n), 5)
    explanations = pd.DataFrame(
        {
            "account_id": ids[long],
            "as_of": as_of,
            "indicator": "events_30d",
            "contribution": rng.normal(size=5 * n),
            "kind": "driver",
            "rank": np.tile(np.arange(1, 6), n),
            "sentence": text[long],
        }
    )
    fam = np.repeat(np.arange(n), 6)
    families = pd.DataFrame(
        {
            "account_id": ids[fam],
            "as_of": as_of,
            "family": "usage",
            "contribution": rng.normal(size=6 * n),
        }
    )
    red = np.repeat(np.arange(0, n, 3), 48)
    history = pd.DataFrame(
        {
            "account_id": ids[red],
            "as_of": as_of,
            "indicator": "events_30d",
            "value": rng.normal(size=len(red)),
        }
    )
    runs = pd.DataFrame(
        {
            "account_id": ids[np.repeat(np.arange(n), 12)],
            "as_of": as_of,
            "score": rng.integers(0, 100, 12 * n).astype("int16"),
        }
    )
    return {
        "explanations": explanations,
        "history": history,
        "families": families,
        "scores": scores,
        "runs": runs,
    }


def bench_checks(repeat: int, data=None) -> None:
    from churnml import build_features, make_spine
    from churnml.datasets import make_saas
    from churnml.features.catalog import load_catalog
    from churnml.model.profile import family_tables, measure
    from churnml.snapshots import data_period

    if data is None:
        tables = make_saas(n_accounts=2000, months=24, seed=7)
    else:  # the same data written by `churnml generate --accounts 2000 --months 24 --seed 7`
        from churnml.data.load import load_tables

        tables = load_tables(data)
    tables.pop("oracle", None)
    start, end = data_period(tables)
    families = family_tables(load_catalog())
    training = make_spine(tables, start=start, end=end, cadence="monthly")
    scoring = make_spine(tables, end)
    t_train = best(lambda: measure(tables, training, families), repeat)
    t_score = best(lambda: measure(tables, scoring, families), repeat)
    t_features = best(lambda: build_features(tables, scoring), repeat)
    print(
        f"demo data: {len(tables['usage']):,} usage rows; {len(training):,} training snapshots, "
        f"{len(scoring):,} accounts scored at {end.date()}"
    )
    print(f"profile over the training snapshots: {t_train:.2f} s")
    print(
        f"check at scoring: {t_score:.2f} s; build_features for the same accounts "
        f"(reference): {t_features:.2f} s; ratio {t_score / t_features:.2f}"
    )


def bench_writes(rows: int, repeat: int) -> None:
    from churnml.scoring.atomic import parquet_to, write_parquet
    from churnml.scoring.commit import RUN_ID_KEY, Staging, new_run_id, recover
    from churnml.scoring.lock import output_lock

    frames = run_frames(rows)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.parquet"
        paths = {k: out.with_name(f"scores_{k}.parquet") for k in frames}

        def plain():
            for kind, frame in frames.items():
                write_parquet(frame, paths[kind])

        def committed():
            with output_lock([out]):
                recover(out, paths.values())
                with Staging(out, new_run_id()) as staging:
                    meta = {RUN_ID_KEY: staging.run_id}
                    for kind, frame in frames.items():
                        staging.stage(kind, paths[kind], lambda t, f=frame: parquet_to(f, t, meta))
                    staging.commit()

        t_plain, t_commit = best(plain, repeat), best(committed, repeat)
    total = sum(len(f) for f in frames.values())
    print(
        f"{rows:,} accounts, five files, {total:,} rows: atomic writes one by one (reference) "
        f"{t_plain:.2f} s; staged + journal + commit under the lock {t_commit:.2f} s; "
        f"ratio {t_commit / t_plain:.2f}"
    )


def bench_csv(rows: int, repeat: int) -> None:
    from churnml.scoring.crm import get_preset, write_crm
    from churnml.scoring.score import SCORE_COLUMNS

    scores = run_frames(rows)["scores"]
    for column in SCORE_COLUMNS:
        if column not in scores:
            scores[column] = pd.array([None] * rows, dtype="string")
    scores.loc[::100, "name"] = "=HYPERLINK(1)"
    guarded = get_preset("salesforce")
    verbatim = {**guarded, "csv_formula_guard": False}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.csv"
        t_off = best(
            lambda: (path.unlink(missing_ok=True), write_crm(scores, path, preset=verbatim)), repeat
        )
        t_on = best(
            lambda: (path.unlink(missing_ok=True), write_crm(scores, path, preset=guarded)), repeat
        )
    print(
        f"CRM CSV, salesforce preset, {rows:,} rows: formula guard off (reference) {t_off:.2f} s, "
        f"on {t_on:.2f} s; ratio {t_on / t_off:.2f}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-checks", action="store_true")
    parser.add_argument("--data", help="the demo data folder (default: generated in memory)")
    args = parser.parse_args(argv)
    if not args.skip_checks:
        bench_checks(args.repeat, args.data)
    bench_writes(args.rows, args.repeat)
    bench_csv(args.rows, args.repeat)


if __name__ == "__main__":
    main()
