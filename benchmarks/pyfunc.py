"""Benchmark: what the portable pyfunc's input handling costs, and packing churnml's wheel.

The registered model's signature names every feature column with MLflow's ``Any`` type, so that
churnml's own feature frame (ints, bools, strings, categoricals) passes; MLflow then checks ``Any``
columns value by value in Python. Measured in the same run on the same rows (the 400-tree x
31-leaf model and the indicator frame of ``benchmarks/scoring.py``, trained on 30,000 other rows):

- ``ChurnModel.predict_proba`` on the frame (the reference: what ``churnml score`` does);
- the pyfunc with the ``Any`` signature, through ``mlflow.pyfunc.load_model(...).predict``;
- the pyfunc with the former typed signature (float64 numbers, string categories), fed a frame
  already converted to exactly those types (the only input it accepted).

Also the time and size of :func:`churnml.model.wheel.build_wheel` (run at every training).

Run: .venv/bin/python benchmarks/pyfunc.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _bench_scoring():
    spec = importlib.util.spec_from_file_location("bench_scoring", HERE / "scoring.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def saved_pyfunc(folder: Path, model, signature, example):
    import mlflow

    from churnml.model.config import load_config
    from churnml.model.pyfunc import ChurnPyfunc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.pyfunc.save_model(
            folder,
            python_model=ChurnPyfunc(model, None, load_config()),
            signature=signature,
            input_example=example,
        )
    return mlflow.pyfunc.load_model(str(folder))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # "extra inputs ... ignored", per call

    from mlflow.models import infer_signature

    from churnml.model.pyfunc import model_signature, signature_frame
    from churnml.model.wheel import build_wheel

    scoring = _bench_scoring()
    ids = scoring.indicator_ids()
    model = scoring.train(scoring.make_features(ids, 30_000, seed=1), ids, 400, 31)
    frame = scoring.make_features(ids, args.rows, seed=2)
    typed = signature_frame(model, frame)  # float64 numbers, categories as strings
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        wheel = build_wheel(tmp)
        wheel_s, wheel_mb = time.perf_counter() - started, wheel.stat().st_size / 1e6
        anything = saved_pyfunc(tmp / "any", model, model_signature(model), typed.head(5))
        output = anything.predict(typed.head(5))
        old = infer_signature(typed.head(500), output)
        former = saved_pyfunc(tmp / "typed", model, old, typed.head(5))

        reference = best_of(lambda: model.predict_proba(frame), args.repeat)
        any_s = best_of(lambda: anything.predict(frame), args.repeat)
        typed_s = best_of(lambda: former.predict(typed), args.repeat)
    n = f"{args.rows:,}"
    print(f"rows {n}, {len(model.feature_names_in_)} features")
    print(f"ChurnModel.predict_proba (reference):          {reference:7.2f} s")
    print(f"pyfunc, Any signature, the feature frame:      {any_s:7.2f} s  "
          f"({any_s / reference:.1f}x reference, {1e6 * (any_s - reference) / args.rows:.0f} µs/row)")
    print(f"pyfunc, former typed signature, typed frame:   {typed_s:7.2f} s  "
          f"({typed_s / reference:.1f}x reference)")
    print(f"build_wheel: {wheel_s:.2f} s, {wheel_mb:.2f} MB")


if __name__ == "__main__":
    main()
