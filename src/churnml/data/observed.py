"""How far the data reaches: the day after its last dated row, never the clock.

Outcomes are known only up to there: a renewal term that ends later is still open, and a
rolling-window label is resolved only when its whole window lies before it.
"""

from __future__ import annotations

import pandas as pd

from churnml.data.subscriptions import is_derived
from churnml.sources.lazy import as_span

#: columns that date something that happened (future-dated columns such as a scheduled
#: ``end_date`` or a goal's ``due_at`` are left out; contract starts only as a last resort)
HAPPENED = {
    "usage": ("ts",),
    "tickets": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "goals": ("created_at", "achieved_at"),
    "contacts": ("started_at", "ended_at"),
    "churn_events": ("churned_at",),
    "subscriptions": ("start_date", "canceled_at"),
    "contracts": ("outcome_date",),
}


def observed_until(tables: dict) -> pd.Timestamp:
    """The day after the latest dated row of any table (midnight, tz-naive UTC).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables; contract ``start_date`` counts only when no other table is dated.

    Returns
    -------
    Timestamp, or NaT when nothing is dated.

    Examples
    --------
    >>> observed_until({"usage": pd.DataFrame({"ts": pd.to_datetime(["2025-06-30 10:00"])})})
    Timestamp('2025-07-01 00:00:00')
    """
    latest = []
    for name, columns in HAPPENED.items():
        frame = as_span(tables.get(name))  # a lazy usage table: its first and last time
        if frame is None or (name == "contracts" and is_derived(frame)):
            continue  # terms cut from subscriptions: their dates come from the data, not to it
        for column in columns:
            if column in frame.columns and len(frame):
                latest.append(pd.to_datetime(frame[column]).max())
    latest = [t for t in latest if not pd.isna(t)]
    if not latest and tables.get("contracts") is not None and "start_date" in tables["contracts"]:
        latest = [pd.to_datetime(tables["contracts"]["start_date"]).max()]
        latest = [t for t in latest if not pd.isna(t)]
    if not latest:
        return pd.NaT
    return (max(latest).normalize() + pd.Timedelta(days=1)).as_unit("us")
