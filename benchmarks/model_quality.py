"""Benchmark: the untuned ChurnModel against its own baselines on five tables (issue 17).

Tables (``benchmarks/quality_tables.py``): IBM Telco from ``../shared/data`` and four synthetic
regimes — ``linear_2k`` (near-linear signal), ``interactions_5k`` (categorical interactions),
``rare_10k`` (7 % positives), ``irrelevant_3k`` (126 noise columns). Every table gets 5-fold
stratified CV (``random_state=0``) and every model the same folds in the same run:

* ``ChurnModel`` — untuned defaults (``blend="auto"``), as a user gets it;
* ``ChurnModel, booster alone`` — ``blend=False``, to show what the blend adds;
* ``logistic regression`` — the project's baseline pipeline (:func:`logistic_baseline`);
* ``LightGBM defaults`` — ``lightgbm.LGBMClassifier()`` untouched (100 trees, 31 leaves), string
  columns as pandas categoricals.

Per table and model: mean fold ROC-AUC (± fold sd), PR-AUC, Brier score, fit + predict seconds per
fold, and for ChurnModel the gap to the best baseline (the better of logistic and LightGBM by mean
ROC-AUC) as the mean of the paired per-fold differences ± its standard error (sd / sqrt(5)).
The bar: the untuned ChurnModel at or above the best baseline within one standard error on every
table, and ahead on most.

``--demo`` also runs ``churnml.train`` on the demo data (``make_saas(2000, 24, seed=7)``, 25 trials,
no MLflow) and prints its out-of-time summary.

Run: .venv/bin/python benchmarks/model_quality.py [--tables telco,linear_2k] [--demo] [--trials 25]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_tables import TABLES

from churnml.model.baselines import logistic_baseline
from churnml.model.estimator import ChurnModel

BASELINES = ("logistic regression", "LightGBM defaults")
MODEL = "ChurnModel"


class DefaultLightGBM:
    """``LGBMClassifier()`` with its defaults; text columns become pandas categoricals."""

    def fit(self, X, y):
        import lightgbm as lgb

        self.levels_ = {
            c: sorted(X[c].dropna().astype(str).unique())
            for c in X.columns
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
        }
        self.model_ = lgb.LGBMClassifier(verbose=-1, random_state=0, n_jobs=1)
        self.model_.fit(self._frame(X), y)
        return self

    def _frame(self, X):
        X = X.copy()
        for c, levels in self.levels_.items():
            X[c] = pd.Categorical(X[c].astype(object).where(X[c].notna(), None), categories=levels)
        return X.astype({c: float for c in X.columns if pd.api.types.is_bool_dtype(X[c])})

    def predict_proba(self, X):
        return self.model_.predict_proba(self._frame(X))


MODELS = {
    MODEL: lambda: ChurnModel(),
    "ChurnModel, booster alone": lambda: ChurnModel(blend=False),
    "logistic regression": logistic_baseline,
    "LightGBM defaults": DefaultLightGBM,
}


def cross_validate(X, y, folds=5):
    """One row per (model, fold): roc_auc, pr_auc, brier, seconds, blend (ChurnModel)."""
    rows = []
    splits = StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y)
    for fold, (train, test) in enumerate(splits):
        for name, make in MODELS.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = make().fit(X.iloc[train], y[train])
                p = model.predict_proba(X.iloc[test])[:, 1]
            rows.append(
                {
                    "model": name,
                    "fold": fold,
                    "roc_auc": roc_auc_score(y[test], p),
                    "pr_auc": average_precision_score(y[test], p),
                    "brier": brier_score_loss(y[test], p),
                    "seconds": time.perf_counter() - start,
                    "blend": getattr(getattr(model, "blend_", None), "chosen", None),
                }
            )
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per-model means and ChurnModel's paired gap to the best baseline."""
    auc = results.pivot(index="fold", columns="model", values="roc_auc")
    table = results.groupby("model", sort=False).agg(
        roc_auc=("roc_auc", "mean"),
        roc_sd=("roc_auc", "std"),
        pr_auc=("pr_auc", "mean"),
        brier=("brier", "mean"),
        seconds=("seconds", "mean"),
    )
    best = max(BASELINES, key=lambda b: auc[b].mean())
    gaps = {}
    for name in (MODEL, "ChurnModel, booster alone"):
        diff = auc[name] - auc[best]
        gaps[name] = (diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff)))
    blends = results.loc[results["model"] == MODEL, "blend"]
    info = {
        "best": best,
        "gaps": gaps,
        "blend": int((blends == "blend").sum()),
        "folds": len(blends),
    }
    return table, info


def verdict(gap, se) -> str:
    if gap > se:
        return "ahead"
    if gap >= -se:
        return "within 1 SE"
    return "behind"


def markdown(name, X, y, table, info) -> str:
    lines = [
        (
            f"**{name}** — {len(X):,} rows, {X.shape[1]} features, {y.mean():.1%} positive; "
            f"best baseline: {info['best']}; ChurnModel blended in {info['blend']} of "
            f"{info['folds']} folds"
        ),
        "",
        "| model | ROC-AUC (mean ± sd) | gap to best baseline ± SE | PR-AUC | Brier | s/fold |",
        "|---|---|---|---|---|---|",
    ]
    for model, row in table.iterrows():
        gap = info["gaps"].get(model)
        gap_text = f"{gap[0]:+.4f} ± {gap[1]:.4f} ({verdict(*gap)})" if gap else "–"
        lines.append(
            f"| {model} | {row.roc_auc:.4f} ± {row.roc_sd:.4f} | {gap_text} | {row.pr_auc:.4f} | "
            f"{row.brier:.4f} | {row.seconds:.2f} |"
        )
    return "\n".join(lines)


def paired_bootstrap_se(y, a, b, groups, replicates=500, seed=0) -> float:
    """Standard error of ROC-AUC(a) - ROC-AUC(b) on the same rows, resampling whole groups
    (an account's snapshots together) by weighting each row with its group's draw count."""
    rng = np.random.default_rng(seed)
    _, group = np.unique(groups, return_inverse=True)
    n = group.max() + 1
    diffs = []
    for _ in range(replicates):
        weight = np.bincount(rng.integers(0, n, n), minlength=n)[group]
        diffs.append(
            roc_auc_score(y, a, sample_weight=weight) - roc_auc_score(y, b, sample_weight=weight)
        )
    return float(np.std(diffs, ddof=1))


def demo(trials: int) -> str:
    """``churnml.train`` on the demo data (no MLflow): the out-of-time summary table and the
    model's lead over each baseline with its account-bootstrap standard error."""
    import tempfile

    from churnml.data.load import write_tables
    from churnml.datasets import make_saas
    from churnml.model.training import train

    with tempfile.TemporaryDirectory() as folder:
        write_tables(make_saas(n_accounts=2000, months=24, seed=7), folder)
        start = time.perf_counter()
        result = train(folder, trials=trials, log=False, progress=False)
        seconds = time.perf_counter() - start
    text = result.table().to_string(float_format=lambda v: f"{v:.4f}", na_rep="-")
    test = result.features.iloc[result.test_index]
    y = test["label"].astype(int).to_numpy()
    p = result.evaluation.predictions
    leads = [
        f"model - {name} ROC-AUC {roc_auc_score(y, p['model']) - roc_auc_score(y, p[name]):+.4f} "
        f"(account-bootstrap SE {paired_bootstrap_se(y, p['model'], p[name], test['account_id']):.4f})"
        for name in ("logistic", "health_score")
    ]
    return "\n".join(
        [
            f"demo, {trials} trials, {seconds:.0f} s",
            text,
            *leads,
            f"evaluated model: {result.holdout_model.blend_.reason}",
            f"deployed model: {result.model.blend_.reason}",
            f"Tuning: {result.tune_result.selection}",
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--trials", type=int, default=25)
    args = parser.parse_args()
    summary = []
    for name in [t for t in args.tables.split(",") if t]:
        X, y = TABLES[name]()
        start = time.perf_counter()
        table, info = summarise(cross_validate(X, y, args.folds))
        print(markdown(name, X, y, table, info), flush=True)
        print(f"({time.perf_counter() - start:.0f} s)\n", flush=True)
        gap, se = info["gaps"][MODEL]
        summary.append(
            f"| {name} | {table.loc[MODEL, 'roc_auc']:.4f} | {info['best']} "
            f"{table.loc[info['best'], 'roc_auc']:.4f} | {gap:+.4f} ± {se:.4f} | {verdict(gap, se)} |"
        )
    if summary:
        print("| table | ChurnModel ROC-AUC | best baseline | gap ± SE | verdict |")
        print("|---|---|---|---|---|")
        print("\n".join(summary))
    if args.demo:
        print()
        print(demo(args.trials))


if __name__ == "__main__":
    main()
