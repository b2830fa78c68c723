"""The pyfunc's signature takes churnml's own feature frame as it arrives from a DataFrame or a CSV.

A small ``ChurnModel`` saved as a pyfunc with :func:`churnml.model.pyfunc.model_signature`, loaded
back through MLflow (which enforces the signature before ``predict``). The full path, a registered
model served from a fresh environment, is in ``test_portable.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

#: a float, an int32, a 0/1 flag and the three categoricals of the catalog
FEATURES = [
    "events_30d",
    "events_change_30d",
    "tickets_90d",
    "open_tickets",
    "no_executive_sponsor",
    "days_to_renewal",
    "arr",
    "segment",
    "touch_model",
    "lifecycle_stage",
]


@pytest.fixture(scope="module")
def served(features_small, tmp_path_factory):
    import mlflow

    from churnml.model.config import load_config
    from churnml.model.estimator import ChurnModel
    from churnml.model.pyfunc import ChurnPyfunc, model_signature, signature_frame

    model = ChurnModel(n_estimators=40, feature_columns=FEATURES, calibration=None)
    model.fit(features_small)
    path = tmp_path_factory.mktemp("pyfunc") / "model"
    mlflow.pyfunc.save_model(
        path,
        python_model=ChurnPyfunc(model, None, load_config()),
        signature=model_signature(model),
        input_example=signature_frame(model, features_small.head(5)),
    )
    return model, mlflow.pyfunc.load_model(str(path))


def test_signature_names_every_feature_of_any_type(served, features_small):
    model, loaded = served
    inputs = loaded.metadata.get_input_schema()
    assert inputs.input_names() == list(model.feature_names_in_)
    assert {type(t).__name__ for t in inputs.input_types()} == {"AnyType"}
    assert inputs.required_input_names() == list(model.feature_names_in_)
    out = loaded.predict(features_small.head(5))
    outputs = loaded.metadata.get_output_schema()
    assert outputs.input_names() == list(out.columns)
    assert [t.name for t in outputs.input_types()] == ["double", "long", "string"]
    assert out["probability"].dtype == np.float64 and out["score"].dtype == np.int64
    assert pd.api.types.is_string_dtype(out["tier"])


def test_predicts_the_feature_frame_as_built(served, features_small):
    model, loaded = served
    frame = features_small.tail(200)  # float32, int32, category, str keys, Int8 label, dates
    assert isinstance(frame["segment"].dtype, pd.CategoricalDtype)
    assert frame["days_to_renewal"].dtype.kind == "i"
    out = loaded.predict(frame)
    np.testing.assert_allclose(out["probability"], model.predict_proba(frame)[:, 1], rtol=1e-12)
    assert list(out.columns) == ["probability", "score", "tier"] and out.index.equals(frame.index)


def test_predicts_a_csv_of_it_and_bool_and_string_columns(served, features_small, tmp_path):
    model, loaded = served
    frame = features_small.tail(200).astype({"events_30d": "float64", "arr": "float64"})
    frame["no_executive_sponsor"] = frame["no_executive_sponsor"].fillna(0).astype(bool)
    frame["open_tickets"] = frame["open_tickets"].fillna(0).astype("int64")
    frame.to_csv(tmp_path / "features.csv", index=False)
    csv = pd.read_csv(tmp_path / "features.csv")  # int64, bool, float64, strings
    assert csv["days_to_renewal"].dtype == np.int64 and csv["no_executive_sponsor"].dtype == bool
    expected = model.predict_proba(frame)[:, 1]
    np.testing.assert_allclose(loaded.predict(csv)["probability"], expected, rtol=1e-6)
    np.testing.assert_allclose(loaded.predict(frame)["probability"], expected, rtol=1e-12)


def test_missing_feature_column_is_refused_by_name(served, features_small):
    from mlflow.exceptions import MlflowException

    _, loaded = served
    with pytest.raises(MlflowException, match="touch_model"):
        loaded.predict(features_small.drop(columns=["touch_model"]).head(5))
