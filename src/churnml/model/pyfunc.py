"""The MLflow pyfunc flavour of a trained renewal-risk model.

:class:`ChurnPyfunc` holds the fitted :class:`~churnml.model.estimator.ChurnModel` (booster +
calibrator + feature list + category levels), the indicator catalog (reason templates) and the
model config (tier thresholds, capacity). ``predict`` takes the feature frame and returns
``probability``, ``score`` (0–100) and ``tier`` per row. For the full object use
:func:`churnml.model.registry.load_model`.

The input is churnml's own feature frame (:func:`churnml.build_features`) or any table with its
feature columns, as it arrives from a DataFrame, a CSV or JSON: a count may come as an integer, a
flag as a boolean, a category as a pandas categorical or a string. The signature therefore names
every feature column as required with MLflow's ``Any`` type (a ``double`` column refuses int64,
a ``string`` column refuses a categorical); :meth:`ChurnModel.prepare` does the conversion, with
unknown categories as missing. Other columns (``account_id``, ``as_of``, ``label``) are ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


def signature_frame(model, X: pd.DataFrame) -> pd.DataFrame:
    """``X``'s feature columns in the pyfunc's input format: numbers as float64, categorical
    features as strings (missing = None). Used for the signature and the input example."""
    frame = model.prepare(X)
    out = {}
    for column in frame.columns:
        s = frame[column]
        if column in model.categories_:
            out[column] = s.astype(object).where(s.notna(), None)
        else:
            out[column] = s.astype("float64")
    return pd.DataFrame(out, index=X.index)


def model_signature(model):
    """The pyfunc's signature: each of ``model``'s feature columns required, of any type; out
    ``probability`` (double), ``score`` (long) and ``tier`` (string)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inputs = Schema([ColSpec(AnyType(), name) for name in model.feature_names_in_])
    outputs = Schema(
        [ColSpec("double", "probability"), ColSpec("long", "score"), ColSpec("string", "tier")]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def tiers(probability, config, base_rate=None) -> np.ndarray:
    """red / amber / green from the config's thresholds (relative ones need ``base_rate``)."""
    from churnml.scoring.tiers import thresholds

    p = np.asarray(probability, dtype=float)
    red, amber = thresholds(config.tiers, base_rate)
    return np.where(p >= red, "red", np.where(p >= amber, "amber", "green"))


class ChurnPyfunc(PythonModel):
    """Pyfunc wrapper: ``predict(frame) -> DataFrame(probability, score, tier)``.

    Parameters
    ----------
    model : ChurnModel
        The deployed model.
    catalog : Catalog
        Indicator catalog of the features (reason sentences).
    config : ModelConfig
        Tiers, capacity, horizon used in training.
    holdout : ChurnModel, optional
        The model fitted on the rows before the run's out-of-time test (what the evaluation
        scored); used by champion/challenger when the deployed model saw a later test period.
    info : dict, optional
        Training facts (``test_start``, ``trained_until``, ``holdout_trained_until``, metrics).
    """

    # MLflow wraps predict() for type-hint validation and warns when there are none; the input is
    # checked against the logged signature and by ChurnModel.prepare instead
    _skip_type_hint_validation = True

    def __init__(self, model, catalog, config, holdout=None, info=None):
        self.model = model
        self.catalog = catalog
        self.config = config
        self.holdout = holdout
        self.info = dict(info or {})

    def predict(self, context, model_input, params=None):
        """``probability``, ``score`` (0–100) and ``tier`` of each row of ``model_input``."""
        from churnml.scoring.tiers import model_base_rate

        frame = pd.DataFrame(model_input)
        probability = self.model.predict_proba(frame)[:, 1]
        return pd.DataFrame(
            {
                "probability": probability,
                "score": np.rint(probability * 100).astype("int64"),
                "tier": tiers(probability, self.config, model_base_rate(self.model)),
            },
            index=frame.index,
        )
