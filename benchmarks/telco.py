"""Benchmark: ChurnModel (tabular mode, untuned defaults) vs logistic regression on IBM Telco churn.

5-fold stratified CV (the data has no time axis, one row per customer) on
``../shared/data/telco_customer_churn.csv``; both models see the same folds in the same run.
String columns go to ChurnModel as they are (it learns their levels); blank ``TotalCharges`` /
``MonthlyCharges`` stay missing. ``customerID`` is dropped. Target: ROC-AUC >= 0.845.

Run: .venv/bin/python benchmarks/telco.py [--csv PATH] [--folds 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churnml.model.baselines import logistic_baseline
from churnml.model.estimator import ChurnModel

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "telco_customer_churn.csv"


def load(path):
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    y = (raw.pop("Churn").str.strip() == "Yes").astype(int).to_numpy()
    raw = raw.drop(columns="customerID")
    X = raw.apply(lambda s: s.str.strip()).replace("", np.nan)
    for c in ("SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"):
        X[c] = pd.to_numeric(X[c], errors="coerce")
    return X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=DEFAULT_CSV)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    X, y = load(args.csv)
    print(
        f"{len(X)} rows, {X.shape[1]} features, churn rate {y.mean():.3f}, "
        f"missing cells {int(X.isna().sum().sum())}"
    )
    models = {
        "ChurnModel (defaults)": lambda: ChurnModel(),
        "ChurnModel, uncalibrated": lambda: ChurnModel(calibration=None),
        "logistic regression": lambda: logistic_baseline(),
    }
    results = {name: [] for name in models}
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=0).split(X, y)
    for train, test in folds:
        for name, make in models.items():
            start = time.perf_counter()
            model = make().fit(X.iloc[train], y[train])
            p = model.predict_proba(X.iloc[test])[:, 1]
            seconds = time.perf_counter() - start
            results[name].append(
                (
                    roc_auc_score(y[test], p),
                    average_precision_score(y[test], p),
                    brier_score_loss(y[test], p),
                    seconds,
                )
            )
    print("\n| model | ROC-AUC (mean ± sd) | PR-AUC | Brier | fit+predict s/fold |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        a = np.array(rows)
        print(
            f"| {name} | {a[:, 0].mean():.4f} ± {a[:, 0].std():.4f} | {a[:, 1].mean():.4f} | "
            f"{a[:, 2].mean():.4f} | {a[:, 3].mean():.2f} |"
        )


if __name__ == "__main__":
    main()
