"""The local model cache: a version is loaded from MLflow once, an alias is resolved at every load
(a moved alias loads the new version), and a reused version number never gets a stale model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def _fitted(seed: int):
    from churnml.model.estimator import ChurnModel

    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    y = (X["a"] * (1 if seed % 2 else -1) + rng.normal(size=400) > 0).astype(int)
    return ChurnModel(n_estimators=20, early_stopping_rounds=None, calibration=None).fit(X, y)


def _register(seed: int, *, champion: bool):
    """Log a small ChurnPyfunc, register it as a new version of ``churnml``; returns it."""
    import mlflow

    from churnml.features.catalog import load_catalog
    from churnml.model import registry, tracking
    from churnml.model.config import load_config
    from churnml.model.pyfunc import ChurnPyfunc

    tracking.configure()
    model = _fitted(seed)
    wrapper = ChurnPyfunc(model, load_catalog(), load_config(), info={"seed": seed})
    with mlflow.start_run(), tracking.no_artifact_progress():
        info = mlflow.pyfunc.log_model(
            name="model", python_model=wrapper, pip_requirements=["churnml"]
        )
    version = registry.register(info.model_uri, "churnml")
    if champion:
        registry.promote("churnml", version.version)
    return model


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("CHURNML_MODEL_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _no_mlflow_load(monkeypatch):
    from churnml.model import registry

    def refuse(uri):
        raise AssertionError(f"loaded {uri} through MLflow although it is cached")

    monkeypatch.setattr(registry, "load_wrapper", refuse)


def test_alias_moves_to_a_new_version(store, monkeypatch):
    from churnml.model import cache
    from churnml.model.registry import load_model

    X = pd.DataFrame(np.random.default_rng(9).normal(size=(50, 3)), columns=["a", "b", "c"])
    first = _register(1, champion=True)
    second = _register(2, champion=False)
    got = load_model("models:/churnml@champion")  # through MLflow, then cached
    assert got.model_version_ == "1" and got.training_info_ == {"seed": 1}
    assert len(list((store / "cache").glob("*.pkl"))) == 1
    with monkeypatch.context() as mp:
        _no_mlflow_load(mp)
        again = load_model("models:/churnml@champion")
        np.testing.assert_array_equal(again.predict_proba(X), first.predict_proba(X))
        assert load_model("models:/churnml/1").model_version_ == "1"
    from churnml.model import registry

    registry.promote("churnml", 2)  # the alias moves: the new version, not the cached one
    moved = load_model("models:/churnml@champion")
    assert moved.model_version_ == "2"
    np.testing.assert_array_equal(moved.predict_proba(X), second.predict_proba(X))

    # the SQLite registry read gives what MLflow's client gives
    direct = cache.lookup("models:/churnml@champion")
    monkeypatch.setattr(cache, "_sqlite_lookup", lambda *args: None)
    assert cache.lookup("models:/churnml@champion") == direct


def test_unknown_alias_is_still_explained(store):
    from churnml.errors import ChurnmlError
    from churnml.model.registry import load_model

    _register(1, champion=True)
    with pytest.raises(ChurnmlError, match="has no alias 'nope'"):
        load_model("models:/churnml@nope")


def test_cache_off_and_unreadable_entries(store, monkeypatch):
    from churnml.model import cache
    from churnml.model.registry import load_model

    _register(1, champion=True)
    monkeypatch.setenv("CHURNML_MODEL_CACHE", "off")
    assert load_model("models:/churnml@champion").model_version_ == "1"
    assert cache.cache_dir() is None and not (store / "cache").exists()
    monkeypatch.setenv("CHURNML_MODEL_CACHE", str(store / "cache"))
    ref = cache.lookup("models:/churnml/1")
    cache.entry(ref).parent.mkdir(parents=True)
    cache.entry(ref).write_bytes(b"not a pickle")  # a truncated entry is a miss, then replaced
    assert load_model("models:/churnml/1").model_version_ == "1"
    assert cache.read(ref)["info"] == {"seed": 1}


def test_a_reused_version_number_is_another_entry(store, monkeypatch):
    """A registry deleted and created anew reuses version 1 for another model: its run id and
    creation time differ, so the entry of the old version 1 is never read for it."""
    from churnml.model import cache

    old = cache.VersionRef("sqlite:///x/mlflow.db", "churnml", "1", "run-a:1700000000000:m-a")
    new = cache.VersionRef("sqlite:///x/mlflow.db", "churnml", "1", "run-b:1800000000000:m-b")
    assert cache.entry(old) != cache.entry(new)

    class Wrapper:
        model, catalog, config, info = "model-a", None, None, {"seed": 1}

    cache.write(old, Wrapper())
    assert cache.unpickle_model(cache.read(old)) == "model-a" and cache.read(new) is None


def test_open_model_gives_the_catalog_first_and_the_cached_model_from_a_thread(store, monkeypatch):
    """Scoring reads its data while a cached version is unpickled; what the load raises is
    raised by model(), not lost in the thread."""
    from churnml.model import cache
    from churnml.model.registry import load_model, open_model

    _register(1, champion=True)
    first = load_model("models:/churnml@champion")  # through MLflow, then cached
    opened = open_model("models:/churnml@champion")
    assert opened._thread is not None  # the cached version loads in the background
    assert [i.id for i in opened.catalog] == [i.id for i in first.catalog_]
    model = opened.model()
    assert model.model_version_ == "1" and model.catalog_ is opened.catalog
    X = pd.DataFrame({"a": [0.1, -2.0], "b": [0.0, 1.0], "c": [1.0, 1.0]})
    np.testing.assert_array_equal(model.predict_proba(X), first.predict_proba(X))

    def broken(payload):
        raise RuntimeError("truncated model")

    monkeypatch.setattr(cache, "unpickle_model", broken)
    opened = open_model("models:/churnml@champion")
    with pytest.raises(RuntimeError, match="truncated model"):
        opened.model()
