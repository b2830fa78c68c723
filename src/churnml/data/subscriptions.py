"""Renewal terms and their outcomes from billing subscriptions.

Most companies' billing data is one row per subscription (start, optional end or cancellation,
MRR or ARR, billing period), not pre-cut renewal terms. churnml cuts them itself, by these rules:

1. **Term length**: ``term_months``, else ``billing_period`` (monthly 1, quarterly 3, semiannual 6,
   annual 12), else annual (counted in the label audit).
2. **Terms run on billing anniversaries**: term *k* runs from ``start_date`` plus *k* terms to plus
   *k + 1* terms, in calendar months (a start on the 31st renews on the last day of shorter months).
3. **A subscription stops** at ``end_date``; with only ``canceled_at``, at the end of the term in
   progress (cancel at period end); with neither it is active. A stop up to ``SNAP_DAYS`` after an
   anniversary counts as that anniversary.
4. **Its last term ends on the billing anniversary at or after the stop**, never on the
   cancellation or churn date: churned and renewed terms share one renewal calendar. (Cutting
   churned terms at the churn date while renewed ones end on anniversaries gives the label away
   through days to renewal and term length.) A term left early stays active only until the stop
   (``stopped_at``).
5. **Outcomes**: every term before the last is ``renewed``. At the last one, when another
   subscription of the account runs past the stop and started before it or within
   :data:`~churnml.data.continuation.NEAR_DAYS` after it, the account continued: ``expanded``,
   ``downgraded`` or ``renewed`` as its ARR after the stop compares with before (beyond ±1 %).
   Otherwise it ``churned``; the account churned at ``canceled_at``, else at the stop
   (``churned_at``; a churn event of the account dates it instead, see :mod:`churnml.data.churn`).
6. **Open**: an active subscription's terms run through the end of the data plus
   ``SCORING_DAYS`` (so scoring just after the data's end finds every current term); any term that
   ends at or after the end of the data is ``open``, whatever its subscription does later.

:func:`with_renewal_terms` is the one place where derived terms join the tables: ``load_tables``,
``make_spine`` and ``build_features`` all call it, so every entry point sees the same terms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.contract import BILLING_PERIODS
from churnml.data.continuation import continuation, continued_outcome

__all__ = ["is_derived", "renewal_terms", "with_renewal_terms"]

SNAP_DAYS = 3
SCORING_DAYS = 31
DEFAULT_TERM_MONTHS = 12
#: attrs key on a derived contracts frame: where the terms came from and what was dropped
ATTRS_KEY = "churnml_terms"
_DAY = np.timedelta64(1, "D")


def add_months(days: np.ndarray, months) -> np.ndarray:
    """``days`` (datetime64[D]) plus whole calendar months, clipped to the last day of the month.

    Examples
    --------
    >>> add_months(np.array(["2024-01-31"], dtype="datetime64[D]"), np.array([1]))
    array(['2024-02-29'], dtype='datetime64[D]')
    """
    month = days.astype("datetime64[M]")
    day = (days - month.astype("datetime64[D]")).astype("int64")
    target = month + np.asarray(months, dtype="int64")
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype("int64")
    return target.astype("datetime64[D]") + np.minimum(day, length - 1).astype("timedelta64[D]")


def _last_anniversary(start: np.ndarray, term: np.ndarray, when: np.ndarray) -> np.ndarray:
    """Index k of the last anniversary ``start + k * term`` months at or before ``when`` (>= 0)."""
    raw = (when.astype("datetime64[M]") - start.astype("datetime64[M]")).astype("int64")
    k = np.maximum(raw // term, 0)
    return np.where(add_months(start, k * term) > when, np.maximum(k - 1, 0), k)


def _term_months(subs: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Months per term of each subscription, and how many were assumed annual."""
    n = len(subs)
    months = np.full(n, np.nan)
    if "term_months" in subs:
        given = pd.to_numeric(subs["term_months"], errors="coerce").to_numpy(dtype="float64")
        months = np.where(given >= 1, given, np.nan)
    if "billing_period" in subs:
        period = subs["billing_period"].astype("str").str.strip().str.lower()
        from_period = period.map(BILLING_PERIODS).to_numpy(dtype="float64", na_value=np.nan)
        months = np.where(np.isnan(months), from_period, months)
    assumed = np.isnan(months)
    return np.where(assumed, DEFAULT_TERM_MONTHS, months).astype("int64"), int(assumed.sum())


def _usable(subs: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Subscriptions that can be cut into terms, and the dropped ones with the reason."""
    arr = _arr(subs)
    start = pd.to_datetime(subs["start_date"])
    end = pd.to_datetime(subs["end_date"] if "end_date" in subs else pd.Series(pd.NaT, index=subs.index))
    reasons = [
        (subs["account_id"].isna(), "no account_id"),
        (subs["subscription_id"].isna(), "no subscription_id"),
        (start.isna(), "no start_date"),
        (np.isnan(arr), "neither mrr nor arr"),
        (end.notna() & (end.dt.normalize() < start.dt.normalize()), "end_date before start_date"),
    ]
    keep = np.ones(len(subs), dtype=bool)
    dropped = []
    for mask, why in reasons:
        bad = np.asarray(mask, dtype=bool) & keep
        if bad.any():
            dropped.append({"table": "subscriptions", "count": int(bad.sum()), "why": why,
                            "examples": subs.loc[bad, "subscription_id"].astype("str").head(3).tolist()})
        keep &= ~bad
    return subs[keep], dropped


def _arr(subs: pd.DataFrame) -> np.ndarray:
    """ARR: ``arr``, else 12 x ``mrr``."""
    arr = np.full(len(subs), np.nan)
    if "arr" in subs:
        arr = pd.to_numeric(subs["arr"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if "mrr" in subs:
        mrr = pd.to_numeric(subs["mrr"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        arr = np.where(np.isnan(arr), 12.0 * mrr, arr)
    return arr


def _stops(subs: pd.DataFrame, start: np.ndarray, term: np.ndarray) -> np.ndarray:
    """When each subscription stops (datetime64[D], NaT while active): end_date, else the end of
    the term in progress at canceled_at."""
    nat = np.full(len(subs), np.datetime64("NaT"), dtype="datetime64[D]")
    end = (pd.to_datetime(subs["end_date"]).to_numpy("datetime64[D]") if "end_date" in subs else nat)
    if "canceled_at" not in subs:
        return end
    canceled = pd.to_datetime(subs["canceled_at"]).to_numpy("datetime64[D]")
    k = _last_anniversary(start, term, np.where(np.isnat(canceled), start, canceled))
    at_period_end = add_months(start, (k + 1) * term)
    return np.where(np.isnat(end) & ~np.isnat(canceled), at_period_end, end)


def renewal_terms(subscriptions: pd.DataFrame, data_end) -> pd.DataFrame:
    """Cut subscriptions into renewal terms with outcomes (the rules are in the module docstring).

    Parameters
    ----------
    subscriptions : DataFrame
        The contract's subscriptions table (parsed: timestamps as ``datetime64``).
    data_end : Timestamp
        The day after the last dated row of the data (:func:`churnml.data.observed.observed_until`):
        terms ending later are open.

    Returns
    -------
    DataFrame
        Contracts-shaped: contract_id (``<subscription_id>:<k>``), account_id, start_date,
        end_date, arr, seats, outcome, outcome_date, renewal_arr, subscription_id, stopped_at,
        churned_at; ``attrs["churnml_terms"]`` holds ``dropped`` (rows left out and why) and
        ``assumed_annual``.

    Examples
    --------
    >>> subs = pd.DataFrame({"subscription_id": ["s1"], "account_id": ["a"],
    ...     "start_date": pd.to_datetime(["2024-01-15"]), "end_date": pd.to_datetime(["2025-01-15"]),
    ...     "canceled_at": pd.to_datetime(["2024-12-20"]), "mrr": [100.0], "billing_period": ["annual"]})
    >>> renewal_terms(subs, pd.Timestamp("2025-06-01"))[["end_date", "outcome", "churned_at"]]
        end_date  outcome churned_at
    0 2025-01-15  churned 2024-12-20
    """
    subs, dropped = _usable(subscriptions)
    subs = subs.reset_index(drop=True)
    term, assumed = _term_months(subs)
    start = pd.to_datetime(subs["start_date"]).to_numpy("datetime64[D]")
    stop = _stops(subs, start, term)
    closed = ~np.isnat(stop)
    end_day = np.datetime64(pd.Timestamp(data_end).date(), "D")
    until = np.full(len(subs), end_day + SCORING_DAYS * _DAY)
    k = _last_anniversary(start, term, np.where(closed, stop, until))
    snapped = (k >= 1) & (stop - add_months(start, k * term) <= SNAP_DAYS * _DAY)
    n_terms = np.where(closed & snapped, k, k + 1)

    row = np.repeat(np.arange(len(subs)), n_terms)
    j = np.arange(len(row)) - np.repeat(np.cumsum(n_terms) - n_terms, n_terms)
    last = j == n_terms[row] - 1
    t_start = add_months(start[row], j * term[row])
    t_end = add_months(start[row], (j + 1) * term[row])
    arr = _arr(subs)
    frame = pd.DataFrame(
        {
            "contract_id": subs["subscription_id"].astype("str").to_numpy()[row]
            + ":" + (j + 1).astype("str"),
            "account_id": subs["account_id"].astype("str").to_numpy()[row],
            "start_date": t_start.astype("datetime64[us]"),
            "end_date": t_end.astype("datetime64[us]"),
            "arr": arr[row],
            "seats": pd.to_numeric(subs["seats"], errors="coerce").to_numpy(dtype="float64")[row]
            if "seats" in subs else np.nan,
        }
    )
    _outcomes(frame, subs, row, last, stop, arr, end_day)
    frame["subscription_id"] = subs["subscription_id"].astype("str").to_numpy()[row]
    frame.attrs[ATTRS_KEY] = {"source": "subscriptions", "dropped": dropped,
                              "assumed_annual": assumed, "subscriptions": len(subs)}
    return frame


def _outcomes(frame, subs, row, last, stop, arr, end_day) -> None:
    """outcome, outcome_date, renewal_arr, stopped_at and churned_at of every term (in place)."""
    items = pd.DataFrame({"account_id": subs["account_id"].astype("str"), "start": subs["start_date"],
                          "stop": pd.Series(stop).astype("datetime64[us]"), "arr": arr})
    cont = continuation(items)
    moved, successor_arr = continued_outcome(arr, cont)
    stop_t = stop.astype("datetime64[us]")
    canceled = (pd.to_datetime(subs["canceled_at"]).to_numpy("datetime64[us]") if "canceled_at" in subs
                else np.full(len(subs), np.datetime64("NaT"), dtype="datetime64[us]"))
    closed = ~np.isnat(stop_t)
    churned = closed & ~cont["continues"].to_numpy()
    churned_at = np.where(churned, np.where(np.isnat(canceled), stop_t, canceled), np.datetime64("NaT"))
    known_at = np.maximum(stop_t, cont["successor_start"].to_numpy("datetime64[us]"))
    known_at = np.where(np.isnat(known_at), stop_t, known_at)

    end = frame["end_date"].to_numpy("datetime64[us]")
    at_last = last & closed[row]
    outcome = np.where(at_last, np.where(churned[row], "churned", moved[row]), "renewed")
    outcome_date = np.where(at_last, np.where(churned[row], churned_at[row], known_at[row]), end)
    renewal = np.where(at_last, np.where(churned[row], np.nan, successor_arr[row]), arr[row])
    is_open = (last & ~closed[row]) | (end >= np.datetime64(end_day, "us"))
    frame["outcome"] = pd.array(np.where(is_open, "open", outcome), dtype="string")
    frame["outcome_date"] = np.where(is_open, np.datetime64("NaT"), outcome_date).astype("datetime64[us]")
    frame["renewal_arr"] = np.where(is_open, np.nan, renewal)
    early = at_last & (stop_t[row] < end)
    frame["stopped_at"] = np.where(early, stop_t[row], np.datetime64("NaT")).astype("datetime64[us]")
    frame["churned_at"] = np.where(last, churned_at[row], np.datetime64("NaT")).astype("datetime64[us]")


def is_derived(contracts) -> bool:
    """Whether a contracts frame holds terms cut from subscriptions (by this module)."""
    return contracts is not None and (ATTRS_KEY in contracts.attrs or "churned_at" in contracts)


def with_renewal_terms(tables: dict) -> dict:
    """``tables`` with renewal terms as ``contracts``: derived from ``subscriptions`` when no
    contracts are given (contracts win when both are); unchanged when already derived or when the
    subscriptions lack a required column (validation reports that).

    Examples
    --------
    >>> tables = with_renewal_terms(load_tables("export/", mapping="mapping.yaml"))  # doctest: +SKIP
    >>> tables["contracts"].attrs["churnml_terms"]["source"]  # doctest: +SKIP
    'subscriptions'
    """
    subs = tables.get("subscriptions")
    if subs is None or tables.get("contracts") is not None:
        return tables
    needed = ("subscription_id", "account_id", "start_date")
    if any(c not in subs for c in needed) or not any(c in subs for c in ("arr", "mrr")):
        return tables
    from churnml.data.observed import observed_until

    data_end = observed_until({k: v for k, v in tables.items() if k != "contracts"})
    if pd.isna(data_end):
        data_end = pd.to_datetime(subs["start_date"]).max() + pd.Timedelta(days=1)
    return {**tables, "contracts": renewal_terms(subs, data_end)}
