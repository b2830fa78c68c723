"""The outer merge of two runs' contribution rows on (row, indicator), as pandas' merge gives it.

:func:`churnml.explain.changes.what_changed` pairs every indicator of this run with the same
indicator of the account's previous run. On millions of rows a merge on a string column is slow;
:func:`outer_by_row_and_indicator` merges on one int64 key instead and, when each side's keys are
unique, finds their union on a grid of (row, indicator) slots without sorting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def outer_by_row_and_indicator(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """``now`` outer-merged with ``before`` on (_row, indicator), suffix ``_before``: the merge
    pandas gives, made on one int64 key (row × indicators + the indicator's rank in sorted
    order, so the outer merge's sorted key order is the same) instead of a string column."""
    dtype = now["indicator"].dtype
    if not (isinstance(dtype, pd.StringDtype) and before["indicator"].dtype == dtype) or (
        now["indicator"].isna().any() or before["indicator"].isna().any()
    ):
        return now.merge(before, on=["_row", "indicator"], how="outer", suffixes=("", "_before"))
    codes, names = pd.factorize(
        pd.concat([now["indicator"], before["indicator"]], ignore_index=True), sort=True
    )
    width = max(len(names), 1)
    key = np.concatenate([now["_row"].to_numpy(np.int64), before["_row"].to_numpy(np.int64)])
    key = key * width + codes
    left = now.drop(columns=["_row", "indicator"]).assign(_key=key[: len(now)])
    right = before.drop(columns=["_row", "indicator"]).assign(_key=key[len(now) :])
    both = _outer_unique(left, right)
    if both is None:  # a key repeats on a side (repeated feature rows): pandas pairs them up
        both = left.merge(right, on="_key", how="outer", suffixes=("", "_before"))
    merged = both.pop("_key").to_numpy()
    both.insert(0, "_row", merged // width)
    both.insert(1, "indicator", pd.array(names, dtype=dtype).take(merged % width))
    return both


def _outer_unique(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame | None:
    """The outer merge on ``_key`` (the sorted union of the keys, NaN where a side lacks one)
    when each side's keys are unique and its other columns floats; else None.

    The keys (row × indicators + indicator) index a grid about as large as the frames: marking
    each side's keys in it gives the union in order without sorting millions of keys."""
    lk, rk = left["_key"].to_numpy(), right["_key"].to_numpy()
    values = [*left.drop(columns="_key").dtypes, *right.drop(columns="_key").dtypes]
    if not all(isinstance(d, np.dtype) and d.kind == "f" for d in values):
        return None
    size = int(max(lk.max(initial=-1), rk.max(initial=-1))) + 1
    if size > 8 * (len(lk) + len(rk)) + 1024:
        return None
    union = np.zeros(size, dtype=bool)
    for keys in (lk, rk):
        seen = np.zeros(size, dtype=bool)
        seen[keys] = True
        if np.count_nonzero(seen) != len(keys):  # a key repeats on this side
            return None
        union |= seen
    slot = np.cumsum(union) - 1  # each key's position in the union
    union = np.flatnonzero(union)
    out = {"_key": union}
    for frame, keys, suffix in ((left, lk, ""), (right, rk, "_before")):
        at = slot[keys]
        for name in frame.columns.drop("_key"):
            column = np.full(len(union), np.nan, dtype=frame[name].dtype)
            column[at] = frame[name].to_numpy()
            out[name + suffix] = column
    return pd.DataFrame(out)
