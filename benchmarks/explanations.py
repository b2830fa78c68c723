"""Benchmark: do the stated reasons name the true cause of churn? (issue 16.2)

A model is trained like ``churnml train`` (no MLflow) on one synthetic world and judged on
another (a different seed) it never saw. For the latest snapshot of every renewal term that
truly churned there, three family rankings are compared with the world's primary driver, mapped
onto the catalog's families (:data:`churnml.data.synthetic.causes.DRIVER_FAMILY`: adoption →
usage, relationship → champion, support → support, value → value, sentiment → nps,
commercial → contract):

- model: the family with the largest summed contribution (``churnml.explain``);
- health score: the scorecard's weakest component (:class:`churnml.model.baselines.HealthScore`);
- permutation: one global ranking of families by permutation importance on the unseen world.

It prints the top-1 and top-2 hit rates of each, the mix of true causes, and the diversity of the
red list (share of the most common top reason, top family and play among red accounts over the
unseen world's last six monthly scoring dates). Targets: model top-1 >= 0.6, top-2 >= 0.8, ahead
of both baselines; no top reason on more than 40 % of red accounts.

Run: .venv/bin/python benchmarks/explanations.py [--accounts 2000] [--months 24] [--trials 25]
"""

from __future__ import annotations

import argparse
import time
import warnings

TARGETS = {"top1": 0.6, "top2": 0.8, "red_share": 0.4}


def measure(n_accounts=2000, months=24, trials=25, *, train_seed=7, test_seed=8, dates=6) -> dict:
    """Train on ``train_seed``'s world, explain ``test_seed``'s
    (:func:`churnml.data.synthetic.truth.measure_explanations`), timed."""
    from churnml.data.synthetic import make_saas
    from churnml.data.synthetic.truth import measure_explanations

    clock = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = measure_explanations(
            make_saas(n_accounts, months, seed=train_seed),
            make_saas(n_accounts, months, seed=test_seed),
            trials=trials,
            dates=dates,
        )
    return out | {"seconds": time.perf_counter() - clock}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--trials", type=int, default=25)
    args = parser.parse_args()
    out = measure(args.accounts, args.months, args.trials)
    print(f"{args.accounts} accounts x {args.months} months, {args.trials} trials, "
          f"train seed 7, unseen seed 8: {out['seconds']:.0f} s")
    print("\nhit rates on the unseen world's churned terms (latest snapshot before the decision):")
    print(out["hits"].to_string(float_format="%.3f"))
    print("\ntrue primary family of those churns:", out["causes"].round(3).to_dict())
    print("permutation importance (ROC-AUC drop):", out["permutation"].round(4).to_dict())
    print("\nred list:", out["red"])
    model = out["hits"].loc["model"]
    ahead = all(model[k] > out["hits"].loc[b, k] for b in ("health_score", "permutation")
                for k in ("top1", "top2"))
    print(f"\nbar: top-1 {model['top1']:.3f} >= {TARGETS['top1']}: {model['top1'] >= TARGETS['top1']}; "
          f"top-2 {model['top2']:.3f} >= {TARGETS['top2']}: {model['top2'] >= TARGETS['top2']}; "
          f"ahead of both baselines: {ahead}; top reason share "
          f"{out['red']['reason_code_1_share']:.3f} <= {TARGETS['red_share']}: "
          f"{out['red']['reason_code_1_share'] <= TARGETS['red_share']}")


if __name__ == "__main__":
    main()
