"""Snapshots: ``as_of`` dates, the population at each date, and its label.

The population at ``as_of``: accounts that are customers then — with a renewal term active at
``as_of`` (``start_date <= as_of < end_date``) and not churned before it (see
:mod:`churnml.labels`). With the ``renewal`` label, only accounts whose term renews within
``horizon_days`` of ``as_of`` (an end exactly ``horizon_days`` later is included); with ``window``,
every customer. When an account has overlapping terms, the one ending first is its current term.
Nothing here reads the clock.

Renewal label (nullable ``Int8``): 1 when the term's outcome is ``churned`` (or ``downgraded``
losing more than ``downgrade_churn_share`` of its ARR, when that share is given); 0 when
``renewed``, ``expanded`` or any other ``downgraded``; missing when the outcome is ``open`` or
unknown. Window label: see :func:`churnml.labels.window_labels`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CADENCES", "as_of_dates", "label_outcomes", "make_spine"]

#: named cadences -> pandas offset aliases (anything else is passed to pandas as an alias)
CADENCES = {"monthly": "MS", "weekly": "W-MON", "quarterly": "QS", "daily": "D"}

SPINE_COLUMNS = (
    "account_id", "as_of", "contract_id", "renewal_date", "days_to_renewal",
    "arr", "seats", "segment", "outcome", "label", "label_date",
)  # fmt: skip
_NEEDED = ("contract_id", "account_id", "start_date", "end_date", "arr")
_UNIT = "datetime64[us]"


def _timestamp(value, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a date such as '2025-01-01', but got {value!r}") from None
    if stamp is pd.NaT:
        raise ValueError(f"{what} must be a date, but got {value!r}")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def as_of_dates(start, end, cadence: str = "monthly") -> pd.DatetimeIndex:
    """Snapshot dates from ``start`` to ``end`` (both inclusive) at ``cadence``.

    Parameters
    ----------
    start, end : date-like
    cadence : str
        ``"monthly"`` (month starts), ``"weekly"`` (Mondays), ``"quarterly"`` (quarter starts),
        ``"daily"``, or any pandas offset alias (``"2W-MON"``, ``"14D"``).

    Returns
    -------
    DatetimeIndex

    Examples
    --------
    >>> list(as_of_dates("2025-01-15", "2025-04-01").strftime("%Y-%m-%d"))
    ['2025-02-01', '2025-03-01', '2025-04-01']
    """
    start, end = _timestamp(start, "start"), _timestamp(end, "end")
    if end < start:
        raise ValueError(
            f"end must not be before start, but got start={start.date()} end={end.date()}"
        )
    freq = CADENCES.get(cadence, cadence)
    try:
        dates = pd.date_range(start, end, freq=freq)
    except ValueError:
        raise ValueError(
            f"cadence must be one of {sorted(CADENCES)} or a pandas offset alias, but got {cadence!r}"
        ) from None
    return pd.DatetimeIndex(dates.astype(_UNIT), name="as_of")


def label_outcomes(
    outcome: pd.Series, arr=None, renewal_arr=None, downgrade_churn_share=None
) -> pd.Series:
    """Renewal label from outcomes: 1 churned, 0 renewed/expanded/downgraded, <NA> otherwise.

    With ``downgrade_churn_share`` set, a downgrade whose ARR loss ``(arr - renewal_arr) / arr``
    exceeds the share is labelled 1; a downgrade without ``renewal_arr`` stays 0 (its loss is
    unknown, so it is not shown to exceed the share).
    """
    text = outcome.astype("str").str.strip().str.lower()
    label = pd.Series(pd.NA, index=outcome.index, dtype="Int8")
    label[text.eq("churned")] = 1
    label[text.isin(("renewed", "expanded", "downgraded"))] = 0
    if downgrade_churn_share is not None:
        if not 0 <= float(downgrade_churn_share) < 1:
            raise ValueError(
                f"downgrade_churn_share must be in [0, 1), but got downgrade_churn_share={downgrade_churn_share}"
            )
        if arr is not None and renewal_arr is not None:
            arr = pd.to_numeric(arr, errors="coerce").astype("float64")
            renewal = pd.to_numeric(renewal_arr, errors="coerce").astype("float64")
            loss = (arr - renewal) / arr.where(arr > 0)
            label[text.eq("downgraded") & loss.gt(float(downgrade_churn_share))] = 1
    return label


def _population(contracts: pd.DataFrame, dates: np.ndarray) -> pd.DataFrame:
    """(contract row, as_of) pairs with start <= as_of < end (and as_of < stopped_at, if any)."""
    start = contracts["start_date"].to_numpy(_UNIT)
    end = contracts["end_date"].to_numpy(_UNIT)
    if "stopped_at" in contracts:  # a subscription left early: its term is over at the stop
        stopped = contracts["stopped_at"].to_numpy(_UNIT)
        end = np.where(np.isnat(stopped), end, np.minimum(end, stopped))
    lo = np.searchsorted(dates, start, side="left")
    hi = np.searchsorted(dates, end, side="left")
    valid = ~(np.isnat(start) | np.isnat(end))
    counts = np.where(valid, np.clip(hi - lo, 0, None), 0)
    rows = np.repeat(np.arange(len(contracts)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pairs = contracts.iloc[rows].reset_index(drop=True)
    pairs.insert(0, "as_of", dates[np.repeat(lo, counts) + offsets])
    return pairs


def _terms(tables: dict) -> pd.DataFrame:
    """The renewal terms (given contracts, or cut from subscriptions), checked and typed."""
    if "contracts" not in tables:
        raise ValueError(
            "make_spine needs renewal terms: a contracts or a subscriptions table; "
            f"got tables {sorted(tables)}"
        )
    contracts = tables["contracts"]
    missing = [c for c in _NEEDED if c not in contracts.columns]
    if missing:
        raise ValueError(
            f"table contracts: missing required columns {missing}; it has {list(contracts.columns)}"
        )
    optional = ("seats", "outcome", "renewal_arr", "stopped_at", "subscription_id")
    frame = contracts[[*_NEEDED, *(c for c in optional if c in contracts.columns)]].copy()
    for column in ("start_date", "end_date", *(["stopped_at"] if "stopped_at" in frame else [])):
        frame[column] = pd.to_datetime(frame[column]).astype(_UNIT)
    frame["account_id"] = frame["account_id"].astype("str")
    frame["contract_id"] = frame["contract_id"].astype("str")
    from churnml.labels import coverage_start

    frame["coverage_start"] = coverage_start(frame).astype(_UNIT)
    return frame


def _dates(as_of, start, end, cadence, data_end) -> np.ndarray:
    if as_of is not None:
        values = [as_of] if np.ndim(as_of) == 0 else list(as_of)
        dates = pd.DatetimeIndex([_timestamp(v, "as_of") for v in values]).astype(_UNIT)
    else:
        if start is None:
            raise ValueError(
                "make_spine: give as_of (a date or a list) or start (with cadence, optional end)"
            )
        if end is None:
            end = data_end - pd.Timedelta(days=1) if not pd.isna(data_end) else start
        dates = as_of_dates(start, end, cadence)
    return np.unique(dates.to_numpy(_UNIT))


def make_spine(
    tables,
    as_of=None,
    *,
    start=None,
    end=None,
    cadence: str = "monthly",
    horizon_days: int = 180,
    downgrade_churn_share=None,
    label: str = "auto",
) -> pd.DataFrame:
    """The snapshot spine: one row per (customer account, ``as_of``) with its label.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables; needs ``contracts`` or ``subscriptions`` (cut into renewal terms by
        :func:`churnml.data.subscriptions.with_renewal_terms`); ``churn_events`` date churn;
        ``accounts`` adds ``segment``.
    as_of : date-like or list of date-like, optional
        Explicit snapshot date(s). Otherwise dates from ``start`` to ``end`` at ``cadence``;
        ``end`` defaults to the last day of the data (:func:`churnml.data.observed.observed_until`).
    cadence : str
        See :func:`as_of_dates`.
    horizon_days : int
        ``renewal``: renewals at most this many days after ``as_of`` are in the population;
        ``window``: the label window.
    downgrade_churn_share : float, optional
        ``renewal``: count a downgrade losing more than this share of ARR as churn.
    label : {"auto", "renewal", "window"}
        The label definition (see :mod:`churnml.labels`); ``auto`` is ``renewal`` when the
        contracts carry outcomes, ``window`` otherwise.

    Returns
    -------
    DataFrame
        account_id, as_of, contract_id, renewal_date, days_to_renewal, arr, seats, segment,
        outcome, label, label_date (when the label is known: the renewal date, or the end of the
        window); sorted by ``as_of`` then ``account_id``. The current term (the active one ending
        first) gives contract_id, renewal_date, arr and seats for either label. ``attrs`` holds
        ``label``, ``label_reason``, ``horizon_days``, ``observed_until`` and ``label_drops``
        (what was left out and why), which :func:`churnml.label_audit` reports.

    Examples
    --------
    >>> spine = make_spine(tables, start="2025-01-01", end="2025-12-01")  # doctest: +SKIP
    >>> spine.groupby("as_of")["label"].mean()  # doctest: +SKIP
    """
    from churnml.data.churn import account_churn
    from churnml.data.observed import observed_until
    from churnml.data.subscriptions import with_renewal_terms
    from churnml.labels import customers, resolve_label

    tables = with_renewal_terms(tables)
    terms = _terms(tables)
    if int(horizon_days) <= 0:
        raise ValueError(f"horizon_days must be at least 1, but got horizon_days={horizon_days}")
    label, reason = resolve_label(label, tables)
    data_end = observed_until(tables)
    dates = _dates(as_of, start, end, cadence, data_end)
    horizon = np.timedelta64(int(horizon_days), "D")

    pairs = _population(terms, dates)
    pairs, after_churn = customers(pairs, account_churn(tables, data_end))
    if label == "renewal":
        pairs = pairs[pairs["end_date"] - pairs["as_of"] <= horizon]
    pairs = pairs.sort_values(["account_id", "as_of", "end_date", "contract_id"], kind="stable")
    pairs = pairs.drop_duplicates(["account_id", "as_of"], keep="first").reset_index(drop=True)
    spine = _spine_frame(pairs, tables, label, horizon_days, downgrade_churn_share, data_end)
    spine.attrs.update(
        horizon_days=int(horizon_days), label=label, label_reason=reason,
        observed_until=None if pd.isna(data_end) else str(data_end.date()),
        label_drops=_drops(tables, terms, after_churn),
    )
    return spine


def _spine_frame(pairs, tables, label, horizon_days, downgrade_churn_share, data_end):
    if label == "window":
        from churnml.data.churn import account_churn
        from churnml.labels import window_labels

        labels, outcome = window_labels(pairs, account_churn(tables, data_end), horizon_days, data_end)
        label_date = pairs["as_of"] + pd.Timedelta(days=int(horizon_days))
    else:
        outcome = (pairs["outcome"] if "outcome" in pairs
                   else pd.Series(pd.NA, index=pairs.index, dtype="str"))
        labels = label_outcomes(outcome, pairs["arr"], pairs.get("renewal_arr"),
                                downgrade_churn_share=downgrade_churn_share)
        label_date = pairs["end_date"]
    spine = pd.DataFrame(
        {
            "account_id": pairs["account_id"],
            "as_of": pairs["as_of"],
            "contract_id": pairs["contract_id"],
            "renewal_date": pairs["end_date"],
            "days_to_renewal": (pairs["end_date"] - pairs["as_of"]).dt.days.astype("int32"),
            "arr": pd.to_numeric(pairs["arr"], errors="coerce").astype("float64"),
            "seats": pd.to_numeric(pairs["seats"], errors="coerce").astype("float64")
            if "seats" in pairs
            else np.nan,
            "outcome": outcome.astype("str"),
            "label": labels,
            "label_date": pd.to_datetime(label_date).astype(_UNIT),
        }
    )
    accounts = tables.get("accounts")
    if accounts is not None and "segment" in accounts.columns:
        segments = accounts.drop_duplicates("account_id").set_index(
            accounts["account_id"].astype("str")
        )
        spine.insert(7, "segment", spine["account_id"].map(segments["segment"]).astype("str"))
    else:
        spine.insert(7, "segment", pd.Series(pd.NA, index=spine.index, dtype="str"))
    spine = spine.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)
    return spine[list(SPINE_COLUMNS)]


def _drops(tables: dict, terms: pd.DataFrame, after_churn: int) -> list[dict]:
    """What the spine left out, and why (for :func:`churnml.label_audit`)."""
    from churnml.data.subscriptions import ATTRS_KEY, is_derived

    info = tables["contracts"].attrs.get(ATTRS_KEY, {})
    drops = [dict(d) for d in info.get("dropped", [])]
    if info.get("assumed_annual"):
        drops.append({"table": "subscriptions", "count": info["assumed_annual"], "examples": [],
                      "why": "no billing_period or term_months: kept, with annual terms assumed"})
    if not is_derived(tables["contracts"]) and tables.get("subscriptions") is not None:
        drops.append({"table": "subscriptions", "count": len(tables["subscriptions"]), "examples": [],
                      "why": "not used: the renewal terms come from the contracts table"})
    undated = terms["start_date"].isna() | terms["end_date"].isna()
    if undated.any():
        drops.append({"table": "contracts", "count": int(undated.sum()),
                      "examples": terms.loc[undated, "contract_id"].head(3).tolist(),
                      "why": "no start_date or end_date"})
    if after_churn:
        drops.append({"table": "snapshots", "count": int(after_churn), "examples": [],
                      "why": "the account had already churned at as_of (never trained on or scored)"})
    return drops


#: tables whose event times show when the data starts (activity) and ends (any event)
ACTIVITY_TABLES = ("usage", "tickets", "nps")


def data_period(tables: dict, *, warmup_days: int = 90) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last sensible ``as_of`` dates for snapshots of ``tables``.

    The first is ``warmup_days`` after the first recorded activity (usage, tickets, NPS; contract
    starts when there is none), so window indicators have history to read; the last is the day after
    the latest usage (or, without usage, the latest activity), so the newest snapshot sees every
    usage day. Never reads the clock.

    Examples
    --------
    >>> tables = {"contracts": pd.DataFrame({"start_date": pd.to_datetime(["2025-01-01"]),
    ...                                      "end_date": pd.to_datetime(["2026-01-01"])}),
    ...           "usage": pd.DataFrame({"ts": pd.to_datetime(["2025-02-01 08:00", "2025-06-30 10:00"])})}
    >>> [d.date().isoformat() for d in data_period(tables)]
    ['2025-05-02', '2025-07-01']
    """
    from churnml.data.contract import CONTRACT

    from churnml.sources.lazy import as_span

    firsts, lasts = [], []
    for name, spec in CONTRACT.items():
        frame = as_span(tables.get(name))  # a lazy usage table: its first and last time
        if frame is None or not spec.event_time or spec.event_time not in frame:
            continue
        times = pd.to_datetime(frame[spec.event_time]).dropna()
        if times.empty:
            continue
        if name in ACTIVITY_TABLES:
            firsts.append(times.min())
            lasts.append(times.max())
    if not firsts:  # no activity tables: contract (or subscription) starts bound the period
        billing = tables["contracts"] if "contracts" in tables else tables["subscriptions"]
        starts = pd.to_datetime(billing["start_date"]).dropna()
        if starts.empty:
            raise ValueError("data_period: no dated rows (need usage, tickets, NPS or contract starts)")
        firsts, lasts = [starts.min()], [starts.max()]
    start = (min(firsts) + pd.Timedelta(days=warmup_days)).normalize()
    # product usage is the densest feed and the one most indicators read: when it is there, the
    # period ends with it, so a tickets or NPS export that runs a few days longer does not leave
    # every usage window short of data
    usage = as_span(tables.get("usage"))
    if usage is not None and "ts" in usage and usage["ts"].notna().any():
        lasts = [pd.to_datetime(usage["ts"]).max()]
    end = max(lasts).normalize() + pd.Timedelta(days=1)
    return start, end
