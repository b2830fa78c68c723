"""Benchmark: exact TreeSHAP backends and explain/score + write for 100,000 accounts.

A synthetic feature frame with the catalog's indicator columns (counts, shares, changes, flags, days,
three pandas categoricals, missing values) is drawn; a LightGBM model the size ``make demo`` trains
(400 trees, 31 leaves) is fitted on separate rows. Each measurement runs in its own child process so
its peak memory (max RSS, worker processes included) is its own:

- backends: ``native`` (LightGBM ``pred_contrib``, the reference), ``woodelf``, ``shap`` and
  ``fasttreeshap`` (if importable here, or in the interpreter given by ``--fasttreeshap-python``:
  it needs NumPy < 2), each compared with native: max |difference| in log-odds and top-3 driver
  agreement;
- end to end: ``score_frame`` (H5b) when it exists, else predict + :func:`explain_all`, then the
  Parquet writes of the scores/explanations/families.

Run: .venv/bin/python benchmarks/scoring.py [--rows 100000] [--shap-rows 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve()
CATEGORIES = {
    "segment": ["enterprise", "mid_market", "smb"],
    "lifecycle_stage": ["onboarding", "adoption", "mature", "renewal_window"],
    "touch_model": ["high_touch", "low_touch", "tech_touch"],
}


# ---------------------------------------------------------------------------- data and model
def indicator_ids() -> list[str]:
    """The packaged catalog's ids, or 60 stand-in names when the catalog is not built yet."""
    try:
        from churnml.features.catalog import load_catalog

        return list(load_catalog().ids)
    except Exception:  # noqa: BLE001 - the catalog lands separately
        kinds = ["count", "share", "change", "flag", "days", "score"]
        return [f"{k}_{i}" for i in range(9) for k in kinds][:57] + list(CATEGORIES)


def _column(name: str, n: int, rng) -> np.ndarray:
    if "change" in name or "slope" in name:
        return rng.lognormal(-0.05, 0.45, n) - 1
    if any(w in name for w in ("share", "utilization", "rate", "ratio", "progress")):
        return rng.beta(2, 2, n)
    if name.startswith(("no_", "flag")) or "_left_" in name or "detractor_1" in name:
        return (rng.random(n) < 0.12).astype(float)
    if "days" in name:
        return rng.exponential(60, n).round()
    if "score" in name or "nps" in name:
        return (
            rng.integers(-100, 101, n).astype(float)
            if "account" in name
            else rng.integers(0, 11, n)
        )
    return rng.poisson(rng.gamma(2, 5, n)).astype(float)


def make_features(ids: list[str], n: int, seed: int) -> pd.DataFrame:
    """One row per account with every indicator id; label from a sparse logistic with interactions."""
    rng = np.random.default_rng(seed)
    cols = {"account_id": [f"A{i:07d}" for i in range(n)], "as_of": pd.Timestamp("2026-06-01")}
    for name in ids:
        if name in CATEGORIES:
            cols[name] = pd.Categorical(
                rng.choice(CATEGORIES[name], n), categories=CATEGORIES[name]
            )
        else:
            x = _column(name, n, rng).astype(float)
            x[rng.random(n) < 0.05] = np.nan
            cols[name] = x
    frame = pd.DataFrame(cols)
    num = [c for c in ids if c not in CATEGORIES]
    z = frame[num].rank(pct=True).fillna(0.5).to_numpy() - 0.5
    w = np.random.default_rng(1).normal(0, 1.2, z.shape[1]) * (np.arange(z.shape[1]) % 3 == 0)
    logit = -2.1 + z @ w + 1.5 * z[:, 0] * z[:, 1] + 0.4 * (frame.get("segment") == "smb")
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def train(frame: pd.DataFrame, ids, trees: int, leaves: int):
    """A fitted ChurnModel (400 trees, no early stopping) when it exists, else a bare booster."""
    try:
        from churnml.model.estimator import ChurnModel
    except ImportError:
        ChurnModel = None
    if ChurnModel is not None:
        model = ChurnModel(
            n_estimators=trees, early_stopping_rounds=None, params={"num_leaves": leaves}
        )
        return model.fit(frame[ids], frame["label"])
    import lightgbm as lgb

    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "learning_rate": 0.05,
        "verbose": -1,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.8,
        "seed": 0,
    }
    return lgb.train(params, lgb.Dataset(frame[ids], frame["label"]), trees)


class StandInCatalog:
    """Sentences for the stand-in ids (used only until the real catalog lands)."""

    class Ind:
        def __init__(self, id):
            self.id, self.family, self.shape, self.unit = id, "usage", "count_window", ""
            self.direction = "none" if id in CATEGORIES else "up"
            self.risk_sentence = self.protective_sentence = f"{id} is {{value}}"
            self.description = id

        def render(self, kind, row):
            return f"{self.id} is {row.get(self.id)}"

    def __init__(self, ids):
        self._d = {i: self.Ind(i) for i in ids}
        self.ids = list(ids)

    def __getitem__(self, k):
        return self._d[k]


# ---------------------------------------------------------------------------- child measurements
def _rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def child(task: str, folder: Path, rows: int) -> None:
    import lightgbm as lgb

    features = pd.read_parquet(folder / "features.parquet").iloc[:rows]
    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    model = pickle.loads((folder / "model.pkl").read_bytes()) if task == "end_to_end" else None
    ids = booster.feature_name()
    if task in ("shap", "woodelf", "fasttreeshap"):
        __import__(task)  # import time is not explanation time
    loaded, _ = _rss_mb()
    t0 = time.perf_counter()
    if task == "fasttreeshap":
        import fasttreeshap

        # fasttreeshap takes no pandas categoricals: give it LightGBM's own codes (NaN = missing)
        X = features[ids].copy()
        for c in X.columns[X.dtypes == "category"]:
            X[c] = X[c].cat.codes.astype(float).where(X[c].notna())
        explainer = fasttreeshap.TreeExplainer(booster, algorithm="v1", n_jobs=os.cpu_count())
        values = np.asarray(explainer.shap_values(X, check_additivity=False))
        values = values[-1] if values.ndim == 3 else values
    elif task == "end_to_end":
        values = None
        end_to_end(model, features, folder)
    else:
        from churnml.explain.backends import contributions

        values, _ = contributions(booster, features[ids], backend=task)
    seconds = time.perf_counter() - t0
    own, kids = _rss_mb()
    if values is not None:
        np.save(folder / f"{task}.npy", values.astype(np.float64))
    print(
        json.dumps(
            {"seconds": seconds, "peak_mb": own, "worker_peak_mb": kids, "loaded_mb": loaded}
        )
    )


def end_to_end(model, features: pd.DataFrame, folder: Path) -> None:
    """``score_frame`` + atomic Parquet writes of scores, explanations and families.

    Before the scoring module exists: predict + ``explain_all`` + the same writes.
    """
    try:
        from churnml.scoring.atomic import write_parquet
        from churnml.scoring.score import score_frame
    except ImportError:
        score_frame = None
    if score_frame is not None and hasattr(model, "predict_proba"):
        result = score_frame(model, features)
        write_parquet(result.scores, folder / "scores.parquet")
        write_parquet(result.explanations, folder / "scores_explanations.parquet")
        write_parquet(result.families, folder / "scores_families.parquet")
        return
    from churnml.explain.contributions import explain_all

    booster = getattr(model, "booster_", model)
    try:
        from churnml.features.catalog import load_catalog

        catalog = load_catalog()
    except ImportError:
        catalog = StandInCatalog(booster.feature_name())
    ids = booster.feature_name()
    raw = booster.predict(features[ids], raw_score=True)
    ex = explain_all(booster, features, catalog=catalog)
    scores = features[["account_id", "as_of"]].assign(
        probability=1 / (1 + np.exp(-raw)), base_value=ex.base_value, log_odds=ex.log_odds
    )
    scores.to_parquet(folder / "scores.parquet")
    ex.reasons.to_parquet(folder / "scores_explanations.parquet")
    ex.families.to_parquet(folder / "scores_families.parquet")


def run_child(python: str, task: str, folder: Path, rows: int) -> dict | None:
    cmd = [python, str(HERE), "--child", task, "--folder", str(folder), "--rows", str(rows)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  {task}: failed: {error}", flush=True)
        return {"error": error}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- comparison
def agreement(values: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """Share of rows with the same top-3 drivers as ``ref`` (all rows; rows without near ties)."""
    order = np.argsort(-ref, axis=1)
    same = (np.sort(np.argsort(-values, axis=1)[:, :3], 1) == np.sort(order[:, :3], 1)).all(1)
    gap = np.take_along_axis(ref, order[:, 2:3], 1) - np.take_along_axis(ref, order[:, 3:4], 1)
    clear = gap[:, 0] > 1e-4
    return float(same.mean()), float(same[clear].mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--train-rows", type=int, default=30_000)
    ap.add_argument("--shap-rows", type=int, default=20_000, help="shap only calls pred_contrib")
    ap.add_argument("--trees", type=int, default=400)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--fasttreeshap-python", default=None)
    ap.add_argument(
        "--tasks", default="backends,end_to_end", help="backends and/or end_to_end (comma list)"
    )
    ap.add_argument("--child", default=None)
    ap.add_argument("--folder", default=None)
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.folder), args.rows)
        return

    from churnml.explain.backends import available_backends

    ids = indicator_ids()
    t0 = time.perf_counter()
    frame = make_features(ids, args.train_rows + args.rows, seed=0)
    model = train(frame.iloc[: args.train_rows], ids, args.trees, args.leaves)
    booster = getattr(model, "booster_", model)
    depth = max(_depth(t["tree_structure"]) for t in booster.dump_model()["tree_info"])
    print(
        f"{len(ids)} indicators, model {booster.num_trees()} trees x {args.leaves} leaves "
        f"(max depth {depth}), trained in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame.iloc[args.train_rows :].reset_index(drop=True).to_parquet(folder / "features.parquet")
        booster.save_model(str(folder / "model.txt"))
        (folder / "model.pkl").write_bytes(pickle.dumps(model))
        todo = set(args.tasks.split(","))
        tasks = [(b, args.rows, sys.executable) for b in available_backends() if b != "shap"]
        if "shap" in available_backends():
            tasks.append(("shap", args.shap_rows, sys.executable))
        fts = args.fasttreeshap_python or (sys.executable if _importable("fasttreeshap") else None)
        if fts:
            tasks.append(("fasttreeshap", args.rows, fts))
        if "backends" not in todo:
            tasks = []
        results = {}
        for task, rows, python in tasks:
            res = run_child(python, task, folder, rows)
            res["rows"] = rows
            results[task] = res
            if "error" not in res:
                print(
                    f"  {task:13s} {rows:>7,} rows {res['seconds']:7.1f} s  peak "
                    f"{max(res['peak_mb'], res['worker_peak_mb']):6.0f} MB",
                    flush=True,
                )
        ref = np.load(folder / "native.npy") if results else None
        print(
            "\n| backend | rows | time | per 100k rows | peak RSS (workers) | max abs diff vs native "
            "| same top-3 (no near ties) |\n|---|---|---|---|---|---|---|"
        )
        for task, res in results.items():
            if "error" in res:
                print(f"| {task} | {res['rows']:,} | failed: {res['error'][:90]} | | | | |")
                continue
            vals = np.load(folder / f"{task}.npy")
            diff = float(np.abs(vals - ref[: len(vals)]).max())
            agree, clear = agreement(vals, ref[: len(vals)])
            print(
                f"| {task} | {res['rows']:,} | {res['seconds']:.1f} s | "
                f"{res['seconds'] * 100_000 / res['rows']:.1f} s | {res['peak_mb']:.0f} MB "
                f"({res['worker_peak_mb']:.0f} MB) | {diff:.1e} | {agree:.2%} ({clear:.2%}) |"
            )
        if "end_to_end" not in todo:
            return
        e2e = run_child(sys.executable, "end_to_end", folder, args.rows)
        what = "score_frame" if _importable("churnml.scoring.score") else "predict + explain_all"
        if "error" not in e2e:
            print(
                f"\nend to end ({what} + Parquet writes), {args.rows:,} accounts: "
                f"{e2e['seconds']:.1f} s, peak {e2e['peak_mb']:.0f} MB "
                f"(workers {e2e['worker_peak_mb']:.0f} MB; {e2e['loaded_mb']:.0f} MB after loading)"
            )


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _depth(node):
    if "split_index" not in node:
        return 0
    return 1 + max(_depth(node["left_child"]), _depth(node["right_child"]))


if __name__ == "__main__":
    main()
