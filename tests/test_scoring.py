"""Batch scoring: tiers by threshold and capacity, reasons, missing features, unknown categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.scoring.score import SCORE_COLUMNS, check_features, score_frame
from churnml.scoring.tiers import assign_tiers

FEATURES = [
    "active_users_30d",
    "active_users_prev_30d",
    "active_users_change_30d",
    "tickets_90d",
    "nps_latest_score",
    "arr",
    "segment",
]


def make_features(n: int, seed: int, as_of="2025-06-01") -> pd.DataFrame:
    """Hand-built feature rows: churn rises with falling usage and many tickets."""
    rng = np.random.default_rng(seed)
    prev = rng.integers(5, 60, n).astype(float)
    change = rng.uniform(-0.8, 0.3, n)
    now = np.round(prev * (1 + change))
    tickets = rng.poisson(3, n).astype(float)
    logit = -1.0 - 4.0 * change + 0.4 * (tickets - 3) + rng.normal(0, 0.3, n)
    label = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype("int8")
    return pd.DataFrame(
        {
            "account_id": [f"A{i:04d}" for i in range(n)],
            "as_of": pd.Timestamp(as_of),
            "contract_id": [f"C{i:04d}" for i in range(n)],
            "renewal_date": pd.Timestamp(as_of) + pd.to_timedelta(rng.integers(1, 180, n), "D"),
            "days_to_renewal": rng.integers(1, 180, n).astype("int16"),
            "active_users_30d": now.astype("float32"),
            "active_users_prev_30d": prev.astype("float32"),
            "active_users_change_30d": (now / prev - 1).astype("float32"),
            "tickets_90d": tickets.astype("float32"),
            "nps_latest_score": rng.integers(0, 11, n).astype("float32"),
            "arr": rng.uniform(5_000, 200_000, n).round(),
            "segment": pd.Categorical(rng.choice(["enterprise", "mid_market", "smb"], n)),
            "label": label,
        }
    )


@pytest.fixture(scope="module")
def model():
    from churnml.model.estimator import ChurnModel

    train = make_features(1500, seed=1)
    return ChurnModel(n_estimators=60, calibration=None, random_state=0).fit(
        train[FEATURES], train["label"]
    )


@pytest.fixture(scope="module")
def features():
    return make_features(200, seed=2).drop(columns="label")


def test_tiers_by_threshold():
    p = np.array([0.9, 0.5, 0.49, 0.25, 0.24, 0.0, np.nan])
    tiers = assign_tiers(p, tiers={"red": 0.5, "amber": 0.25})
    assert list(tiers[:6]) == ["red", "red", "amber", "amber", "green", "green"]
    assert pd.isna(tiers[6])
    with pytest.raises(ValueError, match="amber < red"):
        assign_tiers(p, tiers={"red": 0.2, "amber": 0.3})


def test_tiers_by_capacity_per_group():
    p = np.array([0.1, 0.8, 0.3, 0.6, 0.9, 0.2])
    groups = np.array([1, 1, 1, 2, 2, 2])
    tiers = assign_tiers(p, tiers={"red": 0.5, "amber": 0.25}, capacity=1, groups=groups)
    # top one per group is red even below the red threshold; others fall back to amber/green
    assert list(tiers) == ["green", "red", "amber", "amber", "red", "green"]
    tiers = assign_tiers(p, tiers={"red": 0.95, "amber": 0.25}, capacity=4)
    assert (tiers == "red").sum() == 4 and tiers[0] == "green" and tiers[5] == "green"


def test_score_frame_columns_and_values(model, features):
    result = score_frame(model, features, tiers={"red": 0.5, "amber": 0.25})
    s = result.scores
    assert list(s.columns) == SCORE_COLUMNS
    assert len(s) == len(features) and s["account_id"].is_unique
    back = s.set_index("account_id").loc[features["account_id"]]
    p = model.predict_proba(features)[:, 1]
    np.testing.assert_allclose(back["probability"], p)
    np.testing.assert_array_equal(back["score"], np.rint(100 * p))
    np.testing.assert_allclose(back["arr_at_risk"], p * features["arr"].to_numpy())
    np.testing.assert_allclose(back["log_odds"], model.predict_raw(features), atol=1e-6)
    assert (np.diff(s["arr_at_risk"]) <= 0).all() and list(s["rank"]) == list(range(1, 201))
    assert set(s.loc[s["probability"] >= 0.5, "tier"]) == {"red"}
    assert set(s.loc[s["probability"] < 0.25, "tier"]) <= {"green"}
    assert (s["trend"] == "new").all() and s["previous_score"].isna().all()


def test_reasons_match_explanations(model, features):
    result = score_frame(model, features, tiers={"red": 0.5, "amber": 0.25})
    s, ex = result.scores.set_index("account_id"), result.explanations
    drivers = ex[ex["kind"] == "driver"].sort_values(["account_id", "rank"])
    assert len(drivers) > 0
    for account, group in list(drivers.groupby("account_id"))[:20]:
        row = s.loc[account]
        assert row["top_reasons"] == "\n".join(group["sentence"])
        codes = [None if pd.isna(row[f"reason_code_{k}"]) else row[f"reason_code_{k}"]
                 for k in (1, 2, 3)]  # fmt: skip
        assert codes[: len(group)] == [None if pd.isna(i) else i for i in group["indicator"][:3]]
        # family-first: the first sentence belongs to the leading area
        if not pd.isna(row["top_family"]):
            assert group["family"].iloc[0] == row["top_family"]
            assert group["area_rank"].iloc[0] == 1
        plays = row["plays"].split("\n")
        assert row["play"] == plays[0] and row["play_owner"] == row["play_owners"].split("\n")[0]
    no_driver = ~s.index.isin(drivers["account_id"])
    assert s.loc[no_driver, "top_reasons"].isna().all()
    # the usage driver's sentence uses the account's own numbers
    usage = drivers[drivers["indicator"] == "active_users_change_30d"].head(5)
    feats = features.set_index("account_id")
    for _, r in usage.iterrows():
        f = feats.loc[r["account_id"]]
        assert f"{f['active_users_prev_30d']:.0f}" in r["sentence"]
        assert f"{f['active_users_30d']:.0f}" in r["sentence"]
    assert set(result.families["account_id"]) == set(features["account_id"])


def test_missing_features_are_named(model, features):
    with pytest.raises(ValueError, match="tickets_90d.*nps_latest_score|2 of the model"):
        score_frame(model, features.drop(columns=["tickets_90d", "nps_latest_score"]))


def test_unknown_categories_and_all_null_indicators(model, features):
    bad = features.copy()
    seg = bad["segment"].astype(object)
    seg.iloc[:7] = "public_sector"
    bad["segment"] = seg
    bad["nps_latest_score"] = np.nan
    with pytest.warns(UserWarning) as caught:
        result = score_frame(model, bad)
    kinds = {(w["kind"], w["indicator"], w["count"]) for w in result.warnings}
    assert ("unknown_category", "segment", 7) in kinds
    assert ("all_null", "nps_latest_score", len(bad)) in kinds
    assert any("public_sector" in str(w.message) for w in caught)
    assert result.scores["probability"].notna().all()
    assert check_features(model, features) == []


# ------------------------------------------------------------------ run_score end to end
@pytest.fixture(scope="module")
def trained(features_small):
    """A small ChurnModel on the shared synthetic features, with the registry's extra attributes."""
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.config import load_config
    from churnml.model.estimator import ChurnModel

    train = features_small[features_small["label"].notna()]
    model = ChurnModel(
        n_estimators=40, feature_columns=feature_columns(train), time_column="as_of"
    ).fit(train)
    model.config_ = load_config(tiers={"red": 0.3, "amber": 0.15})
    model.catalog_ = load_catalog()
    model.model_name_, model.model_version_ = "churnml", "7"
    return model


def test_run_score_writes_everything_and_reruns_identically(trained, saas_small, tmp_path, capsys):
    import json

    from churnml import make_spine
    from churnml.scoring.indicator_history import HISTORY_INDICATORS
    from churnml.scoring.run import run_score

    tables = {k: v for k, v in saas_small.items() if k != "oracle"}
    as_of = pd.Timestamp("2025-11-01")
    out = tmp_path / "scores.parquet"
    kwargs = {
        "crm_out": tmp_path / "crm.csv",
        "db": f"sqlite:///{tmp_path}/crm.db",
        "progress": False,
    }
    manifest = run_score(trained, tables, as_of, out, crm_preset="salesforce", **kwargs)
    scores = pd.read_parquet(out)
    spine = make_spine(tables, as_of, horizon_days=trained.config_.horizon_days)
    assert sorted(scores["account_id"]) == sorted(spine["account_id"])
    assert scores["name"].notna().all() and scores["csm"].notna().all()
    assert manifest["rows"] == len(scores) == sum(manifest["rows_by_tier"].values())
    assert manifest["rows_by_tier"]["red"] == int((scores["tier"] == "red").sum())
    assert manifest["model_version"] == "7" and manifest["as_of"] == "2025-11-01"
    assert {"load_data", "score", "write"} <= set(manifest["timings_seconds"])
    assert {t["table"] for t in manifest["data"]} >= {"accounts", "contracts", "usage"}
    assert json.loads((tmp_path / "scores_manifest.json").read_text())["rows"] == len(scores)
    history = pd.read_parquet(tmp_path / "scores_history.parquet")
    flagged = set(scores.loc[scores["tier"].isin(["red", "amber"]), "account_id"])
    assert flagged and set(history["account_id"]) == flagged
    assert set(history["indicator"]) == set(HISTORY_INDICATORS)
    assert history.groupby(["account_id", "indicator"]).size().eq(12).all()
    assert history["as_of"].max() == as_of
    crm = pd.read_csv(tmp_path / "crm.csv")
    assert len(crm) == len(scores) and "Churn_Risk_Score__c" in crm

    from churnml.scoring.commit import run_id_of

    sidecars = ["scores_explanations", "scores_history", "scores_families"]
    before = {s: pd.read_parquet(tmp_path / f"{s}.parquet") for s in sidecars}
    assert {run_id_of(tmp_path / f"{s}.parquet") for s in [*sidecars, "scores"]} == {
        manifest["run_id"]
    }
    again = run_score(trained, tables, as_of, out, crm_preset="salesforce", **kwargs)
    assert again["crm"]["unchanged"] == len(scores) and again["crm"]["inserted"] == 0
    rerun = pd.read_parquet(out)
    pd.testing.assert_frame_equal(rerun.drop(columns="scored_at"), scores.drop(columns="scored_at"))
    for s in sidecars:  # the same content, stamped with the new run's id
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"{s}.parquet"), before[s])
        assert run_id_of(tmp_path / f"{s}.parquet") == again["run_id"] != manifest["run_id"]
    assert len(pd.read_parquet(tmp_path / "scores_runs.parquet")) == len(scores)
    import sqlalchemy as sa

    with sa.create_engine(kwargs["db"]).connect() as conn:
        assert conn.execute(sa.text("select count(*) from churn_risk")).scalar() == len(scores)

    # dry run a month later: prints the diff, writes nothing
    stamp = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    capsys.readouterr()
    dry = run_score(
        trained, tables, "2025-12-01", out, crm_preset="salesforce", dry_run=True, **kwargs
    )
    assert "would write" in capsys.readouterr().out
    assert dry["dry_run"] and dry["crm"]["inserted"] > 0
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamp


def test_score_from_tables(trained, saas_small):
    from churnml.scoring import score

    tables = {k: v for k, v in saas_small.items() if k != "oracle"}
    scores = score(trained, tables, "2025-09-01", capacity=5)
    assert (scores["tier"] == "red").sum() == min(5, len(scores))
    assert (
        scores.loc[scores["tier"] == "red", "probability"].min()
        >= scores.loc[scores["tier"] != "red", "probability"].max()
    )
    accounts = tables["accounts"].set_index("account_id")
    assert (scores["csm"].to_numpy() == accounts.loc[scores["account_id"], "csm"].to_numpy()).all()
    assert set(scores.attrs["explanations"]["account_id"]) <= set(scores["account_id"])
    with pytest.raises(ValueError, match="no account has a term active"):
        score(trained, tables, "2010-01-01")


def test_a_second_run_says_what_changed_and_ranks_each_csm_book(trained, saas_small, tmp_path):
    from churnml.scoring.commit import run_id_of
    from churnml.scoring.run import run_score

    tables = {k: v for k, v in saas_small.items() if k != "oracle"}
    out, crm = tmp_path / "scores.parquet", tmp_path / "crm.csv"
    run_score(trained, tables, "2025-10-01", out, crm_out=crm, progress=False)
    first = pd.read_parquet(out)
    assert first["score_change"].isna().all() and first["change_summary"].isna().all()
    manifest = run_score(trained, tables, "2025-11-01", out, crm_out=crm, progress=False,
                         capacity_per_csm=2)  # fmt: skip
    scores = pd.read_parquet(out)
    both = scores.merge(first[["account_id", "score"]], on="account_id", suffixes=("", "_before"))
    assert len(both) > 20
    assert (both["score_change"] == both["score"] - both["score_before"]).all()
    assert both["changed_since"].eq(pd.Timestamp("2025-10-01")).all()
    assert both["change_summary"].str.contains("since 1 Oct 2025").all()
    newcomers = scores[~scores["account_id"].isin(first["account_id"])]
    assert newcomers["score_change"].isna().all()
    # the movers' sentences are in each account's summary, strongest first
    movers = pd.read_parquet(tmp_path / "scores_changes.parquet")
    assert len(movers) and set(movers["account_id"]) <= set(both["account_id"])
    summary = scores.set_index("account_id")["change_summary"]
    for account, group in movers.groupby("account_id"):
        text = summary[account]
        positions = [text.index(sentence) for sentence in group.sort_values("rank")["sentence"]]
        assert positions == sorted(positions)
    history = pd.read_parquet(tmp_path / "scores_runs_contributions.parquet")
    assert set(history["as_of"]) == {pd.Timestamp("2025-10-01"), pd.Timestamp("2025-11-01")}
    # persona health: the sidecar and the scores frame agree
    personas = pd.read_parquet(tmp_path / "scores_personas.parquet")
    wide = personas.pivot(index="account_id", columns="persona", values="health")
    for persona in ("decision_maker", "influencer", "user"):
        own = scores.set_index("account_id")[f"{persona}_health"]
        assert (wide.loc[own.index, persona] == own).all()
    # each CSM's book: ranks 1..n by expected ARR at risk, the first two in focus
    for _, book in scores.groupby("csm"):
        book = book.sort_values("csm_rank")
        assert book["csm_rank"].tolist() == list(range(1, len(book) + 1))
        assert (np.diff(book["expected_arr_at_risk"].to_numpy()) <= 1e-9).all()
        assert book["csm_focus"].tolist() == [r <= 2 for r in book["csm_rank"]]
    assert manifest["books"] == {"capacity_per_csm": 2, "saveability": {}}
    fields = pd.read_csv(crm)
    assert {"churn_csm_rank", "churn_risk_change", "churn_risk_areas", "churn_play_owner"} <= set(
        fields.columns
    )
    for name in ("scores_changes", "scores_personas"):
        assert run_id_of(tmp_path / f"{name}.parquet") == manifest["run_id"]
