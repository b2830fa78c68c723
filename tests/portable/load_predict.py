"""Run by tests/test_portable.py with the python of an environment built from the registered
model's requirements.txt alone: load ``models:/churnml@champion`` as a pyfunc and predict the
typed feature frame (argv[1], Parquet). Prints a JSON summary last."""

import json
import sys

import mlflow
import pandas as pd

import churnml

frame = pd.read_parquet(sys.argv[1])
out = mlflow.pyfunc.load_model("models:/churnml@champion").predict(frame)
kinds = {
    "bool": pd.api.types.is_bool_dtype,
    "integer": pd.api.types.is_integer_dtype,
    "category": lambda t: isinstance(t, pd.CategoricalDtype),
    "string": lambda t: pd.api.types.is_string_dtype(t) and not isinstance(t, pd.CategoricalDtype),
}
summary = {
    "churnml_file": churnml.__file__,
    "sys_path": sys.path,
    "columns": {k: [c for c, t in frame.dtypes.items() if is_a(t)] for k, is_a in kinds.items()},
    "probability": out["probability"].tolist(),
    "tier": out["tier"].tolist(),
}
print(json.dumps(summary))
