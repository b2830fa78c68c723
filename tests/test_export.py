"""The synthetic world as a subscription export: its shape, the labels churnml derives from it
through the mapping, the window oracle, and the whole CLI pipeline on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import churnml
from churnml.data.synthetic.export import MAPPING
from churnml.data.synthetic.oracle import oracle_probability

MAPPING_FILE = Path(__file__).parent / "data" / "subscriptions_mapping.yaml"


def test_the_export_looks_like_a_billing_export(export_small, saas_small):
    assert "goals" not in export_small and "contracts" not in export_small
    assert not {"reopened", "escalated", "category"} & set(export_small["support_tickets"])
    assert "customer_id" not in export_small["product_events"]  # keyed by subscription
    assert export_small["product_events"]["subscription_id"].isin(export_small["subscriptions"]["id"]).all()
    subs = export_small["subscriptions"]
    active = subs["status"].eq("active")
    assert subs.loc[active, "ended_at"].isna().all() and subs.loc[~active, "ended_at"].notna().all()
    churned = subs[subs["churned"]]
    notice = churned["ended_at"] - churned["canceled_at"]
    assert notice.between(pd.Timedelta(0), pd.Timedelta(days=20)).all() and notice.mean() > pd.Timedelta(days=5)
    assert subs.loc[~subs["churned"], "canceled_at"].isna().all()
    assert ((subs["arr"] - subs["mrr"] * 12).abs() < 0.1).all() and set(subs["interval"]) >= {"monthly", "annual"}
    # one subscription per continuous run: more subscriptions than accounts, fewer than terms
    assert saas_small["accounts"].shape[0] < len(subs) < saas_small["contracts"].shape[0]
    events = export_small["churn_events"]
    assert 0.9 < len(events) / len(churned) <= 1.0 and events["reason_code"].notna().all()


def test_the_mapping_in_the_tests_is_the_one_the_export_ships():
    assert MAPPING_FILE.read_text() == MAPPING
    assert "sql" in MAPPING and "contracts" not in MAPPING  # no term cut in SQL


def test_window_labels_from_the_export_equal_the_worlds(export_tables, saas_small):
    native = churnml.make_spine(saas_small, start="2024-10-01", label="window")
    derived = churnml.make_spine(export_tables, start="2024-10-01")
    assert derived.attrs["label"] == "window"
    pair = native.merge(derived, on=["account_id", "as_of"], how="outer", indicator=True)
    assert pair["_merge"].eq("both").mean() > 0.995
    both = pair[pair["_merge"] == "both"]
    same = both["label_x"].astype("float").fillna(-1) == both["label_y"].astype("float").fillna(-1)
    assert same.all() and both["label_x"].eq(1).sum() > 100


def test_the_window_oracle_is_the_true_probability(export_tables, saas_small):
    spine = churnml.make_spine(export_tables, start="2024-10-01", label="window")
    resolved = spine[spine["label"].notna()]
    p = oracle_probability(export_tables, resolved, label="window", horizon_days=180)
    y = resolved["label"].astype(int).to_numpy()
    assert p.mean() == pytest.approx(y.mean(), rel=0.2)  # calibrated on the whole
    assert roc_auc_score(y, p) > 0.8
    # a churned account's row keeps the risk of the terms its churn cut off
    terms = export_tables["oracle_terms"]
    assert (~terms["reached"]).sum() > 0 and terms.loc[~terms["reached"], "churn_probability"].gt(0).any()
    # the renewal oracle finds the world's terms behind terms cut from subscriptions
    renewal = churnml.make_spine(export_tables, start="2024-10-01", label="renewal")
    q = oracle_probability(export_tables, renewal, label="renewal")
    assert np.isnan(q[renewal["label"].notna().to_numpy()]).mean() < 0.01


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.setenv("DO_NOT_TRACK", "1")
        yield folder


def run(capsys, *argv) -> str:
    from churnml.cli import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err[-3000:]
    return out.out


def test_the_cli_pipeline_runs_on_the_export(workdir, capsys):
    data = workdir / "export"
    out = run(capsys, "generate", "--accounts", 200, "--months", 15, "--seed", 3,
              "--export", "subscriptions", "--out", data)
    assert "subscriptions" in out and (data / "mapping.yaml").read_text() == "source: .\n" + MAPPING
    mapping = data / "mapping.yaml"

    out = run(capsys, "validate", data, "--mapping", mapping)
    assert "0 fatal" in out and "near_billing_end" in out
    assert "Labels: window (auto: the renewal terms are cut from subscriptions" in out

    out = run(capsys, "features", "--data", data, "--mapping", mapping, "--start", "2024-10-01",
              "--as-of", "2025-08-01", "--horizon-days", 90, "--out", workdir / "features.parquet")
    assert "Labels: window" in out and "indicator report" in out
    built = pd.read_parquet(workdir / "features.parquet")
    assert "escalations_90d" not in built and "tickets_90d" in built  # no escalated column

    config = workdir / "small.yaml"
    config.write_text("horizon_days: 90\nn_folds: 2\nn_estimators: 150\ntimeout_seconds: 120\n")
    out = run(capsys, "train", "--data", data, "--mapping", mapping, "--config", config, "--trials", 2)
    assert "Label:          window (auto: the renewal terms are cut from subscriptions" in out
    assert "oracle" in out and "Champion:       promoted" in out

    scores = workdir / "scores.parquet"
    run(capsys, "score", "--data", data, "--mapping", mapping, "--as-of", "2025-10-01", "--out", scores)
    scored = pd.read_parquet(scores)
    customers = churnml.make_spine(churnml.load_tables(data, mapping=mapping), as_of="2025-10-01",
                                   label="window")
    assert sorted(scored["account_id"]) == sorted(customers["account_id"])  # every customer, once
    assert scored["renewal_date"].notna().all() and scored["probability"].between(0, 1).all()

    out = run(capsys, "report", "--scores", scores, "--out", workdir / "red.html")
    assert (workdir / "red.html").stat().st_size > 1000 and "wrote" in out
