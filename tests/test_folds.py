"""Out-of-time folds: expanding windows, the renewal guard, the held-out test snapshots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.model.folds import out_of_time_folds, trainable_before


def snapshot_frame(n_accounts=200, months=30, seed=0, end="2026-01-01"):
    """Monthly snapshots of yearly contracts; label = outcome of the next renewal (NA after end)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-07-01")
    as_of = pd.date_range(start, periods=months, freq="MS")
    offset = rng.integers(0, 365, n_accounts)
    risk = rng.normal(size=n_accounts)
    acc = np.repeat(np.arange(n_accounts), months)
    t = np.tile(as_of.to_numpy(), n_accounts)
    first = start + pd.to_timedelta(offset, unit="D")
    days = (t - first.to_numpy()[acc]) / np.timedelta64(1, "D")
    k = np.maximum(np.ceil(days / 365), 0)
    renewal = first.to_numpy()[acc] + (k * 365).astype("timedelta64[D]")
    renewal = np.where(renewal <= t, renewal + np.timedelta64(365, "D"), renewal)
    frame = pd.DataFrame({"account_id": acc.astype(str), "as_of": t, "renewal_date": renewal})
    frame = frame[(frame.renewal_date - frame.as_of).dt.days <= 180].reset_index(drop=True)
    frame["contract_id"] = frame.account_id + "-" + frame.renewal_date.dt.strftime("%Y%m%d")
    contracts = frame.contract_id.unique()
    c_risk = pd.Series(
        risk[frame.drop_duplicates("contract_id").account_id.astype(int).to_numpy()],
        index=contracts,
    )
    p = 1 / (1 + np.exp(-(-2.0 + 1.5 * c_risk)))
    outcome = pd.Series(rng.random(len(contracts)) < p, index=contracts).astype("Int8")
    frame["label"] = outcome.reindex(frame.contract_id).to_numpy()
    frame.loc[frame.renewal_date >= pd.Timestamp(end), "label"] = pd.NA
    frame["usage_change"] = risk[frame.account_id.astype(int)] + rng.normal(size=len(frame))
    frame["tickets"] = rng.poisson(np.exp(0.3 * risk[frame.account_id.astype(int)]))
    frame["segment"] = pd.Categorical(
        np.array(["enterprise", "mid_market", "smb"])[frame.account_id.astype(int) % 3]
    )
    return frame


@pytest.fixture(scope="module")
def frame():
    return snapshot_frame()


def test_renewal_guard_no_training_row_renews_after_cutoff(frame):
    folds, _test = out_of_time_folds(frame, n_folds=4, test_snapshots=2)
    assert len(folds) == 4
    for train, valid in folds:
        cutoff = frame.as_of.iloc[valid].min()
        assert (frame.renewal_date.iloc[train] < cutoff).all()
        assert (frame.as_of.iloc[train] < cutoff).all()
        # the guard bites: some row dated before the cut-off renews after it and is left out
        before = frame.index[(frame.as_of < cutoff) & frame.label.notna()]
        assert len(np.setdiff1d(before, train)) > 0
        assert (
            set(frame.renewal_date.iloc[np.setdiff1d(before, train)])
            and (frame.renewal_date.iloc[np.setdiff1d(before, train)] >= cutoff).all()
        )
        assert frame.label.iloc[train].notna().all() and frame.label.iloc[valid].notna().all()


def test_expanding_windows_and_test_held_out(frame):
    folds, test = out_of_time_folds(frame, n_folds=3, test_snapshots=2)
    test_dates = np.sort(frame.as_of.iloc[test].unique())
    assert len(test_dates) == 2
    resolved = frame.groupby("as_of").label.apply(lambda s: s.notna().mean())
    assert test_dates[-1] == resolved[resolved >= 0.9].index.max()
    sizes = [len(tr) for tr, _ in folds]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    starts = [frame.as_of.iloc[va].min() for _, va in folds]
    assert starts == sorted(starts)
    for train, valid in folds:
        assert not set(train) & set(test) and not set(valid) & set(test)
        assert frame.as_of.iloc[valid].max() < test_dates.min()


def test_gap_days_and_errors(frame):
    folds, _ = out_of_time_folds(frame, n_folds=2, gap_days=90)
    for train, valid in folds:
        cutoff = frame.as_of.iloc[valid].min()
        assert (frame.as_of.iloc[train] < cutoff - pd.Timedelta(days=90)).all()
    with pytest.raises(ValueError, match="n_folds=0"):
        out_of_time_folds(frame, n_folds=0)
    with pytest.raises(ValueError, match="'when'"):
        out_of_time_folds(frame, time_column="when")


def test_trainable_before_changes_when_renewal_moves_past_cutoff(frame):
    cutoff = pd.Timestamp("2025-01-01")
    mask = trainable_before(frame, cutoff)
    moved = frame.copy()
    row = np.flatnonzero(mask)[0]
    moved.loc[row, "renewal_date"] = cutoff
    assert mask[row] and not trainable_before(moved, cutoff)[row]


def test_folds_and_model_on_synthetic_features(features_small, saas_small):
    """On the shared synthetic features: leak-free folds, a fitted model that ranks test rows."""
    from sklearn.metrics import roc_auc_score

    from churnml.features.engine import feature_columns
    from churnml.model.estimator import ChurnModel

    frame = features_small
    folds, test = out_of_time_folds(frame, n_folds=2, test_snapshots=2)
    for train, valid in folds:
        assert (frame.renewal_date.iloc[train] < frame.as_of.iloc[valid].min()).all()
    cutoff = frame.as_of.iloc[test].min()
    train = frame[trainable_before(frame, cutoff)]
    model = ChurnModel(feature_columns=feature_columns(frame), n_estimators=200).fit(train)
    assert set(model.feature_names_in_) == set(feature_columns(frame))
    y = frame.label.iloc[test].astype(int)
    p = model.predict_proba(frame.iloc[test])[:, 1]
    oracle = saas_small["oracle"].set_index("contract_id")["churn_probability"]
    o = frame.contract_id.iloc[test].map(oracle)
    assert roc_auc_score(y, p) > 0.6
    assert roc_auc_score(y, p) <= roc_auc_score(y[o.notna()], o[o.notna()]) + 0.05
