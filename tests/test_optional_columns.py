"""Optional columns never crash: dropping any optional column of any contract table skips exactly
the indicators that read it (and those derived from them), in ``validate`` and ``build_features``
alike, and leaves every other indicator's values unchanged; training on such tables and scoring
them with a model trained on all columns work too."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from churnml.data.contract import CONTRACT
from churnml.features.catalog import load_catalog
from churnml.features.requirements import FILLED_FROM, columns_read

@pytest.fixture(scope="module")
def world():
    """A small world (40 accounts, 8 months) and four monthly snapshots near its end."""
    from churnml import make_spine
    from churnml.datasets import make_saas

    tables = make_saas(n_accounts=40, months=8, seed=5)
    end = tables["usage"]["ts"].max().normalize()
    spine = make_spine(tables, start=end - pd.DateOffset(months=3), end=end, horizon_days=180)
    return tables, spine


@pytest.fixture(scope="module")
def full(world):
    from churnml import build_features

    tables, spine = world
    return build_features(tables, spine)


@pytest.fixture(scope="module")
def billing_world():
    """The same kind of world as a subscription billing export (subscriptions and churn events,
    no contracts), read through its mapping, with window-label snapshots and their features."""
    import yaml

    from churnml import build_features, load_tables, make_spine
    from churnml.data.mapping import mapping_from_dict
    from churnml.data.synthetic.export import MAPPING, make_saas_export

    export = make_saas_export(n_accounts=40, months=8, seed=5)
    mapping = mapping_from_dict(yaml.safe_load(MAPPING))
    tables = load_tables({k: v for k, v in export.items() if not k.startswith("oracle")},
                         mapping=mapping)
    end = tables["usage"]["ts"].max().normalize()
    spine = make_spine(tables, start=end - pd.DateOffset(months=3), end=end, horizon_days=180,
                       label="window")
    return (tables, spine), build_features(tables, spine)


def _affected(catalog, dropped: tuple) -> set:
    """Indicators whose values may depend on ``dropped``: those reading it (or reading a column
    it fills) and those derived from them."""
    feeds = {dropped} | {read for read, fillers in FILLED_FROM.items() if dropped in fillers}
    out = {i.id for i in catalog if feeds & set(columns_read(i))}
    grew = True
    while grew:
        more = {i.id for i in catalog if set(i.params.get("of", [])) & out} - out
        out |= more
        grew = bool(more)
    return out


def _without(tables: dict, name: str, column: str) -> dict:
    return {**tables, name: tables[name].drop(columns=column)}


@pytest.mark.parametrize("table", list(CONTRACT))
def test_dropping_an_optional_column_skips_only_the_indicators_that_read_it(
    world, full, billing_world, table
):
    from churnml import build_features
    from churnml.data.validate import validate

    tables, spine = world
    if table not in tables:  # subscriptions and churn events come from a billing export
        (tables, spine), full = billing_world
    assert table in tables
    catalog = load_catalog()
    columns = [c for c in CONTRACT[table].optional if c in tables[table]]
    assert columns, f"the synthetic {table} table has none of its optional columns"
    for column in columns:
        dropped = _without(tables, table, column)
        report = validate(dropped, raise_on_fatal=False, now="2100-01-01")
        assert not (report["severity"] == "fatal").any(), (column, report)
        features = build_features(dropped, spine)
        # what dropping the column skipped, beyond what the world already lacks
        skipped = set(features.attrs["skipped"]) - set(full.attrs.get("skipped", {}))
        gone = {c for c in full.columns if c not in features.columns}
        assert gone == set(skipped), (column, gone ^ set(skipped))
        affected = _affected(catalog, (table, column))
        assert set(skipped) <= affected, (column, set(skipped) - affected)
        for ind in features.columns.intersection(catalog.ids).difference(affected):
            pd.testing.assert_series_equal(features[ind], full[ind], obj=f"{ind} without {column}")
        # validate said the same before any feature was built: one row per cause
        said = report.loc[report["check"] == "indicators_skipped"]
        said = said[(said["table"] == table) & (said["column"] == column)]
        listed = set(said["examples"].str.split("; ").explode()) if len(said) else set()
        assert listed == set(skipped), (column, listed ^ set(skipped))


def test_the_issue_columns_skip_their_indicators_with_a_reason(world, caplog):
    """The columns a real export left out (tickets without reopened, escalated, csat, priority or
    closed_at; contracts without outcome) used to crash with a DuckDB binder error."""
    from churnml import build_features

    tables, spine = world
    tickets = tables["tickets"].drop(columns=["reopened", "escalated", "csat", "priority"])
    contracts = tables["contracts"].drop(columns="outcome")
    with caplog.at_level(logging.WARNING, logger="churnml.features.engine"):
        features = build_features({**tables, "tickets": tickets, "contracts": contracts}, spine)
    skipped = features.attrs["skipped"]
    assert skipped["reopen_rate_90d"] == "tickets has no reopened column"
    assert skipped["csat_change_90d"].startswith("needs csat_mean_90d, csat_prev_90d: ")
    assert skipped["past_downgrades"] == "contracts has no outcome column"
    assert {"tickets_90d", "open_tickets", "prior_renewals"} <= set(features.columns)
    lines = [r.getMessage() for r in caplog.records]
    assert "skipped 3 indicators (tickets has no csat column): csat_mean_90d, csat_prev_90d, " \
           "csat_change_90d" in lines
    assert sum(line.count("reopen_rate_90d") for line in lines) == 1  # listed once


def _all_optional_dropped(tables: dict, keep=()) -> dict:
    out = {}
    for name, frame in tables.items():
        spec = CONTRACT.get(name)
        optional = [] if spec is None else spec.optional
        drop = [c for c in optional if c in frame and (name, c) not in keep]
        out[name] = frame.drop(columns=drop)
    return out


@pytest.fixture(scope="module")
def model_on_all_columns(saas_small, features_small):
    from churnml import load_config, train

    config = load_config(n_folds=2)
    return train(saas_small, features=features_small, config=config, trials=1, log=False,
                 progress=False, figures=False).model


def test_training_on_tables_without_optional_columns_works(saas_small):
    from churnml import load_config, train

    # every optional column gone, except the outcome that labels the terms
    bare = _all_optional_dropped(saas_small, keep={("contracts", "outcome")})
    result = train(bare, config=load_config(n_folds=2), trials=1, log=False, progress=False,
                   figures=False)
    used = set(result.model.feature_names_in_)
    assert "active_users_30d" not in used and "reopen_rate_90d" not in used
    assert {"tickets_90d", "events_30d", "tenure_days"} <= used
    assert 0.5 < result.evaluation.metric("model", "roc_auc") <= 1.0


@pytest.mark.parametrize("dropped", [("tickets", "closed_at"), ("contracts", "seats"),
                                     ("accounts", "touch_model"), ("contracts", "outcome")])
def test_a_model_trained_on_all_columns_scores_tables_lacking_one(saas_small, spine_small,
                                                                  model_on_all_columns, dropped):
    from churnml import score_result

    as_of = spine_small["as_of"].max()
    with pytest.warns(UserWarning, match="indicators were not built .* scored as missing"):
        result = score_result(model_on_all_columns, _without(saas_small, *dropped), as_of)
    skipped = {p["indicator"] for p in result.warnings if p["kind"] == "skipped"}
    assert skipped and skipped <= set(model_on_all_columns.feature_names_in_), result.warnings
    assert len(result.scores) and np.isfinite(result.scores["probability"]).all()
    # the indicators that were not built are never stated as drivers or protective factors
    assert not result.explanations["indicator"].isin(skipped).any()
