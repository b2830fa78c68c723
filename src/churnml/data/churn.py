"""When accounts churned: from the billing terms, dated by churn events where there are some.

An account churns when its billing coverage ends with nothing to continue it (see
:mod:`churnml.data.continuation`):

- terms derived from subscriptions carry ``churned_at`` (the cancellation, else the stop);
- contracts with an ``outcome``: a ``churned`` term the account does not continue past, at its
  ``outcome_date`` (else its ``end_date``);
- contracts without outcomes: a term that ended before the end of the data with nothing after it,
  at its ``end_date``.

A churn event of the same account within ``EVENT_MATCH_DAYS`` of such a billing churn dates it
instead; a churn event that matches none is a churn on its own (the account churned although
its billing does not show it). One frame, vectorised: ``merge_asof`` per account.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.continuation import continuation
from churnml.data.subscriptions import is_derived

__all__ = ["EVENT_MATCH_DAYS", "account_churn", "billing_churn"]

EVENT_MATCH_DAYS = 90
CHURN_COLUMNS = ("account_id", "churned_at", "source")


def billing_churn(contracts: pd.DataFrame | None, data_end=None) -> pd.DataFrame:
    """Account churns shown by the billing terms: account_id, churned_at, stop (the term's end).

    Parameters
    ----------
    contracts : DataFrame or None
        Renewal terms (given contracts, or derived from subscriptions).
    data_end : Timestamp, optional
        End of the data; without outcomes, only coverage that ended before it is churn.
    """
    empty = pd.DataFrame({"account_id": pd.Series(dtype="str"),
                          "churned_at": pd.Series(dtype="datetime64[us]"),
                          "stop": pd.Series(dtype="datetime64[us]")})
    if contracts is None or not len(contracts) or "end_date" not in contracts:
        return empty
    account = contracts["account_id"].astype("str")
    end = pd.to_datetime(contracts["end_date"]).astype("datetime64[us]")
    if is_derived(contracts):  # cut from subscriptions: each knows whether its account churned
        when = pd.to_datetime(contracts["churned_at"]).astype("datetime64[us]")
        hit = when.notna()
    else:
        items = pd.DataFrame({"account_id": account, "start": contracts["start_date"], "stop": end,
                              "arr": contracts["arr"] if "arr" in contracts else 0.0})
        alone = ~continuation(items)["continues"].to_numpy()
        if "outcome" in contracts:
            churned = contracts["outcome"].astype("str").str.strip().str.lower().eq("churned")
            hit = churned.to_numpy() & alone
            decided = (pd.to_datetime(contracts["outcome_date"]) if "outcome_date" in contracts
                       else pd.Series(pd.NaT, index=contracts.index))
            when = decided.astype("datetime64[us]").fillna(end)
        else:
            limit = pd.Timestamp(data_end) if data_end is not None and not pd.isna(data_end) else None
            hit = alone & (end.notna() & (end < limit) if limit is not None else False)
            when = end
        hit = np.asarray(hit, dtype=bool) & end.notna().to_numpy()
    out = pd.DataFrame({"account_id": account[hit].to_numpy(), "churned_at": when[hit].to_numpy(),
                        "stop": end[hit].to_numpy()})
    return out.astype({"churned_at": "datetime64[us]", "stop": "datetime64[us]"})


def _events(tables: dict) -> pd.DataFrame:
    events = tables.get("churn_events")
    if events is None or not {"account_id", "churned_at"} <= set(events.columns):
        return pd.DataFrame({"account_id": pd.Series(dtype="str"),
                             "event_at": pd.Series(dtype="datetime64[us]")})
    frame = pd.DataFrame({"account_id": events["account_id"].astype("str").to_numpy(),
                          "event_at": pd.to_datetime(events["churned_at"]).astype("datetime64[us]")})
    return frame[frame["event_at"].notna() & events["account_id"].notna().to_numpy()]


def match_events(billing: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Each billing churn with the nearest churn event of its account within EVENT_MATCH_DAYS of
    its date or its term's end (``event_at``, NaT when none); ``_event`` is the event's position."""
    events = events.reset_index(drop=True).assign(_event=lambda f: np.arange(len(f)))
    events["account_id"] = events["account_id"].astype("str")
    left = billing.reset_index(drop=True).assign(_billing=lambda f: np.arange(len(f)))
    left["account_id"] = left["account_id"].astype("str")
    tolerance = pd.Timedelta(days=EVENT_MATCH_DAYS)
    right = events.sort_values("event_at")
    matches = []
    for key in ("churned_at", "stop"):
        part = pd.merge_asof(left.sort_values(key), right, left_on=key, right_on="event_at",
                             by="account_id", direction="nearest", tolerance=tolerance)
        matches.append(part.set_index("_billing")[["event_at", "_event"]])
    first, second = matches
    first = first.reindex(left["_billing"])
    second = second.reindex(left["_billing"])
    use_second = first["event_at"].isna()
    left["event_at"] = first["event_at"].where(~use_second, second["event_at"]).to_numpy()
    left["_event"] = first["_event"].where(~use_second, second["_event"]).to_numpy()
    return left.drop(columns="_billing")


def account_churn(tables: dict, data_end=None) -> pd.DataFrame:
    """Every account churn: account_id, churned_at, source (``billing``, ``event`` or
    ``billing+event``), sorted by account and date.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables with renewal terms as ``contracts`` (see
        :func:`churnml.data.subscriptions.with_renewal_terms`), optionally ``churn_events``.
    data_end : Timestamp, optional
        End of the data (:func:`churnml.data.observed.observed_until`); computed when omitted.

    Examples
    --------
    >>> churn = account_churn(tables)  # doctest: +SKIP
    >>> churn.groupby("source").size()  # doctest: +SKIP
    """
    if data_end is None:
        from churnml.data.observed import observed_until

        data_end = observed_until(tables)
    billing = billing_churn(tables.get("contracts"), data_end)
    events = _events(tables)
    matched = match_events(billing, events)
    dated = matched["event_at"].notna()
    from_billing = pd.DataFrame({
        "account_id": matched["account_id"],
        "churned_at": matched["event_at"].where(dated, matched["churned_at"]),
        "source": np.where(dated, "billing+event", "billing"),
    })
    used = set(matched["_event"].dropna().astype(int))
    alone = events.reset_index(drop=True)
    alone = alone[~np.isin(np.arange(len(alone)), list(used))]
    from_events = pd.DataFrame({"account_id": alone["account_id"], "churned_at": alone["event_at"],
                                "source": "event"})
    out = pd.concat([from_billing, from_events], ignore_index=True)
    out["churned_at"] = pd.to_datetime(out["churned_at"]).astype("datetime64[us]")
    out["account_id"] = out["account_id"].astype("str")
    return out.sort_values(["account_id", "churned_at"], ignore_index=True)[list(CHURN_COLUMNS)]
