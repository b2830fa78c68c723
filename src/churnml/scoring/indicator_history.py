"""The indicator history of red and amber accounts: the monthly values the report charts.

For each red or amber account scored at ``as_of``, a few indicators (:data:`HISTORY_INDICATORS`)
are rebuilt point in time at ``as_of`` and each of the :data:`HISTORY_MONTHS` - 1 months before;
``churnml score`` writes them to ``scores_history.parquet``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HISTORY_INDICATORS = (
    "active_users_30d", "events_30d", "tickets_30d", "nps_latest_score", "champion_left_30d"
)
HISTORY_MONTHS = 12
HISTORY_TIERS = ("red", "amber")


def _sub_catalog(catalog, ids):
    """The catalog entries ``ids`` plus the indicators they are derived from."""
    from churnml.features.catalog import Catalog

    wanted, todo = [], [i for i in ids if i in catalog]
    while todo:
        ind = catalog[todo.pop()]
        if ind.id in wanted:
            continue
        wanted.append(ind.id)
        of = (ind.params or {}).get("of") or []
        todo.extend(i for i in ([of] if isinstance(of, str) else of) if i in catalog)
    return Catalog([catalog[i] for i in catalog.ids if i in wanted])


def indicator_history(
    model,
    tables: dict,
    scores: pd.DataFrame,
    *,
    months: int = HISTORY_MONTHS,
    indicators=HISTORY_INDICATORS,
    tiers=HISTORY_TIERS,
) -> pd.DataFrame:
    """Monthly indicator values of the red / amber accounts over the last ``months`` months.

    The scored rows of those accounts are repeated at ``as_of`` minus 0..``months - 1`` months
    and the indicators are built point in time for each date (the population filter is not
    re-applied, so every month has a value).

    Returns
    -------
    DataFrame
        account_id, as_of, indicator, value (long form), sorted by account, indicator, as_of.
    """
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import build_features

    columns = {"account_id": "string", "as_of": "datetime64[ns]", "indicator": "string"}
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()}).assign(
        value=pd.Series(dtype="float64")
    )
    chosen = scores.loc[scores["tier"].astype("string").isin(list(tiers)).fillna(False)]
    if chosen.empty:
        return empty
    catalog = getattr(model, "catalog_", None)
    catalog = load_catalog() if catalog is None else catalog
    sub = _sub_catalog(catalog, indicators)
    if len(sub) == 0:
        return empty
    base = chosen[["account_id", "as_of"]].reset_index(drop=True)
    spine = base.loc[np.repeat(base.index.to_numpy(), months)].reset_index(drop=True)
    as_of = pd.to_datetime(spine["as_of"]).astype("datetime64[ns]").dt.normalize()
    step = np.tile(np.arange(months), len(base))
    shifted = as_of.copy()
    for k in range(1, months):  # one vectorised shift per month offset
        mask = step == k
        shifted[mask] = as_of[mask] - pd.DateOffset(months=k)
    spine["as_of"] = shifted
    features = build_features(tables, spine, sub)
    keep = [i for i in indicators if i in features.columns]
    long = features[["account_id", "as_of", *keep]].melt(
        id_vars=["account_id", "as_of"], var_name="indicator", value_name="value"
    )
    long = long.astype({"account_id": "string", "indicator": "string", "value": "float64"})
    long["as_of"] = pd.to_datetime(long["as_of"]).astype("datetime64[ns]")
    return long.sort_values(["account_id", "indicator", "as_of"], kind="stable").reset_index(
        drop=True
    )


def usage_read_since(catalog, as_of, *, months: int = HISTORY_MONTHS,
                     indicators=HISTORY_INDICATORS):
    """The earliest usage a scoring run at ``as_of`` reads: the longest look-back of the model's
    catalog before ``as_of``, and of the history indicators before each earlier month; None
    when some indicator reads all history."""
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import usage_since

    catalog = catalog or load_catalog()
    bounds = [usage_since(catalog, as_of),
              usage_since(_sub_catalog(catalog, indicators), as_of, months_before=months - 1)]
    if any(b is None for b in bounds):
        return None
    return min(bounds)
