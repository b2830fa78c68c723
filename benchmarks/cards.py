"""Benchmark: what the cards add to scoring — family-first reasons, persona health, what changed
since the previous run and each CSM's book — against ``explain_all`` on the same rows.

The feature frame and model are those of ``benchmarks/scoring.py`` (catalog indicator columns,
400 trees, 31 leaves); contributions are computed once (``native``) and reused, so each figure is
the step's own cost. "What changed" compares two runs of the same accounts a month apart (the
second run's features perturbed). Times are the best of ``--repeat`` runs in this process.

Run: .venv/bin/python benchmarks/cards.py [--rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import indicator_ids, make_features, train


def best(repeat: int, fn):
    """(seconds of the fastest of ``repeat`` calls, its result)."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from churnml.explain.areas import family_first
    from churnml.explain.changes import contribution_rows, what_changed
    from churnml.explain.contributions import explain_all
    from churnml.explain.personas import persona_health
    from churnml.features.catalog import load_catalog
    from churnml.scoring.capacity import rank_books

    ids = indicator_ids()
    model = train(make_features(ids, 20_000, seed=1), ids, trees=400, leaves=31)
    catalog = load_catalog()
    now = make_features(ids, args.rows, seed=2).drop(columns="label")
    before = now.assign(as_of=pd.Timestamp("2026-05-01"))
    rng = np.random.default_rng(3)
    for name in ids[:20]:  # a month later some indicators moved
        if pd.api.types.is_numeric_dtype(before[name]):
            before[name] = before[name] * rng.uniform(0.5, 1.5, len(before))
    values, base = model.booster_.predict(model.prepare(now), pred_contrib=True)[:, :-1], None
    base = model.booster_.predict(model.prepare(now.head(1)), pred_contrib=True)[0, -1]
    old = model.booster_.predict(model.prepare(before), pred_contrib=True)[:, :-1]

    def explain(frame, contributions):
        return explain_all(model, frame, catalog=catalog, values=contributions, base_value=base)

    t_explain, ex = best(args.repeat, lambda: explain(now, values))
    t_areas, _ = best(args.repeat, lambda: family_first(model, now, ex, catalog=catalog))
    t_personas, _ = best(args.repeat, lambda: persona_health(model, now, ex, catalog=catalog))
    ex_before = explain(before, old)
    history = contribution_rows(before, ex_before.contributions)
    current = contribution_rows(now, ex.contributions)
    p_now = 1 / (1 + np.exp(-ex.log_odds))
    p_before = 1 / (1 + np.exp(-ex_before.log_odds))
    scores = now[["account_id", "as_of"]].assign(probability=p_now, score=np.rint(100 * p_now))
    runs = before[["account_id", "as_of"]].assign(score=np.rint(100 * p_before))
    t_rows, _ = best(args.repeat, lambda: contribution_rows(now, ex.contributions))
    t_changed, changes = best(
        args.repeat,
        lambda: what_changed(scores, current, history, runs, features=now, catalog=catalog),
    )
    books = scores.assign(arr=rng.uniform(5e3, 5e5, len(scores)),
                          csm=rng.choice([f"CSM {i}" for i in range(40)], len(scores)))  # fmt: skip
    t_books, _ = best(args.repeat, lambda: rank_books(books))
    moved = int(changes.columns["change_summary"].str.contains(":").sum())
    print(f"{args.rows:,} accounts, {len(ids)} indicators; best of {args.repeat}")
    print(f"  explain_all (precomputed contributions)   {t_explain:7.2f} s  (reference)")
    for name, seconds in (("family_first (areas, sentences, plays)", t_areas),
                          ("persona_health", t_personas),
                          ("contribution_rows (run history)", t_rows),
                          ("what_changed", t_changed), ("rank_books", t_books)):  # fmt: skip
        print(f"  {name:<42}{seconds:7.2f} s  ({seconds / t_explain:.2f}x explain_all)")
    print(f"  history rows per run: {len(current):,}; accounts with movers: {moved:,}")


if __name__ == "__main__":
    main()
