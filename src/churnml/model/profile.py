"""What a model was trained on: a small data profile kept in ``training_info_["data_profile"]``.

:func:`measure` describes customer tables as seen from a spine of (account, as_of) rows — the
same measures at training time (the training snapshots) and at scoring time (the accounts scored
at ``as_of``), so scoring can compare the two (:mod:`churnml.scoring.drift`):

- ``tables``: rows of each contract table present;
- ``families``: per indicator family, its source table and its *coverage*, the share of spine
  rows whose account has a row in that table dated before ``as_of``;
- ``usage_recent_share``: the share of spine rows with product usage in the
  :data:`RECENT_DAYS` days before ``as_of``;
- ``gaps``: per activity table (usage, tickets, NPS), the days between ``as_of`` and the table's
  latest row before it (at training: the largest over the snapshot dates).

:func:`data_profile` adds the training period and each family's share of the model's gain.
Everything is a plain JSON value, so the profile travels with the MLflow model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROFILE_VERSION = 1
RECENT_DAYS = 90
ACTIVITY_TABLES = ("usage", "tickets", "nps")


def family_tables(catalog) -> dict[str, str]:
    """Indicator family -> the table most of its indicators read (catalog order breaks ties)."""
    counts: dict[str, dict[str, int]] = {}
    for ind in catalog:
        tables = counts.setdefault(ind.family, {})
        tables[ind.table] = tables.get(ind.table, 0) + 1
    return {family: max(tables, key=tables.get) for family, tables in counts.items()}


def _times(frame: pd.DataFrame, table: str) -> pd.Series:
    """The table's event times (contract ``event_time``); NaT where the table has none."""
    from churnml.data.contract import CONTRACT

    column = CONTRACT[table].event_time if table in CONTRACT else None
    if column is None or column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[column]).astype("datetime64[ns]")


def coverage(frame: pd.DataFrame | None, table: str, spine: pd.DataFrame) -> float:
    """Share of ``spine`` rows whose account has a row of ``frame`` dated before ``as_of``.

    Undated rows count as always there; a missing table covers nothing.
    """
    if len(spine) == 0:
        return float("nan")
    if frame is None or len(frame) == 0 or "account_id" not in frame.columns:
        return 0.0
    times = _times(frame, table).fillna(pd.Timestamp.min)
    first = times.groupby(frame["account_id"].astype(str).to_numpy()).min()
    seen = spine["account_id"].astype(str).map(first)
    as_of = pd.to_datetime(spine["as_of"]).astype("datetime64[ns]")
    return float((seen < as_of).fillna(False).mean())


def recent_share(usage: pd.DataFrame | None, spine: pd.DataFrame, days: int = RECENT_DAYS) -> float:
    """Share of ``spine`` rows whose account has usage in the ``days`` days before ``as_of``."""
    if len(spine) == 0:
        return float("nan")
    if usage is None or len(usage) == 0 or "account_id" not in usage.columns:
        return 0.0
    left = pd.DataFrame(
        {
            "account_id": spine["account_id"].astype(str).to_numpy(),
            "as_of": pd.to_datetime(spine["as_of"]).astype("datetime64[ns]").to_numpy(),
        }
    ).sort_values("as_of", kind="stable")
    right = pd.DataFrame(
        {"account_id": usage["account_id"].astype(str).to_numpy(), "as_of": _times(usage, "usage")}
    ).dropna()
    right = right.sort_values("as_of", kind="stable").assign(last=lambda f: f["as_of"])
    matched = pd.merge_asof(
        left, right, on="as_of", by="account_id", allow_exact_matches=False, direction="backward"
    )
    recent = (matched["as_of"] - matched["last"]) <= pd.Timedelta(days=days)
    return float(recent.fillna(False).mean())


def largest_gap(frame: pd.DataFrame | None, table: str, as_of_values) -> float | None:
    """The largest number of days between an ``as_of`` and the table's latest row before it.

    None when the table has no dated row before any of the dates.
    """
    if frame is None or len(frame) == 0:
        return None
    times = np.sort(_times(frame, table).dropna().to_numpy())
    dates = np.unique(pd.to_datetime(pd.Series(as_of_values)).astype("datetime64[ns]").to_numpy())
    if len(times) == 0 or len(dates) == 0:
        return None
    before = np.searchsorted(times, dates, side="left") - 1
    dates, before = dates[before >= 0], before[before >= 0]
    if len(dates) == 0:
        return None
    gaps = (dates - times[before]) / np.timedelta64(1, "D")
    return round(float(gaps.max()), 2)


def last_before(frame: pd.DataFrame | None, table: str, as_of) -> str | None:
    """The date of the table's latest row before ``as_of`` (ISO), or None."""
    if frame is None or len(frame) == 0:
        return None
    times = _times(frame, table)
    times = times[times < pd.Timestamp(as_of)]
    return None if times.empty else str(times.max().date())


def measure(tables: dict, spine: pd.DataFrame, families: dict[str, str]) -> dict:
    """The comparable measures of ``tables`` over ``spine`` (see the module docstring).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables (other keys are ignored).
    spine : DataFrame
        account_id and as_of of the training snapshots or of the scored accounts.
    families : dict
        Family -> source table (:func:`family_tables`).
    """
    from churnml.data.contract import CONTRACT

    present = {k: v for k, v in tables.items() if k in CONTRACT and isinstance(v, pd.DataFrame)}
    as_of = spine["as_of"]
    return {
        "rows": len(spine),
        "tables": {name: len(frame) for name, frame in sorted(present.items())},
        "families": {
            family: {
                "table": table,
                "coverage": round(coverage(present.get(table), table, spine), 4),
            }
            for family, table in families.items()
        },
        "usage_recent_share": round(recent_share(present.get("usage"), spine), 4),
        "gaps": {t: largest_gap(present.get(t), t, as_of) for t in ACTIVITY_TABLES if t in present},
    }


def family_importance(model, catalog) -> dict[str, float]:
    """Each family's share of the booster's total gain (empty when the model has no booster)."""
    booster = getattr(model, "booster_", None)
    if booster is None:
        return {}
    gain = np.asarray(booster.feature_importance(importance_type="gain"), dtype=np.float64)
    names = list(getattr(model, "feature_names_in_", booster.feature_name()))
    families = pd.Series(
        [catalog[n].family if n in catalog else "other" for n in names], dtype="string"
    )
    totals = pd.Series(gain, index=families.to_numpy()).groupby(level=0).sum()
    total = float(totals.sum())
    return {f: round(float(v) / total, 4) if total > 0 else 0.0 for f, v in totals.items()}


def data_profile(tables: dict, spine: pd.DataFrame, model, catalog) -> dict:
    """The profile of the data ``model`` was trained on (stored in ``training_info_``).

    Examples
    --------
    >>> profile = data_profile(tables, training_frame, model, catalog)  # doctest: +SKIP
    >>> profile["families"]["usage"]  # doctest: +SKIP
    {'table': 'usage', 'coverage': 0.99, 'importance': 0.41}
    """
    profile = measure(tables, spine, family_tables(catalog))
    importance = family_importance(model, catalog)
    for family, info in profile["families"].items():
        info["importance"] = importance.get(family) if importance else None
    as_of = pd.to_datetime(spine["as_of"])
    profile["snapshots"] = {"first": str(as_of.min().date()), "last": str(as_of.max().date())}
    profile["version"] = PROFILE_VERSION
    return profile
