"""Benchmark: the churnml CLI on the demo data — `churnml score` end to end, the model load, and
`churnml train --trials 25` on one core and on every core (issue 14 items 4 and 5).

Each figure comes with its reference measured in the same run, as medians of ``--repeat`` runs
(commands run in child processes, in turn, so the machine's load falls on both alike):

1. ``churnml train --trials N --json`` in a fresh folder (a new SQLite MLflow store, as the first
   ``make demo`` training): wall time and CPU time (user + system of the child), pinned to one
   core (``taskset -c 0``: the reference; tuning then runs its batches of two trials one fold at
   a time in-process) and on every core (folds in worker processes). Both must select the same
   trial (same ``best_params``).
2. the import floor (reference): ``python -c "import mlflow, lightgbm, sklearn, pandas, duckdb"``;
3. ``churnml score`` of the demo's last snapshot with the ``@champion`` of run 1 (Parquet scores,
   Salesforce CSV, SQLite upsert), end to end, its model cache warm; the split from its manifest
   (load_model, load_data, score, indicator_history, write, crm) and, once, from a profile of the
   same command (imports, features, predict, explain);
4. the model load alone in a fresh process: through MLflow (``CHURNML_MODEL_CACHE=off``: resolve
   the alias, copy the artifacts, unpickle) against the cached version.

The load average before and after is printed: the machine is shared.

With ``--baseline-rev REV`` run 1 also trains with the code of git revision ``REV`` (a worktree,
on ``PYTHONPATH``), on every core: the speed-up over the code before a change, not only over one
core of the same code.

Run: .venv/bin/python benchmarks/cli.py [--data DIR] [--repeat 3] [--trials 25] [--no-train
     --store DIR | --no-score] [--baseline-rev REV]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
AS_OF = "2026-07-01"
IMPORTS = "import mlflow, lightgbm, sklearn, pandas, duckdb"
LOAD = "from churnml.model.registry import load_model; load_model('models:/churnml@champion')"
STEPS = ("tune_s", "features_s", "evaluate_s", "deploy_fit_s", "mlflow_s")  # train --json timings
PARTS = {  # profiled functions of `churnml score` -> the part of the split they stand for
    "imports": "(_find_and_load)",
    "features (build_population)": "(build_population)",
    "data checks (check_scoring_data)": "(check_scoring_data)",
    "predict (predict_proba)": "(predict_proba)",
    "explain (explain_all)": "(explain_all)",
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="demo data folder (default: generated, seed 7)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; medians shown")
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--no-train", action="store_true", help="score only (needs --store)")
    parser.add_argument("--store", help="folder with an mlflow.db holding churnml@champion")
    parser.add_argument("--no-score", action="store_true", help="train only")
    parser.add_argument("--baseline-rev", help="also train with the code of this git revision "
                        "(e.g. ed4e1f6, before tuning used every core), every core")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="churnml-bench-cli-") as tmp:
        tmp = Path(tmp)
        print(f"load average before: {_load()}")
        data = args.data or _generate(tmp / "data")
        store = Path(args.store) if args.store else None
        if not args.no_train:
            store = _train(data, tmp, args)
        if store is None:
            parser.error("--no-train needs --store")
        if not args.no_score:
            _score(data, store, tmp, args)
        print(f"load average after: {_load()}")


def _train(data, tmp: Path, args) -> Path:
    runs = {"one core (reference)": (["taskset", "-c", "0"], {}), "every core": ([], {})}
    if args.baseline_rev:  # the same command with the code of another revision
        source = tmp / "baseline"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(source),
                        args.baseline_rev], check=True, cwd=Path(__file__).parent)  # fmt: skip
        runs[f"every core, code of {args.baseline_rev}"] = ([], {"PYTHONPATH": str(source / "src")})
    out = {name: [] for name in runs}
    for k in range(args.repeat):
        for i, (name, (prefix, env)) in enumerate(runs.items()):
            folder = tmp / f"train-{k}-{i}"
            folder.mkdir()
            cmd = [*prefix, sys.executable, "-m", "churnml", "train", "--data", str(data),
                   "--trials", str(args.trials), "--json"]  # fmt: skip
            wall, cpu, stdout = _run(cmd, cwd=folder, env=env)
            result = json.loads(stdout)
            out[name].append((wall, cpu, result, folder))
            print(f"  train run {k + 1} {name}: {wall:.1f} s wall, {cpu:.1f} s CPU "
                  f"({cpu / wall:.2f} cores), steps {result.get('timings', {})}", flush=True)  # fmt: skip
    print(f"\nchurnml train --trials {args.trials} on the demo (medians of {args.repeat}):")
    print("| run | wall | CPU | cores used | tune | features | evaluate | deploy fit | MLflow |")
    print("|---|---|---|---|---|---|---|---|---|")
    walls = {}
    for name, rows in out.items():
        walls[name] = _median(r[0] for r in rows)
        cpu = _median(r[1] for r in rows)
        steps = {k: _median(r[2].get("timings", {}).get(k, 0) for r in rows) for k in STEPS}
        print(f"| {name} | {walls[name]:.1f} s | {cpu:.1f} s | {cpu / walls[name]:.2f} | "
              + " | ".join(f"{v:.1f} s" for v in steps.values()) + " |")  # fmt: skip
    one, every, *before = walls.values()
    print(f"ratio one core / every core: {one / every:.2f}x (goal >= 1.7x)")
    if before:
        print(f"ratio {list(walls)[2]} / every core: {before[0] / every:.2f}x")
    params = [json.dumps(r[2]["best_params"], sort_keys=True)
              for name, v in out.items() for r in v if "code of" not in name]  # fmt: skip
    print(f"same selected trial in all {len(params)} runs of this code: {len(set(params)) == 1}")
    if before:
        theirs = {json.dumps(r[2]["best_params"], sort_keys=True) for r in out[list(walls)[2]]}
        print(f"same selected trial as the code of {args.baseline_rev}: {theirs == set(params)}")
    if args.baseline_rev:
        subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "baseline")],
                       cwd=Path(__file__).parent, check=False)  # fmt: skip
    return out["every core"][0][3]


def _score(data, store: Path, tmp: Path, args) -> None:
    cache = tmp / "model-cache"
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}",
           "CHURNML_MODEL_CACHE": str(cache)}  # fmt: skip
    _run([sys.executable, "-c", IMPORTS])  # warm the file cache: every run below reads warm files
    floor = [_run([sys.executable, "-c", IMPORTS])[0] for _ in range(args.repeat)]
    cold = [_run([sys.executable, "-c", LOAD], env={**env, "CHURNML_MODEL_CACHE": "off"})[0]
            for _ in range(args.repeat)]  # fmt: skip
    _run([sys.executable, "-c", LOAD], env=env)  # fills the cache
    cached = [_run([sys.executable, "-c", LOAD], env=env)[0] for _ in range(args.repeat)]
    walls, manifests = [], []
    for k in range(args.repeat):
        wall, _, stdout = _run(_score_cmd(data, tmp / f"score-{k}"), env=env)
        walls.append(wall)
        manifests.append(json.loads(stdout).get("timings_seconds", {}))
    profile = _profile(_score_cmd(data, tmp / "score-profiled"), env, tmp / "score.prof")
    w, f = _median(walls), _median(floor)
    print(f"\nchurnml score on the demo ({AS_OF}, Parquet + Salesforce CSV + SQLite; medians of "
          f"{args.repeat}):")  # fmt: skip
    print("| measurement | time |\n|---|---|")
    print(f"| import floor (`{IMPORTS}`, reference) | {f:.2f} s |")
    print(f"| `churnml score` end to end, model cache warm | {w:.2f} s |")
    for step in manifests[0]:
        print(f"| — manifest step `{step}` | {_median(m[step] for m in manifests):.2f} s |")
    total = profile.pop("total under the profiler")
    for part, seconds in profile.items():
        print(f"| — {part}: {seconds / total:.0%} of a profiled run ({seconds:.2f} of "
              f"{total:.2f} s under cProfile) | ≈ {w * seconds / total:.2f} s |")  # fmt: skip
    print(f"| model load in a fresh process, through MLflow (cache off) | {_median(cold):.2f} s |")
    print(f"| model load in a fresh process, cached version | {_median(cached):.2f} s |")
    print(f"ratio score / import floor: {w / f:.2f}x (goal <= 2x, <= 5 s)")
    print(f"ratio model load MLflow / cached: {_median(cold) / _median(cached):.2f}x")


def _score_cmd(data, out: Path) -> list[str]:
    out.mkdir()
    return [str(BIN / "churnml"), "score", "--model", "models:/churnml@champion", "--data",
            str(data), "--as-of", AS_OF, "--out", str(out / "scores.parquet"), "--crm-preset",
            "salesforce", "--crm-out", str(out / "crm.csv"), "--db",
            f"sqlite:///{out / 'crm.db'}", "--json"]  # fmt: skip


def _profile(cmd, env, path: Path) -> dict:
    """Cumulative seconds of the functions in :data:`PARTS` in one profiled run of ``cmd``."""
    import pstats

    _run([sys.executable, "-m", "cProfile", "-o", str(path), *cmd], env=env)
    stats = pstats.Stats(str(path)).stats
    total = max(v[3] for v in stats.values())
    out = {"total under the profiler": total}
    for part, pattern in PARTS.items():
        found = [v[3] for (file, line, name), v in stats.items()
                 if pattern in f"{file}:{line}({name})"]  # fmt: skip
        out[part] = max(found, default=0.0)
    return out


def _run(cmd, cwd=None, env=None):
    """Run ``cmd``; ``(wall seconds, CPU seconds of the child, stdout)``; raise on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _generate(folder: Path) -> Path:
    cmd = [str(BIN / "churnml"), "generate", "--accounts", "2000", "--months", "24", "--seed",
           "7", "--out", str(folder)]  # fmt: skip
    wall, _, _ = _run(cmd)
    print(f"demo data generated in {wall:.1f} s")
    return folder


def _median(values) -> float:
    return float(statistics.median(list(values)))


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    if shutil.which("taskset") is None:
        sys.exit("benchmarks/cli.py needs taskset (util-linux) to pin the reference run")
    main()
