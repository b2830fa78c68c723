"""Whether an account continues past the end of one of its billing items (a subscription or a term).

An item that stops is *continued* when another item of the same account runs past its stop and
started before the stop or within ``NEAR_DAYS`` after it: an upgrade or downgrade to a new
subscription, a consolidation, or another product line that goes on. Otherwise the account's
coverage ends there: that is churn. One self-join per account, vectorised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: a new item starting this many days before or after another's stop replaces it
NEAR_DAYS = 31
#: relative ARR change below which a continuation is a plain renewal
ARR_TOLERANCE = 0.01


def continuation(items: pd.DataFrame, *, start="start", stop="stop", arr="arr") -> pd.DataFrame:
    """Per item with a stop: does the account continue past it, and with how much ARR?

    Parameters
    ----------
    items : DataFrame
        One row per item with ``account_id``, ``start``, ``stop`` (NaT = still running) and ``arr``
        columns (names configurable); dates as ``datetime64``.

    Returns
    -------
    DataFrame
        Indexed like ``items``: ``continues`` (bool), ``concurrent_arr`` (ARR of the account's other
        items that ran before the stop and go on), ``successor_arr`` (ARR of items starting around
        the stop), ``successor_start`` (the first of those starts, NaT when none).

    Examples
    --------
    >>> items = pd.DataFrame({"account_id": ["a", "a", "b"],
    ...     "start": pd.to_datetime(["2024-01-01", "2025-01-01", "2024-01-01"]),
    ...     "stop": pd.to_datetime(["2025-01-01", None, "2025-01-01"]), "arr": [10.0, 20.0, 5.0]})
    >>> continuation(items)["continues"].tolist()
    [True, False, False]
    """
    near = pd.Timedelta(days=NEAR_DAYS)
    frame = pd.DataFrame(
        {
            "_pos": np.arange(len(items)),
            "account_id": items["account_id"].astype("str").to_numpy(),
            "start": pd.to_datetime(items[start]).to_numpy(),
            "stop": pd.to_datetime(items[stop]).to_numpy(),
            "arr": pd.to_numeric(items[arr], errors="coerce").fillna(0.0).to_numpy(),
        }
    )
    ended = frame[frame["stop"].notna()]
    pairs = ended.merge(frame, on="account_id", suffixes=("", "_o"))
    pairs = pairs[pairs["_pos"] != pairs["_pos_o"]]
    runs_on = pairs["stop_o"].isna() | (pairs["stop_o"] > pairs["stop"])
    started = pairs["start_o"] <= pairs["stop"] + near
    goes_on = runs_on & started
    new = goes_on & (pairs["start_o"] >= pairs["stop"] - near) & (pairs["start_o"] > pairs["start"])
    pairs = pairs.assign(
        goes_on=goes_on,
        concurrent_arr=pairs["arr_o"].where(goes_on & ~new, 0.0),
        successor_arr=pairs["arr_o"].where(new, 0.0),
        successor_start=pairs["start_o"].where(new),
    )
    sums = pairs.groupby("_pos").agg(
        continues=("goes_on", "any"),
        concurrent_arr=("concurrent_arr", "sum"),
        successor_arr=("successor_arr", "sum"),
        successor_start=("successor_start", "min"),
    )
    out = pd.DataFrame(
        {
            "continues": False,
            "concurrent_arr": 0.0,
            "successor_arr": 0.0,
            "successor_start": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]"),
        },
        index=frame.index,
    )
    at = sums.index.to_numpy()
    out.loc[at, "continues"] = sums["continues"].to_numpy(dtype=bool)
    out.loc[at, "concurrent_arr"] = sums["concurrent_arr"].to_numpy(dtype="float64")
    out.loc[at, "successor_arr"] = sums["successor_arr"].to_numpy(dtype="float64")
    out.loc[at, "successor_start"] = sums["successor_start"].to_numpy()
    out.index = items.index
    return out


def continued_outcome(arr, cont: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``expanded`` / ``downgraded`` / ``renewed`` of continued items and their renewal ARR.

    The account's ARR after the stop (concurrent + successors) against before it (the item +
    concurrent); renewal ARR is the item's share after the change (``successor_arr``).
    """
    arr = pd.to_numeric(pd.Series(arr), errors="coerce").fillna(0.0).to_numpy()
    before = arr + cont["concurrent_arr"].to_numpy()
    after = cont["concurrent_arr"].to_numpy() + cont["successor_arr"].to_numpy()
    outcome = np.select(
        [after > before * (1 + ARR_TOLERANCE), after < before * (1 - ARR_TOLERANCE)],
        ["expanded", "downgraded"],
        "renewed",
    )
    return outcome, cont["successor_arr"].to_numpy()
