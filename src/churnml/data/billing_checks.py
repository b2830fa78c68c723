"""Validation checks of the billing tables: subscriptions, and how churn events agree with them.

Part of :func:`churnml.data.validate.validate`; each check returns finding dicts like
:mod:`churnml.data.checks`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.checks import finding, row_labels

#: statuses that say a subscription is over
CLOSED_STATUSES = ("canceled", "cancelled", "ended", "churned", "expired", "inactive", "terminated")


def subscription_rules(tables) -> list[dict]:
    """Dates in order, amounts not negative, a known term length, a closed status with a date."""
    subs = tables.get("subscriptions")
    if subs is None or "start_date" not in subs:
        return []
    out = []
    for column, severity in (("end_date", "fatal"), ("canceled_at", "warning")):
        if column in subs:
            bad = subs[column].notna() & (subs[column] < subs["start_date"])
            if bad.any():
                out.append(finding("subscriptions", column, f"{column}_before_start", severity, bad.sum(),
                                   row_labels(subs, bad, "subscriptions", ("start_date", column)),
                                   f"{int(bad.sum())} subscriptions have {column} before start_date"
                                   + ("" if severity == "fatal" else "; the cancellation is taken as is")))
    for column in ("mrr", "arr"):
        if column in subs:
            bad = pd.to_numeric(subs[column], errors="coerce") < 0
            if bad.any():
                out.append(finding("subscriptions", column, "negative_arr", "fatal", bad.sum(),
                                   row_labels(subs, bad, "subscriptions", (column,)),
                                   f"{int(bad.sum())} subscriptions have negative {column}"))
    return out + _term_lengths(subs) + _closed_without_date(subs)


def _term_lengths(subs: pd.DataFrame) -> list[dict]:
    from churnml.data.contract import BILLING_PERIODS

    months = (pd.to_numeric(subs["term_months"], errors="coerce") if "term_months" in subs
              else pd.Series(np.nan, index=subs.index))
    if "billing_period" in subs:
        period = subs["billing_period"].astype("str").str.strip().str.lower().map(BILLING_PERIODS)
        months = months.fillna(pd.to_numeric(period, errors="coerce"))
    unknown = months.isna() | (months < 1)
    if not unknown.any():
        return []
    return [finding("subscriptions", "billing_period|term_months", "term_length_assumed", "warning",
                    unknown.sum(), row_labels(subs, unknown, "subscriptions", ("billing_period",)),
                    f"{int(unknown.sum())} subscriptions have no billing_period (monthly, quarterly, "
                    "semiannual, annual) or term_months; their renewal terms are taken as annual")]


def _closed_without_date(subs: pd.DataFrame) -> list[dict]:
    if "status" not in subs:
        return []
    closed = subs["status"].astype("str").str.strip().str.lower().isin(CLOSED_STATUSES)
    for column in ("end_date", "canceled_at"):
        if column in subs:
            closed &= subs[column].isna()
    if not closed.any():
        return []
    return [finding("subscriptions", "status", "closed_without_date", "warning", closed.sum(),
                    row_labels(subs, closed, "subscriptions", ("status",)),
                    f"{int(closed.sum())} subscriptions have a closed status but neither end_date nor "
                    "canceled_at; they are treated as still active (map the date they ended)")]


def billing_choice(tables) -> list[dict]:
    """Which billing table gives the renewal terms when both are given."""
    from churnml.data.subscriptions import is_derived

    contracts, subs = tables.get("contracts"), tables.get("subscriptions")
    if contracts is None or subs is None or is_derived(contracts):
        return []
    return [finding("subscriptions", "", "not_used", "info", len(subs), [],
                    "both contracts and subscriptions are given: the renewal terms come from the "
                    "contracts; the subscriptions are not used (leave one out to choose)")]


def churn_agreement(tables) -> list[dict]:
    """How churn events agree with the billing tables: events near a billing end, billing churn
    without an event, and events whose account's billing goes on."""
    events = tables.get("churn_events")
    if events is None or not len(events) or "churned_at" not in events:
        return []
    from churnml.data.churn import EVENT_MATCH_DAYS, billing_churn, match_events
    from churnml.data.observed import observed_until
    from churnml.data.subscriptions import with_renewal_terms

    tables = with_renewal_terms(tables)
    terms = tables.get("contracts")
    if terms is None or "end_date" not in terms:
        return []
    plain = pd.DataFrame({"account_id": events["account_id"].astype("str"),
                          "event_at": pd.to_datetime(events["churned_at"]).astype("datetime64[us]")})
    plain = plain[plain["event_at"].notna() & events["account_id"].notna().to_numpy()]
    ends = _billing_ends(tables, terms)
    nearest = pd.merge_asof(plain.sort_values("event_at"), ends.sort_values("churned_at"),
                            left_on="event_at", right_on="churned_at", by="account_id",
                            direction="nearest", tolerance=pd.Timedelta(days=EVENT_MATCH_DAYS))
    near = int(nearest["churned_at"].notna().sum())
    billing = billing_churn(terms, observed_until(tables))
    matched = match_events(billing, plain)
    out = [finding("churn_events", "churned_at", "near_billing_end", "info", near, [],
                   f"{near} of {len(plain)} churn events ({near / max(len(plain), 1):.0%}) fall within "
                   f"{EVENT_MATCH_DAYS} days of a subscription or contract end")]
    silent = matched[matched["event_at"].isna()].drop_duplicates("account_id")
    if len(silent):
        examples = [f"{r.account_id} ({r.churned_at:%Y-%m-%d})" for r in silent.head(3).itertuples()]
        out.append(finding("churn_events", "account_id", "churn_without_event", "warning", len(silent),
                           examples, f"{len(silent)} accounts churned by their billing with no churn "
                           "event near it; their billing dates the churn"))
    used = set(matched["_event"].dropna().astype(int))
    alone = plain.reset_index(drop=True)
    alone = alone[~np.isin(np.arange(len(alone)), list(used))]
    if len(alone):
        examples = [f"{r.account_id} ({r.event_at:%Y-%m-%d})" for r in alone.head(3).itertuples()]
        out.append(finding("churn_events", "churned_at", "event_without_churn", "warning", len(alone),
                           examples, f"{len(alone)} churn events match no end of the account's "
                           "billing; each still counts as a churn of its account at its date"))
    return out


def _billing_ends(tables, terms: pd.DataFrame) -> pd.DataFrame:
    """Every end of a subscription (end_date, else canceled_at) or contract term, per account."""
    subs = tables.get("subscriptions")
    if subs is not None and "churned_at" in terms:
        end = subs["end_date"] if "end_date" in subs else pd.Series(pd.NaT, index=subs.index)
        if "canceled_at" in subs:
            end = end.fillna(subs["canceled_at"])
        frame = pd.DataFrame({"account_id": subs["account_id"].astype("str"), "churned_at": end})
    else:
        frame = pd.DataFrame({"account_id": terms["account_id"].astype("str"), "churned_at": terms["end_date"]})
    frame["churned_at"] = pd.to_datetime(frame["churned_at"]).astype("datetime64[us]")
    return frame.dropna().reset_index(drop=True)
