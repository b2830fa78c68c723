"""The two label definitions and the rule that only customers are snapshotted.

- ``renewal``: the outcome of the renewal term that ends within ``horizon_days`` of ``as_of``
  (1 churned, 0 renewed / expanded / downgraded, missing while open); for businesses that renew
  contracts on dates.
- ``window``: 1 when the account churns within ``horizon_days`` after ``as_of`` (all its
  subscriptions end, or a churn event), 0 when it does not; missing until the whole window lies
  inside the data. For monthly, usage-based and product-led businesses, where every day is a
  renewal decision.
- ``auto``: ``renewal`` when the contracts carry outcomes, ``window`` otherwise.

Either way an account is a snapshot only while it is a customer at ``as_of``: not after it
churned (the churn event's date when there is one), unless a new subscription or contract started
since. Everything here is vectorised (``merge_asof`` per account) and reads no clock.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LABELS", "customers", "resolve_label", "window_labels"]

LABELS = ("auto", "renewal", "window")


def resolve_label(label: str, tables: dict) -> tuple[str, str]:
    """The label definition to use, and why (``auto`` decides from the data).

    Examples
    --------
    >>> resolve_label("auto", {"contracts": pd.DataFrame({"outcome": ["renewed"]})})
    ('renewal', 'auto: the contracts carry outcomes')
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, but got label={label!r}")
    if label != "auto":
        return label, "set in the model config"
    from churnml.data.subscriptions import is_derived

    contracts = tables.get("contracts")
    if contracts is None:
        return "window", "auto: no contracts"
    if is_derived(contracts):
        return "window", "auto: the renewal terms are cut from subscriptions, not contracts with outcomes"
    if "outcome" in contracts and contracts["outcome"].notna().any():
        return "renewal", "auto: the contracts carry outcomes"
    return "window", "auto: the contracts carry no outcomes"


def coverage_start(terms: pd.DataFrame) -> pd.Series:
    """When the billing item behind each term started: its subscription's start for terms cut
    from subscriptions, the term's own start for contracts."""
    start = pd.to_datetime(terms["start_date"])
    if "subscription_id" not in terms:
        return start
    return start.groupby(terms["subscription_id"].astype("str")).transform("min")


def customers(pairs: pd.DataFrame, churn: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep the (term, as_of) pairs of accounts that are customers at as_of.

    An account that churned before ``as_of`` is not a customer, unless one of its active terms
    belongs to a subscription or contract that started after that churn (it came back).

    Parameters
    ----------
    pairs : DataFrame
        account_id, as_of, coverage_start (see :func:`coverage_start`) per active term and date.
    churn : DataFrame
        account_id, churned_at (:func:`churnml.data.churn.account_churn`).

    Returns
    -------
    (DataFrame, int)
        The kept pairs (original order) and the number of (account, as_of) snapshots dropped.
    """
    if not len(churn) or not len(pairs):
        return pairs, 0
    last = _asof(pairs, churn, direction="backward", exact=False)
    latest = pairs.groupby(["account_id", "as_of"])["coverage_start"].transform("max")
    keep = last.isna().to_numpy() | (latest.to_numpy() > last.to_numpy())
    dropped = pairs.loc[~keep, ["account_id", "as_of"]].drop_duplicates()
    return pairs[keep], len(dropped)


def _asof(rows: pd.DataFrame, churn: pd.DataFrame, *, direction: str, exact: bool) -> pd.Series:
    """For each row, the account's churn date before (or at / after) as_of; NaT when none."""
    left = pd.DataFrame({"account_id": rows["account_id"].astype("str").to_numpy(dtype=object),
                         "as_of": pd.to_datetime(rows["as_of"]).astype("datetime64[us]").to_numpy(),
                         "_row": np.arange(len(rows))}).sort_values("as_of")
    right = pd.DataFrame({"account_id": churn["account_id"].astype("str").to_numpy(dtype=object),
                          "churned_at": churn["churned_at"].astype("datetime64[us]").to_numpy()})
    right = right.dropna().sort_values("churned_at")
    left["account_id"] = left["account_id"].astype(object)
    right["account_id"] = right["account_id"].astype(object)
    joined = pd.merge_asof(left, right, left_on="as_of", right_on="churned_at", by="account_id",
                           direction=direction, allow_exact_matches=exact)
    return pd.Series(joined.sort_values("_row")["churned_at"].to_numpy(), index=rows.index)


def window_labels(rows: pd.DataFrame, churn: pd.DataFrame, horizon_days: int, data_end):
    """Window label of each (account, as_of) row: 1 when a churn falls in
    ``[as_of, as_of + horizon_days)``, 0 when none does, missing while the window reaches past
    ``data_end`` (both classes wait for the whole window, so neither is known earlier).

    Returns
    -------
    (Series of Int8, Series of str)
        The label and the outcome word (``churned``, ``retained``, ``open``).
    """
    as_of = pd.to_datetime(rows["as_of"])
    closes = as_of + pd.Timedelta(days=int(horizon_days))
    following = _asof(rows, churn, direction="forward", exact=True)
    churns = following.notna() & (following < closes)
    known = closes <= pd.Timestamp(data_end) if not pd.isna(data_end) else pd.Series(False, index=rows.index)
    label = pd.Series(pd.NA, index=rows.index, dtype="Int8")
    label[known & churns] = 1
    label[known & ~churns] = 0
    outcome = np.select([label.eq(1).fillna(False), label.eq(0).fillna(False)], ["churned", "retained"], "open")
    return label, pd.Series(outcome, index=rows.index, dtype="str")
