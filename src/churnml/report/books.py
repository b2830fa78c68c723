"""Each CSM's book for the meeting pack: the accounts to discuss first, by expected ARR at risk.

``churnml score`` ranks every CSM's book (:mod:`churnml.scoring.capacity`: ``csm_rank``,
``csm_focus``); a scores file without those columns (or a report that takes the CSMs from
``--data``) is ranked here the same way.
"""

from __future__ import annotations

import pandas as pd

from churnml.scoring.capacity import DEFAULT_CAPACITY, NO_CSM, rank_books


def ranked(scores: pd.DataFrame, capacity_per_csm: int | None = None) -> pd.DataFrame:
    """``scores`` with ``csm_rank`` and ``csm_focus``: as scored, or ranked again (by the scored
    expected ARR at risk when there is one) when they are missing or ``capacity_per_csm`` is
    given."""
    scored = "csm_rank" in scores and "csm_focus" in scores and scores["csm_rank"].notna().any()
    if scored and capacity_per_csm is None:
        return scores
    if not {"probability", "arr", "as_of"} <= set(scores.columns):
        return scores.assign(csm_rank=pd.NA, csm_focus=False)
    return rank_books(scores, capacity_per_csm=capacity_per_csm or DEFAULT_CAPACITY, rescored=False)


def books(scores: pd.DataFrame) -> list[dict]:
    """One dict per CSM with focus accounts: csm, the accounts (rows by ``csm_rank``), their
    expected ARR at risk; CSMs with the most expected ARR at risk first."""
    if "csm_focus" not in scores:
        return []
    focus = scores[scores["csm_focus"].fillna(False).astype(bool)].copy()
    if focus.empty:
        return []
    focus["_csm"] = focus["csm"].astype("string").fillna(NO_CSM).replace("—", NO_CSM)
    focus["_expected"] = pd.to_numeric(focus.get("expected_arr_at_risk", focus["arr_at_risk"]))
    out = []
    for csm, rows in focus.groupby("_csm", sort=False):
        rows = rows.sort_values("csm_rank", kind="stable")
        out.append(
            {
                "csm": str(csm),
                "expected": float(rows["_expected"].sum()),
                "rows": rows.drop(columns=["_csm", "_expected"]).to_dict("records"),
            }
        )
    return sorted(out, key=lambda b: (-b["expected"], b["csm"]))
