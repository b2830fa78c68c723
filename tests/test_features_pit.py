"""Point-in-time property: nothing dated at or after as_of can move a feature.

For random as_of dates, every row dated at or after as_of in every table is either deleted or
altered — including contact departures, ticket closures, goal achievements and contract outcomes
after as_of — and every indicator must come out identical. On a subscription export, the same
holds for cancellations, ends, churn events and new subscriptions after as_of, and neither the
population (renewal or window label) nor the current terms move either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnml.datasets import make_saas
from churnml.features.engine import build_features, feature_columns
from churnml.snapshots import make_spine


@pytest.fixture(scope="module")
def world():
    return make_saas(n_accounts=60, months=13, seed=11)


def _future(frame, column, as_of):
    return frame[column].notna() & (frame[column] >= as_of)


def scramble_after(tables: dict, as_of: pd.Timestamp, seed: int) -> dict:
    """Delete about half of every row dated at or after as_of and alter the rest."""
    rng = np.random.default_rng(seed)
    later = as_of + pd.Timedelta(days=int(rng.integers(0, 40)))
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        if name == "usage":
            future = _future(frame, "ts", as_of)
            frame.loc[future, "quantity"] = frame.loc[future, "quantity"] * 3 + 1
            frame = frame[~(future & (rng.random(len(frame)) < 0.5))]
        elif name == "tickets":
            opened = _future(frame, "opened_at", as_of)
            closed = _future(frame, "closed_at", as_of)
            frame.loc[closed, "closed_at"] = pd.NaT  # a closure after as_of is undone
            frame.loc[opened | closed, "csat"] = 1.0
            frame.loc[opened, "priority"] = "urgent"
            frame = frame[~(opened & (rng.random(len(frame)) < 0.5))]
        elif name == "nps":
            future = _future(frame, "responded_at", as_of)
            frame.loc[future, "score"] = 0.0
            frame = frame[~(future & (rng.random(len(frame)) < 0.5))]
        elif name == "contacts":
            left = _future(frame, "ended_at", as_of)
            frame.loc[left, "ended_at"] = later  # departures after as_of move around
            started = _future(frame, "started_at", as_of)
            frame.loc[started, "role"] = "champion"
            frame = frame[~(started & (rng.random(len(frame)) < 0.5))]
        elif name == "goals":
            achieved = _future(frame, "achieved_at", as_of)
            frame.loc[achieved, "achieved"] = frame.loc[achieved, "target"]
            frame.loc[achieved, "achieved_at"] = later
            created = _future(frame, "created_at", as_of)
            frame = frame[~(created & (rng.random(len(frame)) < 0.5))]
        elif name == "contracts":
            ending = _future(frame, "end_date", as_of)
            frame.loc[ending, "outcome"] = "downgraded"  # outcomes are never read
            frame.loc[ending, "renewal_arr"] = 1.0
        out[name] = frame.reset_index(drop=True)
    return out


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month=st.integers(min_value=3, max_value=11), seed=st.integers(0, 2**16))
def test_rows_at_or_after_as_of_never_move_a_feature(world, month, seed):
    as_of = pd.Timestamp("2024-07-01") + pd.DateOffset(months=month)
    spine = make_spine(world, as_of=as_of)
    assert len(spine) > 0
    before = build_features(world, spine)
    after = build_features(scramble_after(world, as_of, seed), spine)
    columns = feature_columns(before)
    assert len(columns) >= 40
    pd.testing.assert_frame_equal(before[columns], after[columns])


def test_the_scramble_does_change_features_when_as_of_moves_earlier(world):
    """Guard against a vacuous property: the same scramble one month early does move features."""
    as_of = pd.Timestamp("2025-03-01")
    spine = make_spine(world, as_of=as_of)
    before = build_features(world, spine)
    after = build_features(scramble_after(world, as_of - pd.DateOffset(months=1), 1), spine)
    columns = feature_columns(before)
    changed = [c for c in columns if not before[c].equals(after[c])]
    assert {"events_30d", "tickets_30d"} <= set(changed), changed


# --- the same property on a subscription export: cancellations, churn events and new
# subscriptions after as_of move neither the population, the current terms nor a feature ------
@pytest.fixture(scope="module")
def exported(world):
    from pathlib import Path

    from churnml.data.load import load_tables
    from churnml.data.synthetic import export_subscriptions

    mapping = Path(__file__).parent / "data" / "subscriptions_mapping.yaml"
    tables = load_tables(export_subscriptions(world, seed=11), mapping=mapping)
    return {k: v for k, v in tables.items() if k != "contracts"}  # cut anew from the scramble


def scramble_billing_after(tables: dict, as_of: pd.Timestamp, seed: int) -> dict:
    """Every billing fact dated at or after as_of is deleted, undone or moved later."""
    rng = np.random.default_rng(seed)
    out = scramble_after(tables, as_of, seed)
    subs = tables["subscriptions"].copy()
    later = pd.to_timedelta(rng.integers(1, 90, len(subs)), unit="D")
    undo = rng.random(len(subs)) < 0.5
    for column in ("end_date", "canceled_at"):
        future = _future(subs, column, as_of)
        subs.loc[future & undo, column] = pd.NaT  # still running, as far as anyone knows
        subs.loc[future & ~undo, column] = subs.loc[future & ~undo, column] + later[future & ~undo]
    started = _future(subs, "start_date", as_of)
    out["subscriptions"] = subs[~(started & undo)].reset_index(drop=True)
    events = tables["churn_events"].copy()
    future = _future(events, "churned_at", as_of)
    events.loc[future, "churned_at"] += pd.Timedelta(days=45)
    out["churn_events"] = events[~(future & (rng.random(len(events)) < 0.5))].reset_index(drop=True)
    return out


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month=st.integers(min_value=4, max_value=11), seed=st.integers(0, 2**16))
def test_billing_after_as_of_moves_no_snapshot_and_no_feature(exported, month, seed):
    as_of = pd.Timestamp("2024-07-01") + pd.DateOffset(months=month)
    changed = scramble_billing_after(exported, as_of, seed)
    kept = ["account_id", "as_of", "contract_id", "renewal_date", "days_to_renewal", "arr", "seats"]
    for label in ("window", "renewal"):
        before = make_spine(exported, as_of=as_of, label=label)
        after = make_spine(changed, as_of=as_of, label=label)
        assert len(before) > 10
        pd.testing.assert_frame_equal(before[kept], after[kept])
    spine = make_spine(exported, as_of=as_of, label="window")
    features = build_features(exported, spine)
    columns = feature_columns(features)
    assert len(columns) >= 40
    pd.testing.assert_frame_equal(features[columns], build_features(changed, spine)[columns])


def test_the_billing_scramble_moves_the_population_when_as_of_is_later(exported):
    """Guard against a vacuous property: the scramble at an earlier date does drop or add
    snapshots and change window labels at a later as_of."""
    as_of = pd.Timestamp("2025-05-01")
    changed = scramble_billing_after(exported, as_of - pd.DateOffset(months=4), 3)
    before = make_spine(exported, as_of=as_of, label="window")
    after = make_spine(changed, as_of=as_of, label="window")
    assert set(before["account_id"]) != set(after["account_id"])
