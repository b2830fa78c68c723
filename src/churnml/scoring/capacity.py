"""Capacity per CSM: each CSM's book ranked by expected ARR at risk and cut at what they can work.

A CSM works a handful of accounts a week, so the meeting should start with the accounts where
their time saves the most: per scoring date and CSM, accounts are ranked by the **expected ARR
at risk** — probability × ARR, times the *saveability* of the account's leading risk area when
the config gives one (a budget cut is saved less often than an adoption gap) — and the first
``capacity_per_csm`` (default :data:`DEFAULT_CAPACITY`) are the CSM's focus list. Accounts
without a CSM form one book of their own ("no CSM").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_CAPACITY = 5
NO_CSM = "(no CSM)"


def books_settings(model, capacity_per_csm=None, saveability=None) -> dict:
    """The capacity and saveability to apply: the arguments, else the model config's, else the
    defaults (``DEFAULT_CAPACITY``, no saveability)."""
    config = getattr(model, "config_", None)
    if capacity_per_csm is None:
        capacity_per_csm = getattr(config, "capacity_per_csm", None) or DEFAULT_CAPACITY
    if saveability is None:
        saveability = getattr(config, "saveability", None) or {}
    return {"capacity_per_csm": int(capacity_per_csm), "saveability": dict(saveability)}


def rank_books(
    scores: pd.DataFrame,
    *,
    capacity_per_csm: int = DEFAULT_CAPACITY,
    saveability=None,
    rescored: bool = True,
) -> pd.DataFrame:
    """``scores`` with ``expected_arr_at_risk``, ``csm_rank`` and ``csm_focus`` (same rows).

    Parameters
    ----------
    scores : DataFrame
        Needs account_id, as_of, probability, arr and csm; ``top_family`` (the leading risk
        area) when ``saveability`` is given.
    capacity_per_csm : int
        Accounts each CSM discusses per scoring date.
    saveability : mapping of str to float, optional
        Family -> the share of its at-risk ARR a CSM can typically save (0 to 1); an account
        whose leading area has none (or has no leading area) counts with 1.
    rescored : bool
        False ranks by the frame's own ``expected_arr_at_risk`` when it has one (a report
        ranking books again for other CSMs keeps the scoring run's saveability).

    Returns
    -------
    DataFrame
        ``csm_rank`` is 1 for the account to discuss first in its CSM's book on its ``as_of``
        (ties by probability, then account id); ``csm_focus`` marks the first
        ``capacity_per_csm``. Accounts without ARR or probability rank last.

    Examples
    --------
    >>> scores = pd.DataFrame({"account_id": ["a", "b", "c"], "csm": ["Ann", "Ann", "Bo"],
    ...     "as_of": pd.Timestamp("2026-07-01"), "probability": [0.2, 0.6, 0.1],
    ...     "arr": [100.0, 50.0, 10.0]})
    >>> ranked = rank_books(scores, capacity_per_csm=1)
    >>> ranked[["account_id", "csm_rank", "csm_focus"]].values.tolist()
    [['a', 2, False], ['b', 1, True], ['c', 1, True]]
    """
    if not isinstance(capacity_per_csm, (int, np.integer)) or capacity_per_csm < 1:
        raise ValueError(
            f"capacity_per_csm must be a whole number of at least 1, but got "
            f"capacity_per_csm={capacity_per_csm!r}"
        )
    factor = np.ones(len(scores))
    if saveability and "top_family" in scores:
        mapped = scores["top_family"].astype("string").map(dict(saveability))
        factor = pd.to_numeric(mapped, errors="coerce").fillna(1.0).to_numpy(dtype=np.float64)
    probability = pd.to_numeric(scores["probability"]).to_numpy(dtype=np.float64, na_value=np.nan)
    arr = pd.to_numeric(scores["arr"]).to_numpy(dtype=np.float64, na_value=np.nan)
    expected = probability * arr * factor
    if not rescored and "expected_arr_at_risk" in scores:
        expected = pd.to_numeric(scores["expected_arr_at_risk"]).to_numpy(
            np.float64, na_value=np.nan
        )
    order = pd.DataFrame(
        {
            "as_of": pd.to_datetime(scores["as_of"]).to_numpy(),
            "csm": scores["csm"].astype("string").fillna(NO_CSM).to_numpy(dtype=object),
            "expected": np.nan_to_num(expected, nan=-np.inf),
            "probability": np.nan_to_num(probability, nan=-np.inf),
            "account_id": scores["account_id"].astype("string").to_numpy(dtype=object),
            "_row": np.arange(len(scores)),
        }
    ).sort_values(
        ["as_of", "csm", "expected", "probability", "account_id"],
        ascending=[True, True, False, False, True],
        kind="stable",
    )
    rank = np.empty(len(scores), dtype=np.int64)
    rank[order["_row"].to_numpy()] = order.groupby(["as_of", "csm"], sort=False).cumcount() + 1
    out = scores.copy()
    out["expected_arr_at_risk"] = expected
    out["csm_rank"] = pd.array(rank, dtype="Int32")
    out["csm_focus"] = rank <= int(capacity_per_csm)
    return out
