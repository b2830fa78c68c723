"""The leakage guard: a mapping that ends churned terms on the churn date is caught on the renewal
calendar and named, a copied label is caught as an indicator, the native synthetic data fires
nothing, and ``churnml features`` and ``train`` report it (``train`` on its MLflow run too)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.features.catalog import Catalog, Indicator, load_catalog
from churnml.features.leakage import (
    CALENDAR,
    describe_leaks,
    find_leaks,
    leakage_report,
    renewal_calendar,
)

T = pd.Timestamp


def leaky_contracts(contracts: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Churned terms cut short to end on a churn date 2-8 weeks before their anniversary (at least
    a week after the term started), the way a hand-made mapping of a subscription export does."""
    rng = np.random.default_rng(seed)
    out = contracts.copy()
    churned = out["outcome"].eq("churned").to_numpy()
    length = (out["end_date"] - out["start_date"]).dt.days.to_numpy()
    weeks = np.minimum(rng.integers(14, 57, len(out)), length - 7)
    out.loc[churned, "end_date"] -= pd.to_timedelta(weeks[churned], unit="D")
    out.loc[churned, "outcome_date"] = out.loc[churned, "end_date"]
    return out


@pytest.fixture(scope="module")
def leaky(saas_small, spine_small):
    """The session's small world with the leaky mapping, and its indicators."""
    from churnml import build_features, make_spine

    tables = {**saas_small, "contracts": leaky_contracts(saas_small["contracts"])}
    start, end = spine_small["as_of"].min(), spine_small["as_of"].max()
    spine = make_spine(tables, start=start, end=end, horizon_days=180)
    return tables, build_features(tables, spine)


def test_one_ranking_gives_the_three_aucs_scikit_learn_gives():
    from sklearn.metrics import roc_auc_score

    from churnml.features.leakage import aucs

    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(int)
    x = rng.integers(0, 6, 300).astype(float) + y  # ties, and some signal
    x[rng.random(300) < 0.25] = np.nan
    known = ~np.isnan(x)
    expected = (roc_auc_score(y, np.where(known, x, -1.0)),
                roc_auc_score(y, np.where(known, x, 99.0)), roc_auc_score(y[known], x[known]))
    np.testing.assert_allclose(aucs(y, x), expected)
    assert len(set(np.round(expected, 6))) == 3  # missing values do move the AUC here


def test_anniversaries_follow_the_calendar():
    from churnml.features.leakage import _days_off

    start = pd.Series(pd.to_datetime(["2024-01-31", "2024-02-29", "2024-01-31", "2025-01-31",
                                      "2023-03-15", None]))
    renewal = pd.Series(pd.to_datetime(["2025-01-31", "2025-02-28", "2024-12-20", "2025-02-28",
                                        "2026-03-16", "2025-01-01"]))
    # a year later, Feb 29 -> Feb 28, 42 days before the anniversary, a month-end month, three
    # years and a day, unknown start
    off = _days_off(start, renewal)
    np.testing.assert_array_equal(off[:5], [0, 0, 42, 0, 1])
    assert np.isnan(off[5])


def test_the_calendar_is_read_from_the_spine_and_the_contracts():
    contracts = pd.DataFrame({
        "contract_id": ["K1", "K2", "K3"], "account_id": ["A", "A", "B"],
        "start_date": pd.to_datetime(["2023-05-10", "2024-05-10", "2024-06-01"]),
        "end_date": pd.to_datetime(["2024-05-10", "2025-05-10", "2025-04-20"]),
    })
    features = pd.DataFrame({
        "account_id": ["A", "B"], "contract_id": ["K2", "K3"],
        "as_of": pd.to_datetime(["2025-03-01", "2025-03-01"]),
        "renewal_date": pd.to_datetime(["2025-05-10", "2025-04-20"]),
    })
    calendar = renewal_calendar(features, {"contracts": contracts})
    assert list(calendar.columns) == list(CALENDAR)
    assert calendar["days_to_renewal"].tolist() == [70, 50]
    assert calendar["term_length_days"].tolist() == [365, 323]
    # K3 ends 42 days before its first anniversary (2025-06-01)
    assert calendar["days_off_anniversary"].tolist() == [0, 42]
    assert list(renewal_calendar(features).columns) == ["days_to_renewal"]  # no contracts table


def test_churned_terms_ending_on_the_churn_date_are_caught_on_the_calendar(leaky):
    tables, features = leaky
    leaks = find_leaks(features, tables)
    calendar = leaks[leaks["kind"] == "calendar"]
    assert "days_off_anniversary" in set(calendar["signal"]), leaks
    row = calendar.set_index("signal").loc["days_off_anniversary"]
    assert row["auc"] >= 0.95 and row["churned"] >= 30
    assert row["median_churned"] > 10 > row["median_retained"]
    assert "do churned terms end on the churn date?" in row["message"]
    assert "should end on the scheduled renewal date" in row["message"]
    lines = describe_leaks(leakage_report(features, tables))
    assert "PROBABLE LEAK" in lines[0] and any("days_off_anniversary" in x for x in lines[1:])


def test_the_native_synthetic_data_fires_nothing(saas_small, features_small):
    report = leakage_report(features_small, saas_small)
    assert not report["leak"].any(), report.head()
    assert set(CALENDAR) <= set(report.loc[report["kind"] == "calendar", "signal"])
    assert report["auc"].between(0.5, 0.95).all() and report["churned"].iloc[0] >= 30
    assert describe_leaks(report)[0].startswith("Leakage guard:  no probable leak")


def _with_indicator(features, name, values):
    catalog = load_catalog()
    extra = Indicator(
        id=name, family="support", shape="count_window", table="tickets", window_days=30,
        unit="", description=name, risk_sentence=None, protective_sentence=None, direction="up")
    return features.assign(**{name: values}), Catalog([*catalog, extra])


def test_a_copied_label_is_caught_as_an_indicator(features_small):
    label = features_small["label"].astype("float32")
    frame, catalog = _with_indicator(features_small, "renewal_flag", 1.0 - label)
    leaks = find_leaks(frame, catalog=catalog)
    assert list(leaks["signal"]) == ["renewal_flag"] and leaks.loc[0, "kind"] == "indicator"
    assert leaks.loc[0, "risk_when"] == "low"
    assert "point-in-time rule" in leaks.loc[0, "message"]


def test_a_leak_in_missingness_is_caught(features_small):
    # known only for the rows that renewed (a "renewed on" date copied in as a number)
    churned = features_small["label"].eq(1).fillna(False).to_numpy()
    frame, catalog = _with_indicator(features_small, "days_since_renewal_signed",
                                     np.where(churned, np.nan, 5.0))
    assert "days_since_renewal_signed" in set(find_leaks(frame, catalog=catalog)["signal"])


def test_too_few_churned_rows_are_not_called_a_leak(features_small):
    resolved = features_small[features_small["label"].notna()]
    few = pd.concat([resolved[resolved["label"] == 0], resolved[resolved["label"] == 1].head(20)])
    frame, catalog = _with_indicator(few, "copy", few["label"].astype("float32"))
    report = leakage_report(frame, catalog=catalog)
    assert report.set_index("signal").loc["copy", "auc"] == 1.0 and not report["leak"].any()
    assert describe_leaks(report)[0] == (
        "Leakage guard:  not checked: 20 churned rows (at least 30 needed)")


def test_train_reports_the_leak_and_records_it_on_the_run(leaky, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from churnml import load_config, train
    from churnml.model.training import log_result

    tables, features = leaky
    with pytest.warns(UserWarning, match="PROBABLE LEAK"):
        result = train(tables, features=features, config=load_config(n_folds=2), trials=1,
                       log=False, progress=False, figures=False)
    assert "days_off_anniversary" in set(result.leaks["signal"])
    assert "do churned terms end on the churn date?" in result.summary()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    log_result(result, tables, figures=False)
    run = MlflowClient().get_run(result.run_id)
    assert "days_off_anniversary" in run.data.tags["churnml.leakage"].split(",")
    artifacts = {a.path for a in MlflowClient().list_artifacts(result.run_id, "leakage")}
    assert artifacts == {"leakage/leakage.csv"}


def test_features_command_prints_the_leak(leaky, tmp_path, capsys):
    from churnml.cli import main
    from churnml.data.load import write_tables

    tables, features = leaky
    write_tables(tables, tmp_path / "data")
    start, end = features["as_of"].min(), features["as_of"].max()
    code = main(["features", "--data", str(tmp_path / "data"), "--start", f"{start:%Y-%m-%d}",
                 "--as-of", f"{end:%Y-%m-%d}", "--out", str(tmp_path / "f.parquet")])
    out = capsys.readouterr().out
    assert code == 0 and "Leakage guard:  1 PROBABLE LEAK" in out
    assert "days_off_anniversary separates churned from retained rows" in out
