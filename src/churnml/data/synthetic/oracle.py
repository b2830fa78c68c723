"""The synthetic world's true churn probability for snapshot rows, under either label.

- ``renewal``: the probability the world drew for the renewal term of the row (``oracle``, by
  ``contract_id``; for terms churnml cut from an export, the world's term of the same account
  ending within ``SNAP_DAYS`` of the row's renewal date).
- ``window``: the probability that the account churns within ``[as_of, as_of + horizon)``, given
  that it is a customer at ``as_of``: ``1 - prod(1 - p)`` over the world's terms whose churn would be
  decided inside the window (``oracle_terms``, which also holds the terms an earlier churn cut off,
  so a churned account's row is not made to look safer than it was).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["oracle_probability", "renewal_probability", "window_probability"]

SNAP_DAYS = 3


def window_probability(terms: pd.DataFrame, rows: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """P(churn decided in ``[as_of, as_of + horizon_days)``) for each (account_id, as_of) row.

    Examples
    --------
    >>> terms = pd.DataFrame({"account_id": ["a", "a"], "decided_at": pd.to_datetime(
    ...     ["2025-02-20", "2025-03-20"]), "churn_probability": [0.1, 0.2]})
    >>> rows = pd.DataFrame({"account_id": ["a"], "as_of": pd.to_datetime(["2025-02-01"])})
    >>> round(float(window_probability(terms, rows, 60)[0]), 3)
    0.28
    """
    keys = pd.DataFrame({"account_id": rows["account_id"].astype("str").to_numpy(dtype=object),
                         "as_of": pd.to_datetime(rows["as_of"]).to_numpy(),
                         "_row": np.arange(len(rows))})
    world = pd.DataFrame({"account_id": terms["account_id"].astype("str").to_numpy(dtype=object),
                          "decided_at": pd.to_datetime(terms["decided_at"]).to_numpy(),
                          "p": pd.to_numeric(terms["churn_probability"]).fillna(0.0).to_numpy()})
    pairs = keys.merge(world, on="account_id")
    inside = (pairs["decided_at"] >= pairs["as_of"]) & (
        pairs["decided_at"] < pairs["as_of"] + pd.Timedelta(days=int(horizon_days)))
    survive = np.log1p(-pairs.loc[inside, "p"].clip(upper=1 - 1e-12))
    total = survive.groupby(pairs.loc[inside, "_row"]).sum()
    out = np.zeros(len(rows))
    out[total.index.to_numpy()] = 1.0 - np.exp(total.to_numpy())
    return out


def renewal_probability(oracle: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """The world's probability for each row's renewal term (NaN when it has none)."""
    lookup = oracle.drop_duplicates("contract_id").set_index("contract_id")["churn_probability"]
    values = rows["contract_id"].astype(str).map(lookup).to_numpy(dtype=float)
    if not np.isnan(values).all() or "renewal_date" not in rows:
        return values
    # terms churnml cut from an export: the world's term of the account ending at the same time
    left = pd.DataFrame({"account_id": rows["account_id"].astype("str").to_numpy(dtype=object),
                         "when": pd.to_datetime(rows["renewal_date"]).astype("datetime64[ns]").to_numpy(),
                         "_row": np.arange(len(rows))}).sort_values("when")
    right = pd.DataFrame({"account_id": oracle["account_id"].astype("str").to_numpy(dtype=object),
                          "when": pd.to_datetime(oracle["end_date"]).astype("datetime64[ns]").to_numpy(),
                          "p": oracle["churn_probability"].to_numpy(dtype=float)}).sort_values("when")
    joined = pd.merge_asof(left, right, on="when", by="account_id", direction="nearest",
                           tolerance=pd.Timedelta(days=SNAP_DAYS))
    return joined.sort_values("_row")["p"].to_numpy(dtype=float)


def oracle_probability(tables, rows: pd.DataFrame, *, label: str = "renewal",
                       horizon_days: int = 180) -> np.ndarray | None:
    """The oracle for ``rows`` under ``label``; None when the tables carry no oracle for it."""
    if tables is None:
        return None
    if label == "window":
        terms = tables.get("oracle_terms")
        if terms is None:
            return None
        return window_probability(terms, rows, horizon_days)
    oracle = tables.get("oracle")
    if oracle is None or "contract_id" not in rows.columns:
        return None
    return renewal_probability(oracle, rows)
