"""Score history across runs: previous score and tier, trend, and acute vs chronic risk.

A *run* is one scoring at one ``as_of``; the history keeps one row per (account_id, as_of) with
``score``, ``tier`` and ``scored_at`` (re-scoring the same ``as_of`` replaces the row). For each
newly scored row the previous run is the latest one with an earlier ``as_of`` (``merge_asof``).

- trend: ``new`` (no earlier run), ``rising`` (score up by :data:`TREND_POINTS` or more),
  ``falling`` (down by as much), else ``steady``.
- pattern: ``chronic`` when red in this and the two runs before it (at least :data:`CHRONIC_RUNS`
  consecutive red runs), else ``acute`` when it has a previous run and is newly red (not red in
  that run) or has risen by :data:`ACUTE_POINTS` or more; ``None`` otherwise. An account with no
  previous run (trend ``new``) has no pattern until its indicator history shows one
  (:func:`history_pattern`: a red account whose product usage collapsed in the latest month,
  whose support tickets surged or whose champion just left is ``acute``); ``chronic`` always
  needs red runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churnml.sidecars import sidecar_path

RUN_COLUMNS = ["account_id", "as_of", "score", "tier", "scored_at"]
TREND_POINTS = 5
ACUTE_POINTS = 15
CHRONIC_RUNS = 3
RUNS_KIND = "runs"
#: a new red account is acute when this indicator's latest monthly value is at most
#: :data:`DROP_SHARE` of its median over the :data:`DROP_MONTHS` months before
DROP_INDICATOR = "events_30d"
DROP_SHARE = 0.5
DROP_MONTHS = 3
#: ... or when tickets in the latest month reach :data:`SURGE_FACTOR` times that median and at
#: least :data:`SURGE_MORE` more tickets (an escalation storm)
SURGE_INDICATOR = "tickets_30d"
SURGE_FACTOR = 2.0
SURGE_MORE = 3
#: ... or when a champion left in the last 30 days
DEPARTURE_INDICATOR = "champion_left_30d"


def runs_path(out) -> Path:
    """History file next to the scores output: ``scores.parquet`` -> ``scores_runs.parquet``."""
    return sidecar_path(out, RUNS_KIND)


def empty_runs() -> pd.DataFrame:
    """An empty history frame with the run columns and dtypes."""
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype="string"),
            "as_of": pd.Series(dtype="datetime64[ns]"),
            "score": pd.Series(dtype="Int16"),
            "tier": pd.Series(dtype="string"),
            "scored_at": pd.Series(dtype="datetime64[ns]"),
        }
    )


def normalise_runs(runs: pd.DataFrame | None) -> pd.DataFrame:
    """Run columns with canonical dtypes, one row per (account_id, as_of) (latest scored_at wins)."""
    if runs is None or len(runs) == 0:
        return empty_runs()
    missing = [c for c in ("account_id", "as_of", "score", "tier") if c not in runs.columns]
    if missing:
        raise ValueError(
            f"score history: missing column(s) {missing}; it has {list(runs.columns)} "
            f"({len(runs)} rows)"
        )
    out = pd.DataFrame(
        {
            "account_id": runs["account_id"].astype("string"),
            "as_of": pd.to_datetime(runs["as_of"]).astype("datetime64[ns]"),
            "score": pd.to_numeric(runs["score"]).round().astype("Int16"),
            "tier": runs["tier"].astype("string"),
            "scored_at": pd.to_datetime(runs["scored_at"]).astype("datetime64[ns]")
            if "scored_at" in runs
            else pd.Series(pd.NaT, index=runs.index, dtype="datetime64[ns]"),
        }
    )
    out = out.sort_values(["account_id", "as_of", "scored_at"], kind="stable", na_position="first")
    out = out.drop_duplicates(["account_id", "as_of"], keep="last")
    return out.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)


def read_runs(path) -> pd.DataFrame:
    """The history at ``path`` (Parquet), or an empty history when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return empty_runs()
    return normalise_runs(pd.read_parquet(path))


def update_runs(runs: pd.DataFrame | None, scores: pd.DataFrame) -> pd.DataFrame:
    """History plus this run's rows; a re-scored (account_id, as_of) replaces the older row."""
    new = scores.loc[:, [c for c in RUN_COLUMNS if c in scores.columns]]
    both = pd.concat([normalise_runs(runs), normalise_runs(new)], ignore_index=True)
    both = both.drop_duplicates(["account_id", "as_of"], keep="last")
    return both.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)


def _red_streaks(runs: pd.DataFrame) -> pd.Series:
    """Consecutive red runs ending at each history row (0 when the row is not red)."""
    runs = runs.sort_values(["account_id", "as_of"], kind="stable")
    red = runs["tier"].eq("red").fillna(False).to_numpy()
    breaks = pd.Series(~red, index=runs.index).groupby(runs["account_id"].to_numpy()).cumsum()
    streak = runs.groupby([runs["account_id"].to_numpy(), breaks.to_numpy()]).cumcount()
    # block 0 starts with a red row (count from 1); later blocks start with their non-red row
    streak = (streak + (breaks == 0).astype(np.int64)).where(red, 0)
    return streak.astype(np.int64)


def apply_trend(scores: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add previous_score, previous_tier, trend and pattern to ``scores`` from earlier runs.

    Parameters
    ----------
    scores : DataFrame
        This run: account_id, as_of, score, tier (other columns are kept).
    runs : DataFrame, optional
        History of earlier runs (:data:`RUN_COLUMNS`); rows at the same or a later ``as_of`` than
        a scored row are ignored for that row.

    Returns
    -------
    DataFrame
        ``scores`` (same rows and order) with previous_score (Int16), previous_tier, trend and
        pattern.
    """
    runs = normalise_runs(runs)
    if len(runs):
        runs = runs.assign(red_streak=_red_streaks(runs))
    else:
        runs = runs.assign(red_streak=pd.Series(dtype=np.int64))
    left = pd.DataFrame(
        {
            "account_id": pd.array(scores["account_id"], dtype="string"),
            "as_of": pd.to_datetime(scores["as_of"]).astype("datetime64[ns]").to_numpy(),
            "_row": np.arange(len(scores)),
        }
    ).sort_values("as_of", kind="stable")
    right = runs.rename(
        columns={"as_of": "_prev_as_of", "score": "previous_score", "tier": "previous_tier"}
    ).sort_values("_prev_as_of", kind="stable")
    right["as_of"] = right["_prev_as_of"]
    matched = pd.merge_asof(
        left,
        right[["account_id", "as_of", "previous_score", "previous_tier", "red_streak"]],
        on="as_of",
        by="account_id",
        allow_exact_matches=False,
        direction="backward",
    ).sort_values("_row")
    prev = matched["previous_score"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    prev_tier = matched["previous_tier"].astype("string")
    streak_before = matched["red_streak"].fillna(0).to_numpy(dtype=np.int64)
    score = pd.to_numeric(scores["score"]).to_numpy(dtype=np.float64)
    red = scores["tier"].astype("string").eq("red").fillna(False).to_numpy()
    delta = score - prev
    has_prev = ~np.isnan(prev)
    trend = np.select(
        [~has_prev, delta >= TREND_POINTS, delta <= -TREND_POINTS],
        ["new", "rising", "falling"],
        default="steady",
    )
    was_red = prev_tier.eq("red").fillna(False).to_numpy()
    streak = np.where(red, streak_before + 1, 0)
    chronic = red & (streak >= CHRONIC_RUNS)
    acute = ~chronic & has_prev & ((red & ~was_red) | (delta >= ACUTE_POINTS))
    pattern = np.where(chronic, "chronic", np.where(acute, "acute", None))
    out = scores.copy()
    out["previous_score"] = (
        pd.array(np.where(has_prev, prev, np.nan), dtype="Float64").round().astype("Int16")
    )
    out["previous_tier"] = prev_tier.to_numpy()
    out["previous_tier"] = out["previous_tier"].astype("string")
    out["trend"] = pd.array(trend, dtype="string")
    out["pattern"] = pd.array(pattern, dtype="string")
    return out


def history_pattern(scores: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
    """``scores`` with ``pattern`` set to ``acute`` for new red accounts whose indicator history
    shows a sudden move in the latest month: product usage (:data:`DROP_INDICATOR`) at most
    :data:`DROP_SHARE` of its median over the :data:`DROP_MONTHS` months before (and that median
    above 0); support tickets (:data:`SURGE_INDICATOR`) at least :data:`SURGE_FACTOR` times that
    median and :data:`SURGE_MORE` more; or a champion departure in the last 30 days
    (:data:`DEPARTURE_INDICATOR`). Other rows are unchanged.

    Parameters
    ----------
    scores : DataFrame
        After :func:`apply_trend` (account_id, tier, trend, pattern).
    history : DataFrame or None
        Long monthly indicator values (account_id, as_of, indicator, value), as written to
        ``scores_history.parquet`` by ``run_score``.
    """
    if history is None or history.empty:
        return scores
    moves = []  # one boolean Series per kind of sudden move, indexed by account_id
    usage = _months_back(history, DROP_INDICATOR)
    if usage is not None:
        before = _median_before(usage)
        moves.append((before > 0) & (usage[0] <= DROP_SHARE * before))
    tickets = _months_back(history, SURGE_INDICATOR)
    if tickets is not None:
        before = _median_before(tickets).fillna(0.0)
        moves.append(tickets[0] >= np.maximum(SURGE_FACTOR * before, before + SURGE_MORE))
    left = _months_back(history, DEPARTURE_INDICATOR, min_months=1)
    if left is not None:
        moves.append(left[0] > 0)
    if not moves:
        return scores
    sudden = pd.concat(moves, axis=1).fillna(False).astype(bool).any(axis=1)
    key = scores["account_id"].astype("string")
    hit = key.map(sudden).fillna(False).astype(bool).to_numpy()
    new = scores["trend"].astype("string").eq("new").fillna(False).to_numpy()
    new_red = new & scores["tier"].astype("string").eq("red").fillna(False).to_numpy()
    out = scores.copy()
    out.loc[new_red & hit, "pattern"] = "acute"
    return out


def _months_back(history: pd.DataFrame, indicator: str, *, min_months: int = 2):
    """One indicator's history as a wide frame: account_id x months back (0 = the latest), or
    None when it has fewer than ``min_months`` months."""
    rows = history[history["indicator"].astype("string") == indicator]
    rows = rows.sort_values(["account_id", "as_of"], ascending=[True, False], kind="stable")
    long = pd.DataFrame(
        {
            "account_id": rows["account_id"].astype("string").to_numpy(),
            "k": rows.groupby("account_id", sort=False).cumcount().to_numpy(),
            "value": rows["value"].to_numpy(dtype=np.float64),
        }
    )
    wide = long.pivot_table(index="account_id", columns="k", values="value", aggfunc="first")
    if 0 not in wide.columns or len(wide.columns) < min_months:
        return None
    return wide


def _median_before(wide: pd.DataFrame) -> pd.Series:
    """Median of the :data:`DROP_MONTHS` months before the latest."""
    return wide.loc[:, [k for k in range(1, DROP_MONTHS + 1) if k in wide.columns]].median(axis=1)
