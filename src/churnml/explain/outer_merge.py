"""The merges of two runs' contribution rows, as pandas' merge gives them, on integer codes.

:func:`churnml.explain.changes.what_changed` finds each scored row's contribution rows of this
run and of its previous run (:func:`inner_by_account_and_date`), then pairs every indicator of
this run with the same indicator of the previous one (:func:`outer_by_row_and_indicator`). On
millions of rows merges on a string column are slow: both merge on int64 codes instead, the
outer one, when each side's keys are unique, on a grid of (row, indicator) slots without sorting.
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


def inner_by_account_and_date(keys: pd.DataFrame, on: str, rows: pd.DataFrame) -> pd.DataFrame:
    """``keys[["_row", "account_id", on]]`` inner-merged with ``rows`` on (account_id, as_of),
    without the two key columns: the merge pandas gives (rows in ``keys`` order, then ``rows``
    order), found through one int64 code per (account, date) pair instead of a string column.

    Dates are compared at nanosecond resolution whatever each side's unit; missing accounts or
    dates match each other, as in pandas' merge. When a pair repeats among ``keys`` the codes
    are merged by pandas (which pairs the repeats up)."""
    ours, theirs = keys["account_id"], rows["account_id"]
    if not (isinstance(ours.dtype, pd.StringDtype) and theirs.dtype == ours.dtype):
        merged = keys[["_row", "account_id", on]].merge(
            rows.rename(columns={"as_of": on}), on=["account_id", on]
        )
        return merged.drop(columns=["account_id", on])
    code = _pair_codes(pd.concat([ours, theirs], ignore_index=True),
                       np.concatenate([_nanoseconds(keys[on]), _nanoseconds(rows["as_of"])]))
    left, right = code[: len(keys)], code[len(keys) :]
    values = rows.drop(columns=["account_id", "as_of"])
    index = pd.Index(left)
    if not index.is_unique:
        merged = pd.DataFrame({"_row": keys["_row"].to_numpy(), "_pair": left}).merge(
            values.assign(_pair=right), on="_pair"
        )
        return merged.drop(columns="_pair")
    at = index.get_indexer(right)
    found = np.flatnonzero(at >= 0)
    order = found
    if len(found) and np.any(at[found[1:]] < at[found[:-1]]):  # keys' order, when not already
        order = found[np.argsort(at[found], kind="stable")]
    out = values.iloc[order].reset_index(drop=True)
    out.insert(0, "_row", keys["_row"].to_numpy()[at[order]])
    return out


def _nanoseconds(dates) -> np.ndarray:
    """Dates as int64 nanoseconds (NaT the smallest int64, a value like the others)."""
    return pd.to_datetime(dates).to_numpy().astype("datetime64[ns]", copy=False).view(np.int64)


def _pair_codes(accounts: pd.Series, dates: np.ndarray) -> np.ndarray:
    """One int64 per (account, date), equal exactly where both are (missing values included)."""
    account, _ = pd.factorize(accounts, use_na_sentinel=False)
    day, distinct = pd.factorize(dates)
    return account.astype(np.int64, copy=False) * max(len(distinct), 1) + day
