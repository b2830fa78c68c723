"""Duplicate rows found through row hashes are exactly pandas' ``duplicated(keep="first")``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.data import duplicates
from churnml.data.duplicates import duplicated_rows


def usage_like(n=3000, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    quantity = rng.integers(0, 3, n).astype("float32")
    quantity[rng.random(n) < 0.05] = np.nan
    quantity[rng.random(n) < 0.05] = -0.0  # equal to 0.0 for duplicated, other bits for a hash
    return pd.DataFrame(
        {
            "account_id": pd.Categorical(rng.choice(["A1", "A2", "A3"], n)),
            "user_id": pd.array(rng.choice(["u1", "u2", None], n), dtype="string"),
            "ts": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 5, n), unit="D"),
            "event": rng.choice(["login", "report"], n).astype(object),
            "quantity": quantity,
        },
        index=rng.permutation(n) + 100,  # not a RangeIndex
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_same_mask_as_pandas(seed):
    frame = usage_like(seed=seed)
    columns = list(frame.columns)
    expected = frame.duplicated(subset=columns, keep="first").to_numpy()
    got = duplicated_rows(frame, columns)
    assert expected.sum() > 100 and np.array_equal(got, expected)
    assert np.array_equal(duplicated_rows(frame, columns[:2]), frame.duplicated(columns[:2]))


def test_colliding_hashes_are_decided_exactly(monkeypatch):
    frame = usage_like(n=500)
    columns = list(frame.columns)
    monkeypatch.setattr(  # every row the same hash: all go through the exact comparison
        duplicates.pd.util, "hash_pandas_object",
        lambda f, index=False: pd.Series(np.zeros(len(f), dtype=np.uint64)),
    )  # fmt: skip
    expected = frame.duplicated(subset=columns, keep="first").to_numpy()
    assert np.array_equal(duplicated_rows(frame, columns), expected)


def test_no_duplicates_and_tiny_frames():
    frame = pd.DataFrame({"a": np.arange(1000), "b": np.arange(1000) * 0.5})
    assert not duplicated_rows(frame, ["a", "b"]).any()
    assert duplicated_rows(frame.iloc[:1], ["a"]).tolist() == [False]
    assert duplicated_rows(frame.iloc[:0], ["a"]).tolist() == []
