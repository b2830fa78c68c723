"""Benchmark: what logging each Optuna trial as a nested MLflow run costs the tuning loop.

Trials here do no work (a constant objective), so the time they take is the logging overhead
itself. Three runs of the same study, in this process, against one store:

- reference: no MLflow;
- ``TrialRuns`` (what ``train`` and ``churnml tune`` use): the callback queues the finished trial
  and a background thread writes the nested run (create, one batch, terminate);
- synchronous: the same three calls made in the callback, on the tuning thread.

Reported: wall time of ``study.optimize`` per trial (the overhead the next trial waits for), and
for ``TrialRuns`` the extra wait at the end until every queued run is written. A warm-up study
with synchronous logging runs first (the server's first requests are slow). Stores: a local
SQLite store, and an ``mlflow server`` on 127.0.0.1 (``tests/services/mlflow_server.py``) unless
``--no-server``.

Run: .venv/bin/python benchmarks/trial_logging.py [--trials 40] [--no-server]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_store(uri: str, trials: int) -> dict:
    import mlflow
    import optuna

    from churnml.model.tracking import TrialRuns, configure, log_trial
    from churnml.model.tuning import trial_row

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    experiment = configure(uri)
    client = mlflow.MlflowClient(uri)

    def objective(trial):
        for name in ("a", "b", "c", "d", "e", "f", "g", "h"):  # as many parameters as churnml's
            trial.suggest_float(name, 0.0, 1.0)
        trial.set_user_attr("fold_auc", [0.7, 0.71, 0.72, 0.73])
        return 0.7

    def optimize(callbacks=()):
        study = optuna.create_study(direction="maximize")
        start = time.perf_counter()
        study.optimize(objective, n_trials=trials, callbacks=list(callbacks))
        return time.perf_counter() - start

    parent = client.create_run(experiment, run_name="bench-sync").info.run_id
    optimize([lambda s, t: log_trial(client, trial_row(t), parent, experiment)])  # warm-up
    out = {"reference": optimize()}
    out["sync"] = optimize([lambda s, t: log_trial(client, trial_row(t), parent, experiment)])
    client.set_terminated(parent)
    runs = TrialRuns(uri, run_name="bench-async")
    out["async"] = optimize([runs])
    start = time.perf_counter()
    runs.finish()
    out["async_drain"] = time.perf_counter() - start
    return out


def report(label: str, r: dict, trials: int) -> str:
    per = {k: 1000 * v / trials for k, v in r.items()}
    return (
        f"| {label} | {per['reference']:.1f} ms | {per['async']:.1f} ms "
        f"(+{per['async'] - per['reference']:.1f}) | {per['sync']:.1f} ms "
        f"(+{per['sync'] - per['reference']:.1f}) | {r['async_drain']:.2f} s |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        rows.append(report("local SQLite", one_store(f"sqlite:///{tmp}/mlflow.db", args.trials),
                           args.trials))  # fmt: skip
    if not args.no_server:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from services.mlflow_server import mlflow_server

        with mlflow_server() as uri, tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            rows.append(report("mlflow server (HTTP, 127.0.0.1)", one_store(uri, args.trials),
                               args.trials))  # fmt: skip
    print(f"{args.trials} trials that do no work; time per trial on the tuning thread")
    print("| store | no MLflow | TrialRuns (queued) | synchronous | drain at end |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
