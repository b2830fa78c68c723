"""Shared fixtures: one small synthetic customer base, built once per test session.

Tests that need realistic tables use ``saas_small``; tests that need the point-in-time indicators
use ``features_small`` (monthly snapshots over the whole period), so the suite builds them once.
"""

from __future__ import annotations

import pandas as pd
import pytest

SMALL = {"n_accounts": 300, "months": 18, "seed": 3}


@pytest.fixture(scope="session")
def saas_small():
    """``make_saas(n_accounts=300, months=18, seed=3)``: the seven tables plus ``oracle``."""
    from churnml.datasets import make_saas

    return make_saas(**SMALL)


@pytest.fixture(scope="session")
def spine_small(saas_small):
    """Monthly snapshots (180-day horizon) from the fourth month to the end of the data."""
    from churnml import make_spine

    start = (saas_small["usage"]["ts"].min() + pd.DateOffset(months=3)).normalize()
    end = saas_small["usage"]["ts"].max()
    return make_spine(saas_small, start=start, end=end, cadence="monthly", horizon_days=180)


@pytest.fixture(scope="session")
def features_small(saas_small, spine_small):
    """``build_features`` over ``spine_small`` with the default catalog."""
    from churnml import build_features

    return build_features(saas_small, spine_small)


@pytest.fixture(scope="session")
def features_learnable(features_small):
    """``features_small`` with ``license_utilization_30d`` replaced by a planted signal that a tree
    model learns and a linear model cannot: 80 % of the churned rows fall in the band 0.4-0.6, every
    other row is uniform on 0-1. On it the tuned model beats the logistic baseline and the health
    score clearly (test ROC-AUC about 0.88 vs 0.78), which a model must do to become champion; on
    ``features_small`` alone the logistic regression wins at this size."""
    import numpy as np

    rng = np.random.default_rng(0)
    value = rng.uniform(0, 1, len(features_small))
    band = (features_small["label"].fillna(0).to_numpy() == 1) & (
        rng.random(len(features_small)) < 0.8
    )
    value[band] = rng.uniform(0.4, 0.6, int(band.sum()))
    return features_small.assign(license_utilization_30d=value.astype("float32"))


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """Loaded model versions (``churnml.model.cache``) and the MLflow store template
    (``churnml.model.store_template``) are kept in folders of the test session, not in
    ~/.cache (subprocesses inherit the variables)."""
    import os

    os.environ["CHURNML_MODEL_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    os.environ["CHURNML_STORE_TEMPLATE"] = str(tmp_path_factory.mktemp("store-template"))


@pytest.fixture(autouse=True)
def _mlflow_environment_restored():
    """MLflow's ``set_tracking_uri`` / ``set_registry_uri`` export ``MLFLOW_*`` variables so that
    subprocesses inherit them, and ``set_registry_uri(None)`` does not take its variable back.
    Restore them after every test, so no test points a later one (or its notebook kernel) at a
    server that has since stopped."""
    import os

    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    before = {name: os.environ.get(name) for name in names}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def export_small(saas_small):
    """``saas_small`` written as a subscription billing export (a dict of the raw files)."""
    from churnml.data.synthetic import export_subscriptions

    return export_subscriptions(saas_small, seed=3)


@pytest.fixture(scope="session")
def export_tables(export_small):
    """``export_small`` loaded through ``tests/data/subscriptions_mapping.yaml`` (renewal terms
    derived from its subscriptions), plus its oracle."""
    from pathlib import Path

    from churnml.data.load import load_tables

    mapping = Path(__file__).parent / "data" / "subscriptions_mapping.yaml"
    tables = load_tables(export_small, mapping=mapping)
    return tables | {k: export_small[k] for k in ("oracle", "oracle_terms")}
