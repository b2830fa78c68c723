"""Benchmark: Optuna tuning with vs without median pruning on the demo data (50 trials each).

Demo data = ``make_saas(n_accounts=2000, months=24, seed=7)`` (what ``make demo`` writes), monthly
snapshots from the fourth month, the default indicator catalog. Both runs use the same seeded TPE
sampler, the same out-of-time folds (``models/default.yaml``) and the same trial budget; the only
difference is the pruner. Reported: wall time, trials pruned, best mean fold AUC, and the out-of-time
test ROC-AUC of ChurnModel fitted on every row resolved before the test with the best trial's
parameters and with the trial ``tune`` selects (the defaults unless beaten beyond fold noise),
beside the untuned defaults and the oracle on the same test rows; then, for every complete trial
of the pruned run, how well its mean fold AUC predicts its test AUC.

Run: .venv/bin/python benchmarks/tuning.py [--trials 50] [--accounts 2000] [--cache DIR]
(``--cache`` keeps the built features and oracle as Parquet and reuses them on the next run).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from sklearn.metrics import roc_auc_score

from churnml.model.config import load_config
from churnml.model.estimator import ChurnModel
from churnml.model.folds import out_of_time_folds, trainable_before
from churnml.model.tuning import tune


def demo_frame(n_accounts, seed, cache=None):
    from pathlib import Path

    if cache is not None and (Path(cache) / "features.parquet").exists():
        frame = pd.read_parquet(Path(cache) / "features.parquet")
        oracle = pd.read_parquet(Path(cache) / "oracle.parquet")["churn_probability"]
        return frame, oracle
    from churnml import build_features, make_spine
    from churnml.datasets import make_saas

    tables = make_saas(n_accounts=n_accounts, months=24, seed=seed)
    usage = tables["usage"]["ts"]
    start = (usage.min() + pd.DateOffset(months=3)).normalize()
    spine = make_spine(tables, start=start, end=usage.max())
    frame = build_features(tables, spine)
    oracle = tables["oracle"].set_index("contract_id")["churn_probability"]
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(Path(cache) / "features.parquet")
        oracle.to_frame().to_parquet(Path(cache) / "oracle.parquet")
    return frame, oracle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", help="folder caching the demo features between runs")
    args = parser.parse_args()
    start = time.perf_counter()
    frame, oracle = demo_frame(args.accounts, args.seed, args.cache)
    print(
        f"features: {frame.shape[0]} rows x {frame.shape[1]} columns "
        f"in {time.perf_counter() - start:.1f} s"
    )
    config = load_config()
    _, test = out_of_time_folds(frame, n_folds=config.n_folds, test_snapshots=config.test_snapshots)
    test_frame = frame.iloc[test]
    cutoff = test_frame["as_of"].min()
    train_frame = frame[trainable_before(frame, cutoff)]
    y_test = test_frame["label"].astype(int).to_numpy()

    def test_auc(params):
        model = ChurnModel(params=params, random_state=config.seed).fit(train_frame)
        return roc_auc_score(y_test, model.predict_proba(test_frame)[:, 1])

    rows, spread = [], None
    for pruning in (True, False):
        t0 = time.perf_counter()
        result = tune(
            frame,
            config=config,
            n_trials=args.trials,
            timeout=24 * 3600,
            pruning=pruning,
            progress=False,
        )
        seconds = time.perf_counter() - t0
        states = result.trials["state"].value_counts()
        best = result.study.best_trial
        rows.append(
            (
                "TPE + median pruner" if pruning else "TPE, no pruning",
                seconds,
                int(states.get("pruned", 0)),
                best.value,
                test_auc(best.user_attrs["params"]),
                result.selected,
                test_auc(result.best_params),
            )
        )
        print(rows[-1], result.selection, flush=True)
        if pruning:  # how well does a trial's mean fold AUC predict its test AUC?
            done = [t for t in result.study.trials if t.state.name == "COMPLETE"]
            spread = pd.DataFrame(
                {"fold": [t.value for t in done],
                 "test": [test_auc(t.user_attrs["params"]) for t in done]}
            )
    untuned = test_auc(None)
    oracle_auc = roc_auc_score(y_test, test_frame["contract_id"].map(oracle).to_numpy())
    print(
        f"\n{len(train_frame)} training rows before {cutoff.date()}, {len(test_frame)} test rows "
        f"({y_test.mean():.3f} churn)"
    )
    print("\n| run | wall time | pruned | best mean fold AUC | its test ROC-AUC "
          "| selected trial | its test ROC-AUC |")
    print("|---|---|---|---|---|---|---|")
    for name, seconds, pruned, best, auc, selected, selected_auc in rows:
        print(f"| {name} | {seconds:.0f} s | {pruned}/{args.trials} | {best:.4f} | {auc:.4f} "
              f"| {selected} | {selected_auc:.4f} |")
    print(f"| untuned defaults | – | – | – | {untuned:.4f} | | |")
    print(f"| oracle | – | – | – | {oracle_auc:.4f} | | |")
    print(
        f"\ncomplete trials of the pruned run: {len(spread)}; test ROC-AUC of their parameters "
        f"{spread.test.min():.4f}–{spread.test.max():.4f} (median {spread.test.median():.4f}); "
        f"Spearman correlation of mean fold AUC with test AUC "
        f"{spread.fold.corr(spread.test, method='spearman'):.2f}"
    )


if __name__ == "__main__":
    main()
