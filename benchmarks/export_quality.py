"""Benchmark: model quality on the subscription-shaped export vs the same world's native tables.

The demo world (``make_saas(2000, 24, seed=7)``) is written twice: as the native tables (contracts
with outcomes, ``label: auto`` -> renewal) and as a subscription billing export read through its
mapping (``label: auto`` -> window: churn within 180 days after as_of). Both are trained like
``churnml train`` (no MLflow) and evaluated on their own out-of-time test rows beside the
logistic baseline, the health scorecard and the oracle (the world's true probability for that
label). The bar for the export: ratio to the oracle >= 0.90, ahead of both baselines.

Run: .venv/bin/python benchmarks/export_quality.py [--trials 25] [--only export|native]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path


def run(folder, mapping, trials):
    from churnml.model.training import train

    clock = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = train(folder, mapping=mapping, trials=trials, log=False, progress=False)
    return result, time.perf_counter() - clock


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--only", choices=["export", "native"])
    args = parser.parse_args()

    from churnml.data.load import write_tables
    from churnml.data.synthetic import export_subscriptions, make_saas
    from churnml.data.synthetic.export import MAPPING

    native = make_saas(n_accounts=2000, months=24, seed=7)
    with tempfile.TemporaryDirectory(prefix="churnml-export-") as tmp:
        runs = {}
        if args.only != "export":
            write_tables(native, Path(tmp) / "native")
            runs["native (contracts, renewal label)"] = (Path(tmp) / "native", None)
        if args.only != "native":
            write_tables(export_subscriptions(native, seed=7), Path(tmp) / "export")
            (Path(tmp) / "mapping.yaml").write_text(MAPPING)
            runs["export (subscriptions, window label)"] = (Path(tmp) / "export", Path(tmp) / "mapping.yaml")
        for name, (folder, mapping) in runs.items():
            result, seconds = run(folder, mapping, args.trials)
            audit = result.label_audit.summary
            table = result.table()
            print(f"\n## {name}: {args.trials} trials, {seconds:.0f} s")
            print(f"label {audit['label']} ({audit['label_reason']}); {audit['rows']:,} rows, "
                  f"{audit['resolved']:,} resolved, base rate {audit['base_rate']:.3f}")
            print(result.summary().split("\nMLflow run:")[0])
            model = table.loc["model"]
            ahead = all(model[m] > table.loc[b, m] for b in ("logistic", "health_score")
                        for m in ("roc_auc", "pr_auc"))
            ratio = model.get("ratio_to_oracle", float("nan"))
            print(f"bar: ratio to oracle {ratio:.3f} (>= 0.90: {ratio >= 0.90}); "
                  f"ahead of both baselines on ROC-AUC and PR-AUC: {ahead}")


if __name__ == "__main__":
    main()
