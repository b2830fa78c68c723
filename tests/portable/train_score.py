"""Run by tests/test_portable.py with the python of a fresh environment holding churnml's wheel.

Synthetic data (300 accounts, 18 months), a 1-trial training into the SQLite store
``<work>/mlflow.db``, a copy of the registered model's folder, the feature frame the served model
is tried on (with boolean, integer, string and categorical columns) and the probabilities
``ChurnModel`` gives it, and one scoring run for ``churnml report``. Prints a JSON summary last.
"""

import json
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

import churnml
from churnml.cli import main as cli
from churnml.scoring.run import run_score

work = Path(sys.argv[1])
data, store = work / "data", f"sqlite:///{work / 'mlflow.db'}"
cli(["generate", "--accounts", "300", "--months", "18", "--seed", "3", "--out", str(data)])
tables = churnml.load_tables(data)
result = churnml.train(tables, trials=1, tracking_uri=store, progress=False, figures=False)
if not result.promoted:  # one trial on small data may not pass the champion gate
    from churnml.model.registry import promote

    promote("churnml", result.model_version)
model_dir = mlflow.artifacts.download_artifacts(result.model_uri, dst_path=str(work / "model"))

as_of = tables["usage"]["ts"].max().tz_localize(None).normalize().replace(day=1)
spine = churnml.make_spine(tables, start=as_of - pd.DateOffset(months=2), end=as_of)
typed = churnml.build_features(tables, spine)  # int32, float32, category, str, Int8, datetime
typed["no_executive_sponsor"] = typed["no_executive_sponsor"].fillna(0).astype(bool)
typed["open_tickets"] = typed["open_tickets"].fillna(0).astype("int64")
typed["touch_model"] = typed["touch_model"].astype(object)  # strings, not a categorical
typed.to_parquet(work / "typed.parquet")
# a CSV holds text, not dtypes: float32 written as float64 so that it reads back exactly
wide = {c: "float64" for c in typed.columns if typed[c].dtype == np.float32}
typed.astype(wide).to_csv(work / "features.csv", index=False)
np.save(work / "expected.npy", result.model.predict_proba(typed)[:, 1])

run_score(result.model_uri, data, as_of, work / "scores.parquet", progress=False)
summary = {
    "churnml_file": churnml.__file__,
    "version": churnml.__version__,
    "model_uri": result.model_uri,
    "model_dir": model_dir,
    "promoted": result.promoted,
}
print(json.dumps(summary))
