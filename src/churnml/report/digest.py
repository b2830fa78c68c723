"""A plain-text digest of the red accounts: what ``churnml score`` prints at the end of a run."""

from __future__ import annotations

import pandas as pd

#: scoring warnings about the run as a whole, printed before the red accounts
RUN_WARNINGS = ("no_signal", "as_of_after_data", "as_of_before_data", "base_rate_estimated")


def run_warnings(warnings) -> list[str]:
    """Messages of the run-level warnings (:data:`RUN_WARNINGS`) among scoring ``warnings``."""
    return [w["message"] for w in warnings or [] if w.get("kind") in RUN_WARNINGS]


def red_digest(scores: pd.DataFrame, n: int = 5, *, warnings=None) -> str:
    """The ``n`` red accounts with the most ARR at risk, each with its reasons and play, after
    the run-level ``warnings`` (no signal, an ``as_of`` outside the data), one ``warning:`` line
    each.

    Examples
    --------
    >>> scores = pd.DataFrame({"account_id": ["A1"], "name": ["Acme"], "tier": ["red"],
    ...     "score": [81], "arr": [120000.0], "arr_at_risk": [97200.0], "days_to_renewal": [40],
    ...     "trend": ["rising"], "risk_areas": ["Relationship 70%"],
    ...     "change_summary": ["Risk up 12 points since 1 Jun 2026: No executive sponsor (+9)"],
    ...     "top_reasons": ["No executive sponsor"], "play": ["Find a sponsor"],
    ...     "play_owner": ["Executive sponsor"]})
    >>> print(red_digest(scores))
    1 red account; the 1 with the most ARR at risk:
    1. Acme (A1): score 81, rising; ARR 120,000, 97,200 at risk; renewal in 40 days
       Risk up 12 points since 1 Jun 2026: No executive sponsor (+9)
       risk by area: Relationship 70%
       - No executive sponsor
       play: Find a sponsor (owner: Executive sponsor)
    """
    notes = [f"warning: {message}" for message in run_warnings(warnings)]
    red = scores[scores["tier"].astype("string") == "red"]
    if red.empty:
        return "\n".join([*notes, "no red accounts"])
    top = red.sort_values("arr_at_risk", ascending=False).head(n)
    lines = [*notes, (f"{len(red)} red account{'s' if len(red) != 1 else ''}; "
                      f"the {len(top)} with the most ARR at risk:")]
    for i, row in enumerate(top.to_dict("records"), start=1):
        name = row.get("name") if pd.notna(row.get("name")) else row["account_id"]
        trend = f", {row['trend']}" if pd.notna(row.get("trend")) else ""
        lines.append(
            f"{i}. {name} ({row['account_id']}): score {row['score']}{trend}; "
            f"ARR {row['arr']:,.0f}, {row['arr_at_risk']:,.0f} at risk; "
            f"renewal in {row['days_to_renewal']} days"
        )
        for column, prefix in (("change_summary", ""), ("risk_areas", "risk by area: ")):
            if pd.notna(row.get(column)):
                lines.append(f"   {prefix}{row[column]}")
        reasons = str(row.get("top_reasons") or "").splitlines()
        lines.extend(f"   - {reason}" for reason in reasons if reason.strip())
        if pd.notna(row.get("play")):
            owner = f" (owner: {row['play_owner']})" if pd.notna(row.get("play_owner")) else ""
            lines.append(f"   play: {row['play']}{owner}")
    return "\n".join(lines)
