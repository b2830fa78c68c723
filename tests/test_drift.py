"""Scoring checks its data against the model's training profile: refuse, warn, --force."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

from churnml.errors import ChurnmlError
from churnml.scoring.drift import check_scoring_data

AS_OF = pd.Timestamp("2025-11-01")


@pytest.fixture(scope="module")
def tables(saas_small):
    return {k: v for k, v in saas_small.items() if k != "oracle"}


@pytest.fixture(scope="module")
def model(tables, features_small):
    """A small model with the profile ``train`` records of its training data."""
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.config import load_config
    from churnml.model.estimator import ChurnModel
    from churnml.model.profile import data_profile

    train = features_small[features_small["label"].notna()]
    model = ChurnModel(
        n_estimators=40, feature_columns=feature_columns(train), time_column="as_of"
    ).fit(train)
    model.config_ = load_config(tiers={"red": 0.3, "amber": 0.15})
    model.catalog_ = load_catalog()
    model.model_name_, model.model_version_ = "churnml", "2"
    model.training_info_ = {
        "data_profile": data_profile(tables, features_small, model, model.catalog_)
    }
    return model


def population(tables, as_of=AS_OF):
    from churnml import make_spine

    return make_spine(tables, as_of)


def check(model, tables, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = check_scoring_data(model, tables, population(tables), AS_OF, **kwargs)
    return found, [str(w.message) for w in caught]


def test_the_profile_describes_the_training_data(model, features_small):
    profile = model.training_info_["data_profile"]
    assert json.loads(json.dumps(profile)) == profile  # plain JSON: it travels with the model
    assert set(profile["families"]) == {"usage", "support", "nps", "champion", "value", "contract"}
    assert profile["families"]["usage"]["table"] == "usage"
    assert profile["families"]["usage"]["coverage"] > 0.9
    gains = [f["importance"] for f in profile["families"].values()]
    assert (
        sum(gains) == pytest.approx(1.0, abs=1e-3)
        and profile["families"]["usage"]["importance"] > 0
    )
    assert profile["rows"] == len(features_small) and profile["usage_recent_share"] > 0.9
    assert profile["gaps"]["usage"] <= 1.0
    assert profile["snapshots"]["last"] == str(features_small["as_of"].max().date())


def test_the_same_kind_of_data_passes_without_findings(model, tables):
    assert check(model, tables) == ([], [])


def test_an_empty_usage_table_is_refused_and_force_scores_with_a_warning(model, tables):
    empty = {**tables, "usage": tables["usage"].iloc[:0]}
    with pytest.raises(
        ChurnmlError, match=r"the usage family is empty: none of the \d+ accounts"
    ) as caught:
        check(model, empty)
    assert "table 'usage'" in str(caught.value) and "--force" in caught.value.hint
    found, shown = check(model, empty, force=True)
    usage = [f for f in found if f["kind"] == "family_empty"]
    assert usage == [{**usage[0], "severity": "refuse", "subject": "usage", "forced": True}]
    assert any("usage family is empty" in s and "--force" in s for s in shown)
    missing = {k: v for k, v in tables.items() if k != "usage"}  # a missing table: the same
    with pytest.raises(ChurnmlError, match="usage family is empty"):
        check(model, missing)


def test_data_ending_long_before_as_of_is_refused(model, tables):
    cut = AS_OF - pd.Timedelta(days=60)
    stale = {**tables, "usage": tables["usage"].loc[tables["usage"]["ts"] < cut]}
    with pytest.raises(ChurnmlError, match=r"table 'usage' ends on 2025-09-01, 61 days before"):
        check(model, stale)
    late = {
        **tables,
        "usage": tables["usage"].loc[tables["usage"]["ts"] < AS_OF - pd.Timedelta(days=12)],
    }
    found, shown = check(model, late)  # 13 days late: a warning only
    assert [f["kind"] for f in found] == ["data_late"] and "13 days before" in shown[0]


def test_milder_drift_is_a_warning(model, tables):
    usage = tables["usage"]
    accounts = population(tables)["account_id"]
    gone = set(accounts.iloc[: int(len(accounts) * 0.7)])
    thinned = {**tables, "usage": usage.loc[~usage["account_id"].isin(gone)]}
    found, shown = check(model, thinned)
    assert {f["kind"] for f in found} == {"coverage_drop", "usage_recent_drop"}
    assert all(f["severity"] == "warn" and not f["forced"] for f in found)
    assert any("the usage family covers 30% of the" in s for s in shown)


def test_a_model_without_profile_is_not_checked(model, tables):
    from sklearn.base import clone

    older = clone(model)
    older.__dict__.update({k: v for k, v in model.__dict__.items() if k != "training_info_"})
    empty = {**tables, "usage": tables["usage"].iloc[:0]}
    assert check_scoring_data(older, empty, population(tables), AS_OF) == []
    older.training_info_ = {"test_start": "2025-01-01"}  # trained before profiles existed
    assert check_scoring_data(older, empty, population(tables), AS_OF) == []


def test_run_score_refuses_before_writing_and_force_overrides(model, tables, tmp_path):
    from churnml.scoring.run import run_score

    empty = {**tables, "usage": tables["usage"].iloc[:0]}
    out = tmp_path / "scores.parquet"
    kwargs = {"crm_out": tmp_path / "crm.csv", "db": f"sqlite:///{tmp_path}/crm.db"}
    with pytest.raises(ChurnmlError, match="usage family is empty"):
        run_score(model, empty, AS_OF, out, progress=False, **kwargs)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a lock file
    with pytest.warns(UserWarning, match="usage family is empty"):
        manifest = run_score(model, empty, AS_OF, out, progress=False, force=True, **kwargs)
    assert manifest["forced"] and out.exists()
    written = json.loads((tmp_path / "scores_manifest.json").read_text())
    assert any(w.get("kind") == "family_empty" and w["forced"] for w in written["warnings"])


def test_cli_score_passes_force_and_lock_timeout(monkeypatch):
    import churnml.scoring.run as run_module
    from churnml.cli import main

    seen = {}
    monkeypatch.setattr(run_module, "run_score", lambda *a, **k: seen.update(k) or {})
    argv = ["score", "--data", ".", "--as-of", "2025-11-01", "--out", "s.parquet", "--dry-run"]
    main([*argv, "--force", "--lock-timeout", "5", "--db-table", "risk_sf"])
    assert seen["force"] is True and seen["lock_timeout"] == 5.0 and seen["table"] == "risk_sf"
    main(argv)
    assert seen["force"] is False and seen["table"] == "churn_risk"
