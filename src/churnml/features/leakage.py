"""The leakage guard: signals that separate churned from renewed rows almost perfectly.

No honest renewal signal separates the classes almost perfectly; a leak does. Besides copies of the
label and indicators that read data from after ``as_of``, the guard checks the renewal calendar
itself, computed from the spine and the contracts table:

- ``days_to_renewal``: days from ``as_of`` to the renewal date;
- ``term_length_days``: the renewing term's length;
- ``days_off_anniversary``: how far the renewal date lies from the nearest anniversary of the
  term's start (after 1, 3, 6 or a whole number of 12 months) or of the account's first start
  (a whole number of years).

A mapping that makes churned terms end on the churn date while renewed terms end on anniversaries
gives the label away through these: the model learns "the renewal date is not on an anniversary".
Every signal gets its univariate ROC-AUC on resolved rows, in either direction (missing values
ranked lowest, highest, or left out: the strongest counts); one reaching :data:`LEAKAGE_AUC` with
at least :data:`MIN_CHURNED` churned rows is a probable leak, reported with what to check.

Examples
--------
>>> import churnml
>>> tables = churnml.datasets.make_saas(n_accounts=200, months=14, seed=1)
>>> spine = churnml.make_spine(tables, start="2024-09-01", end="2025-02-01")
>>> report = leakage_report(churnml.build_features(tables, spine), tables)
>>> bool(report["leak"].any())
False
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEAKAGE_AUC = 0.95
MIN_CHURNED = 30
#: categorical indicators with at most this many levels are checked by their churn rate per level
MAX_LEVELS = 20
LEAKAGE_COLUMNS = ("kind", "signal", "auc", "risk_when", "churned", "rows",
                   "median_churned", "median_retained", "leak", "message")
CALENDAR = ("days_to_renewal", "term_length_days", "days_off_anniversary")
CALENDAR_CHECK = ("churned terms end on a different calendar than renewed ones: do churned terms "
                  "end on the churn date? They should end on the scheduled renewal date (the date "
                  "the term would have renewed), with the churn date in outcome_date")
INDICATOR_CHECK = ("it probably reads data from on or after as_of, or a column the mapping fills "
                   "from the outcome: check its table's time column against the point-in-time rule")


def _months_later(anchor: pd.Series, months) -> pd.Series:
    """``anchor`` plus a whole number of calendar months per row (the day clipped to the month's
    end), vectorised; NaT stays NaT."""
    stamps = pd.to_datetime(anchor)
    known = stamps.notna().to_numpy()
    year, month = stamps.dt.year.fillna(1970).to_numpy(int), stamps.dt.month.fillna(1).to_numpy(int)
    index = year * 12 + month - 1
    index = index + np.asarray(months, dtype=int)
    first = pd.to_datetime(pd.DataFrame({"year": index // 12, "month": index % 12 + 1, "day": 1}))
    day = np.minimum(stamps.dt.day.fillna(1).to_numpy(int), first.dt.days_in_month.to_numpy(int))
    out = first + pd.to_timedelta(day - 1, unit="D")
    return out.where(known).set_axis(anchor.index)


def _days_off(anchor: pd.Series, renewal: pd.Series, months=(1, 3, 6)) -> np.ndarray:
    """Days between ``renewal`` and the nearest anniversary of ``anchor``: after each of
    ``months`` or a whole number of years (at least one)."""
    days = (renewal - anchor).dt.days.to_numpy(dtype=float)
    years = np.maximum(np.round(np.nan_to_num(days) / 365.25), 1).astype(int)
    best = np.full(len(days), np.inf)
    for step in (12 * years, *(np.full(len(days), m) for m in months)):
        off = (renewal - _months_later(anchor, step)).dt.days.abs().to_numpy(dtype=float)
        best = np.fmin(best, off)
    return np.where(np.isinf(best) | np.isnan(days), np.nan, best)


def renewal_calendar(features: pd.DataFrame, tables: dict | None = None) -> pd.DataFrame:
    """The renewal-calendar signals of each row of ``features`` (same index).

    ``days_to_renewal`` comes from the spine (or ``renewal_date - as_of``); ``term_length_days``
    and ``days_off_anniversary`` need ``contract_id`` and ``renewal_date`` in ``features`` and
    ``tables["contracts"]`` with ``contract_id``, ``account_id`` and ``start_date``. A signal that
    cannot be computed is left out.
    """
    out = pd.DataFrame(index=features.index)
    if "days_to_renewal" in features:
        out["days_to_renewal"] = pd.to_numeric(features["days_to_renewal"]).astype(float)
    elif {"renewal_date", "as_of"} <= set(features.columns):
        gap = pd.to_datetime(features["renewal_date"]) - pd.to_datetime(features["as_of"])
        out["days_to_renewal"] = gap.dt.days.astype(float)
    contracts = (tables or {}).get("contracts")
    need = {"contract_id", "account_id", "start_date"}
    if contracts is None or not need <= set(contracts.columns) or not {
            "contract_id", "renewal_date", "account_id"} <= set(features.columns):
        return out
    terms = contracts.drop_duplicates("contract_id")
    starts = pd.Series(pd.to_datetime(terms["start_date"]).to_numpy(),
                       index=terms["contract_id"].astype(str))
    accounts = contracts["account_id"].astype(str)
    first = pd.to_datetime(contracts["start_date"]).groupby(accounts).min()
    renewal = pd.to_datetime(features["renewal_date"])
    start = features["contract_id"].astype(str).map(starts)
    account_start = features["account_id"].astype(str).map(first)
    out["term_length_days"] = (renewal - start).dt.days.astype(float)
    out["days_off_anniversary"] = np.fmin(_days_off(start, renewal),
                                          _days_off(account_start, renewal, months=()))
    return out


def _mann_whitney(rank_sum: float, pos: int, neg: int) -> float:
    """ROC-AUC from the rank sum of the positives (ties ranked by their mean); NaN without both."""
    if pos == 0 or neg == 0:
        return float("nan")
    return float((rank_sum - pos * (pos + 1) / 2) / (pos * neg))


def aucs(y: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """ROC-AUC of ``x`` for labels ``y`` with missing values ranked lowest, ranked highest, and
    left out, from one ranking of the known values."""
    from scipy.stats import rankdata

    known = ~np.isnan(x)
    y_known = y[known]
    ranks = rankdata(x[known])
    n_known, n_missing = len(y_known), len(y) - len(y_known)
    pos_known = int(y_known.sum())
    pos_missing = int(y.sum()) - pos_known
    pos, neg = pos_known + pos_missing, len(y) - pos_known - pos_missing
    known_sum = float(ranks[y_known == 1].sum())
    tie = (n_missing + 1) / 2  # the mean rank inside the block of missing values
    low = known_sum + pos_known * n_missing + pos_missing * tie
    high = known_sum + pos_missing * (n_known + tie)
    return (_mann_whitney(low, pos, neg), _mann_whitney(high, pos, neg),
            _mann_whitney(known_sum, pos_known, n_known - pos_known))


def separation(y: np.ndarray, x: np.ndarray, min_churned: int = MIN_CHURNED) -> tuple[float, str]:
    """The strongest oriented ROC-AUC of ``x`` (missing values ranked lowest, highest, or left out
    when at least ``min_churned`` churned rows remain) and "high" / "low": the side churn is on."""
    known = ~np.isnan(x)
    if not known.any() or np.nanmin(x) == np.nanmax(x) and known.all():
        return 0.5, "high"
    low, high, known_only = aucs(y, x)
    candidates = [low, high]
    if not known.all() and y[known].sum() >= min_churned:
        candidates.append(known_only)
    best = max(candidates, key=lambda a: abs(a - 0.5) if a == a else -1.0)
    if best != best:
        return 0.5, "high"
    return max(best, 1.0 - best), "high" if best >= 0.5 else "low"


def _numeric(values: pd.Series, y: np.ndarray) -> np.ndarray | None:
    """Values as floats; a categorical with few levels as its churn rate per level; else None."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype("string")
    if text.nunique() > MAX_LEVELS:
        return None
    rate = pd.Series(y).groupby(text.to_numpy(), dropna=True).mean()
    return text.map(rate).to_numpy(dtype=float, na_value=np.nan)


def _median(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(np.median(known)) if len(known) else float("nan")


def _message(kind: str, signal: str, auc: float, churned: int, med_c, med_r) -> str:
    medians = f"median {med_c:.4g} for churned rows, {med_r:.4g} for retained ones"
    head = (f"{signal} separates churned from retained rows almost perfectly "
            f"(ROC-AUC {auc:.2f} on {churned} churned rows; {medians})")
    if kind == "calendar":
        return f"{head}: {CALENDAR_CHECK}"
    return f"indicator {head}: {INDICATOR_CHECK}"


def leakage_report(features: pd.DataFrame, tables: dict | None = None, *, label: str = "label",
                   catalog=None, threshold: float = LEAKAGE_AUC,
                   min_churned: int = MIN_CHURNED) -> pd.DataFrame:
    """Every checked signal with its univariate separation of the classes; leaks flagged.

    Parameters
    ----------
    features : DataFrame
        :func:`churnml.build_features` output with the ``label`` column (1 churned, 0 retained,
        missing when unresolved; only resolved rows count).
    tables : dict, optional
        The contract tables; ``contracts`` adds the term length and anniversary checks.
    catalog : Catalog, optional
        Which columns are indicators (default: the packaged catalog).
    threshold : float
        Oriented ROC-AUC from which a signal is a probable leak.
    min_churned : int
        Fewer churned resolved rows than this: nothing is called a leak (too few to tell).

    Returns
    -------
    DataFrame
        kind ("calendar" or "indicator"), signal, auc, risk_when, churned, rows,
        median_churned, median_retained, leak, message; calendar signals first, then indicators
        by decreasing AUC.
    """
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns

    if label not in features:
        raise ValueError(f"leakage_report needs a {label!r} column in features")
    resolved = features[features[label].notna()]
    y = resolved[label].astype(int).to_numpy()
    calendar = renewal_calendar(resolved, tables)
    signals = [("calendar", c, calendar[c]) for c in calendar.columns]
    signals += [("indicator", c, resolved[c])
                for c in feature_columns(features, catalog or load_catalog()) if c not in calendar]
    rows = []
    for kind, name, values in signals:
        x = _numeric(values, y)
        if x is None:
            continue
        auc, side = separation(y, x, min_churned)
        med_c, med_r = _median(x[y == 1]), _median(x[y == 0])
        leak = bool(auc >= threshold and y.sum() >= min_churned)
        rows.append((kind, name, auc, side, int(y.sum()), len(y), med_c, med_r, leak,
                     _message(kind, name, auc, int(y.sum()), med_c, med_r) if leak else ""))
    report = pd.DataFrame(rows, columns=list(LEAKAGE_COLUMNS))
    calendar_rows = report[report["kind"] == "calendar"]
    indicator_rows = report[report["kind"] != "calendar"].sort_values("auc", ascending=False,
                                                                      kind="stable")
    report = pd.concat([calendar_rows, indicator_rows], ignore_index=True)
    report.attrs["min_churned"] = int(min_churned)
    return report


def find_leaks(features: pd.DataFrame, tables: dict | None = None, **kwargs) -> pd.DataFrame:
    """The probable leaks of :func:`leakage_report` (an empty frame when there are none)."""
    report = leakage_report(features, tables, **kwargs)
    return report[report["leak"]].reset_index(drop=True)


def describe_leaks(report: pd.DataFrame) -> list[str]:
    """Printable lines of a :func:`leakage_report`: a heading with the count of probable leaks
    (or why nothing was checked), then one line per leak."""
    leaks = report[report["leak"]]
    churned = int(report["churned"].max()) if len(report) else 0
    needed = report.attrs.get("min_churned", MIN_CHURNED)
    if leaks.empty and churned < needed:
        return [f"Leakage guard:  not checked: {churned} churned rows (at least {needed} needed)"]
    if leaks.empty:
        return ["Leakage guard:  no probable leak (renewal calendar and every indicator checked)"]
    head = f"Leakage guard:  {len(leaks)} PROBABLE LEAK{'S' if len(leaks) > 1 else ''}"
    return [head, *(f"  - {row.message}" for row in leaks.itertuples(index=False))]


def leakage_tag(report: pd.DataFrame) -> str:
    """A one-word summary for a run tag: the leaking signals (comma-joined), "none", or
    "not checked" (too few churned rows)."""
    leaks = report.loc[report["leak"], "signal"]
    if len(leaks):
        return ",".join(leaks)
    churned = int(report["churned"].max()) if len(report) else 0
    return "none" if churned >= report.attrs.get("min_churned", MIN_CHURNED) else "not checked"
