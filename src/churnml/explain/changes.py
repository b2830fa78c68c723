"""What changed since the last score: the change in score and the indicators that moved it.

Every scoring run keeps its per-indicator contributions (:func:`contribution_rows`; ``churnml
score`` appends them to ``<out>_runs_contributions.parquet``, the run history beside ``--out``).
For an account scored before, the *previous run* is its latest run at an earlier ``as_of`` in
the score history. Between the two, each indicator's contribution moved by ``Δc`` (log-odds; an
indicator absent from a run counts as 0), and the score by ``Δscore`` points. A previous run with
no contribution rows at all (scored before they were kept, or older than the :data:`KEEP_RUNS`
scoring dates kept) has no movers: only the change in score is stated, since every
contribution of today would otherwise look like a move from nothing. The points an
indicator moved are ``slope × Δc``, where ``slope`` (points per log-odds) is
``Δscore / Δlog-odds`` when the log-odds moved by at least :data:`MIN_LOGIT_MOVE` in the score's
direction (at most :data:`MAX_SLOPE` points per unit: a step of the calibration can move the
score more than the log-odds alone would), else ``100 × p̄ (1 - p̄)`` at the mean of the two
probabilities — so when the score moved, the indicators' points add up to the score change.

The *movers* are the (at most :data:`MOVERS`) indicators that moved the score most in the
direction it changed, by at least one point each, among those whose own value changed (an
indicator whose value stayed the same moved only through its interplay with others); an
indicator that another candidate of the row is derived from gives its points to that one and is
not stated beside it (the champion's usage change says what the champion's events now and
before say). Each is stated by its risk sentence (when
it raised the risk and the sentence applies to today's value), its protective sentence (when it
lowered it and that applies), else as "<indicator>: <before> → <now>", the indicator named with
its window and the values in its unit ("Tickets (91–180 days ago): 1 → 28", "License
utilization (last 30 days): 27% → 45%", "Champion left (last 30 days): yes → no"), or as
"<indicator>: now <now>" when the history did not keep the previous value (a contribution too
small to keep; today's value is read from the features when this run kept none either); a
value unknown in both runs, or a category (whose values the history does not keep), is not
known to have changed and moves nothing. A sentence two movers share is stated once, with the
points of both. The
account's text reads "Risk up 18 points since 1 Jun 2026: The champion left 20 days ago (+11);
6 support tickets in the last 30 days (+5)".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.explain.outer_merge import inner_by_account_and_date, outer_by_row_and_indicator
from churnml.report.formatting import percent
from churnml.sidecars import sidecar_path

MOVERS = 2
MIN_LOGIT_MOVE = 0.05
MAX_SLOPE = 100.0
#: contributions smaller than this are not kept in the run history (a mover moves the score by a
#: point or more: about 0.04 log-odds at the steepest)
KEEP_CONTRIBUTION = 0.005
#: scoring dates kept in the contribution history: the latest and the one before it (enough to
#: score the next date, or the latest again); about 60 rows per account and date
KEEP_RUNS = 2
CONTRIBUTION_COLUMNS = ["account_id", "as_of", "indicator", "value", "contribution"]
CHANGE_COLUMNS = [
    "account_id", "as_of", "previous_as_of", "indicator", "family", "contribution_change",
    "points", "value", "previous_value", "sentence", "rank",
]  # fmt: skip
SCORE_CHANGE_COLUMNS = ["score_change", "changed_since", "change_summary"]
RUNS_KIND = "runs_contributions"


@dataclass(frozen=True)
class Changes:
    """What changed since each account's previous run.

    Attributes
    ----------
    columns : DataFrame
        One row per scored row (same order): ``score_change`` (Int16 points, missing without a
        previous run), ``changed_since`` (the previous run's as_of) and ``change_summary``.
    movers : DataFrame
        The stated movers, columns :data:`CHANGE_COLUMNS` (``rank`` 1 = moved the score most).
    """

    columns: pd.DataFrame
    movers: pd.DataFrame


def contributions_path(out) -> Path:
    """``scores.parquet`` -> ``scores_runs_contributions.parquet`` in the same folder."""
    return sidecar_path(out, RUNS_KIND)


def empty_contributions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype="string"),
            "as_of": pd.Series(dtype="datetime64[ns]"),
            "indicator": pd.Series(dtype="string"),
            "value": pd.Series(dtype="float32"),
            "contribution": pd.Series(dtype="float32"),
        }
    )


def contribution_rows(
    features: pd.DataFrame, contributions: pd.DataFrame, *, values: np.ndarray | None = None
) -> pd.DataFrame:
    """The long history rows of one run: every (account, indicator) whose contribution is at
    least :data:`KEEP_CONTRIBUTION` in size, with the indicator's value (NaN for categories).

    Parameters
    ----------
    features : DataFrame
        The scored feature frame (account_id, as_of, indicators).
    contributions : DataFrame
        The (n × p) contribution matrix of the same rows (``Explanation.contributions``).
    values : ndarray of shape (n, p), optional
        The indicator values as float64 in the columns' order, when already gathered
        (``Explanation.feature_values``); default gathered from ``features``.
    """
    from churnml.explain.contributions import _feature_values

    names = list(contributions.columns)
    shown = values
    values = contributions.to_numpy(dtype=np.float64)
    rows, cols = np.nonzero(np.abs(values) >= KEEP_CONTRIBUTION)
    if shown is None:
        shown = _feature_values(features.reset_index(drop=True), names)
    elif shown.shape != values.shape:
        raise ValueError(f"contribution_rows: values have shape {shown.shape}, but the "
                         f"contributions {values.shape}")  # fmt: skip
    return pd.DataFrame(
        {
            "account_id": pd.array(features["account_id"].to_numpy(), dtype="string").take(rows),
            "as_of": pd.to_datetime(features["as_of"]).to_numpy()[rows].astype("datetime64[ns]"),
            "indicator": pd.array(np.asarray(names, dtype=object), dtype="string").take(cols),
            "value": shown[rows, cols].astype(np.float32),
            "contribution": values[rows, cols].astype(np.float32),
        }
    )


def read_contributions(path) -> pd.DataFrame:
    """The contribution history at ``path``, or an empty one when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return empty_contributions()
    frame = pd.read_parquet(path)
    return frame.astype({"account_id": "string", "indicator": "string"})[CONTRIBUTION_COLUMNS]


def update_contributions(history: pd.DataFrame | None, current: pd.DataFrame) -> pd.DataFrame:
    """History plus this run: a re-scored (account, as_of) replaces its older rows; only the
    latest :data:`KEEP_RUNS` scoring dates are kept."""
    history = empty_contributions() if history is None else history
    keys = current[["account_id", "as_of"]].drop_duplicates().assign(_replaced=True)
    old = history.merge(keys, on=["account_id", "as_of"], how="left")
    old = old[old["_replaced"].isna()].drop(columns="_replaced")
    both = pd.concat([old, current], ignore_index=True)[CONTRIBUTION_COLUMNS]
    dates = np.sort(both["as_of"].dropna().unique())[-KEEP_RUNS:]
    both = both[both["as_of"].isin(dates)]
    both = both.astype({"account_id": "string", "indicator": "string", "value": "float32",
                        "contribution": "float32"})  # fmt: skip
    return both.sort_values(["as_of", "account_id", "indicator"], kind="stable").reset_index(
        drop=True
    )


def _previous_runs(scores: pd.DataFrame, runs: pd.DataFrame | None) -> pd.DataFrame:
    """Per scored row (same order): the previous run's as_of and score (NaT / NaN when none)."""
    left = pd.DataFrame(
        {
            "account_id": pd.array(scores["account_id"], dtype="string"),
            "as_of": pd.to_datetime(scores["as_of"]).astype("datetime64[ns]").to_numpy(),
            "_row": np.arange(len(scores)),
        }
    ).sort_values("as_of", kind="stable")
    right = pd.DataFrame(
        {
            "account_id": pd.Series(dtype="string"),
            "as_of": pd.Series(dtype="datetime64[ns]"),
            "previous_score": pd.Series(dtype="float64"),
        }
    )
    if runs is not None and len(runs):
        right = pd.DataFrame(
            {
                "account_id": pd.array(runs["account_id"], dtype="string"),
                "as_of": pd.to_datetime(runs["as_of"]).astype("datetime64[ns]").to_numpy(),
                "previous_score": pd.to_numeric(runs["score"]).astype("float64").to_numpy(),
            }
        ).drop_duplicates(["account_id", "as_of"], keep="last")
    right = right.assign(previous_as_of=right["as_of"]).sort_values("as_of", kind="stable")
    matched = pd.merge_asof(left, right, on="as_of", by="account_id",
                            allow_exact_matches=False, direction="backward")  # fmt: skip
    return matched.sort_values("_row").reset_index(drop=True)


def _moves(keys: pd.DataFrame, current: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """(row, indicator) pairs with the contribution and value now and in the previous run, for
    the rows whose previous run has contribution rows in ``history`` (for the others what moved
    the score is unknown: every contribution of today would look new)."""
    before = inner_by_account_and_date(keys, "previous_as_of", history)
    known = keys[np.isin(keys["_row"].to_numpy(), before["_row"].to_numpy())]
    now = inner_by_account_and_date(known, "as_of", current)
    both = outer_by_row_and_indicator(
        now[["_row", "indicator", "value", "contribution"]],
        before[["_row", "indicator", "value", "contribution"]],
    )
    both["change"] = both["contribution"].fillna(0.0).astype("float64") - both[
        "contribution_before"
    ].fillna(0.0).astype("float64")
    return both


def _feature_rows(keys: pd.DataFrame, features: pd.DataFrame) -> np.ndarray:
    """Per row of ``keys`` (in ``_row`` order): its row in ``features`` by (account_id, as_of),
    -1 when it has none or the pair repeats in ``features`` (which of them is unknown)."""
    positions = pd.DataFrame(
        {
            "account_id": pd.array(features["account_id"], dtype="string"),
            "as_of": pd.to_datetime(features["as_of"]).astype("datetime64[ns]").to_numpy(),
            "_feature_row": np.arange(len(features)),
        }
    ).drop_duplicates(["account_id", "as_of"], keep=False)
    keyed = keys[["_row", "account_id", "as_of"]].astype({"account_id": "string"})
    found = inner_by_account_and_date(keyed, "as_of", positions)
    out = np.full(len(keys), -1, dtype=np.int64)
    out[found["_row"].to_numpy(dtype=np.int64)] = found["_feature_row"].to_numpy()
    return out


def _with_today_values(moves: pd.DataFrame, rows: np.ndarray, features) -> pd.DataFrame:
    """``moves`` with today's value of the indicators absent from this run's contribution rows
    (their contribution is below :data:`KEEP_CONTRIBUTION`), read from the feature frame: it
    is known, not missing. Categories and text stay NaN (the history keeps no such value)."""
    absent = np.flatnonzero(moves["contribution"].isna().to_numpy())
    if not len(absent):
        return moves
    from churnml.explain.contributions import _feature_values

    at = rows[moves["_row"].to_numpy(dtype=np.int64)[absent]]
    codes, names = pd.factorize(moves["indicator"].iloc[absent], use_na_sentinel=False)
    known = [name for name in names if name in features.columns]
    matrix = _feature_values(features, known)  # one column per distinct indicator
    position = {name: j for j, name in enumerate(known)}
    column = np.array([position.get(name, -1) for name in names], np.int64)[codes]
    found = (at >= 0) & (column >= 0)
    value = moves["value"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
    value[absent[found]] = matrix[at[found], column[found]]
    return moves.assign(value=value)


def _slope(score_change, logit_change, probability, previous_probability) -> np.ndarray:
    """Points of score per unit of log-odds for each row (see the module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = score_change / logit_change
    mean = (probability + previous_probability) / 2
    local = 100.0 * mean * (1.0 - mean)
    usable = (np.abs(logit_change) >= MIN_LOGIT_MOVE) & (ratio >= 0) & (ratio <= MAX_SLOPE)
    return np.where(usable, ratio, local)


def what_changed(
    scores: pd.DataFrame,
    current: pd.DataFrame,
    history: pd.DataFrame | None,
    runs: pd.DataFrame | None,
    *,
    features: pd.DataFrame,
    catalog=None,
    typical=None,
) -> Changes:
    """The change in score since each account's previous run and the indicators that moved it.

    Parameters
    ----------
    scores : DataFrame
        This run: account_id, as_of, score, probability.
    current : DataFrame
        This run's contribution rows (:func:`contribution_rows`).
    history : DataFrame or None
        Earlier runs' contribution rows (:func:`read_contributions`).
    runs : DataFrame or None
        The score history (account_id, as_of, score), which names each account's previous run.
    features : DataFrame
        This run's feature frame (the sentences quote its values).
    catalog : Catalog, optional
        Sentences; default the packaged catalog.
    typical : mapping, optional
        The model's typical values (which sentences apply, ``{typical}`` in templates).

    Returns
    -------
    Changes
    """
    if catalog is None:
        from churnml.features.catalog import load_catalog

        catalog = load_catalog()
    keys = _previous_runs(scores, runs)
    score = pd.to_numeric(scores["score"]).to_numpy(dtype=np.float64)
    score_change = score - keys["previous_score"].to_numpy(dtype=np.float64)
    # a row without a previous run has no movers (its change is unknown): only the others are
    # paired with their previous contributions
    moves = _moves(keys[keys["previous_as_of"].notna()], current,
                   history if history is not None else empty_contributions())  # fmt: skip
    rows = _feature_rows(keys, features)
    moves = _with_today_values(moves, rows, features)
    logit_change = moves.groupby("_row")["change"].sum().reindex(range(len(scores)), fill_value=0)
    probability = pd.to_numeric(scores["probability"]).to_numpy(dtype=np.float64)
    slope = _slope(score_change, logit_change.to_numpy(), probability,
                   keys["previous_score"].to_numpy(dtype=np.float64) / 100.0)  # fmt: skip
    movers = _movers(moves, slope, score_change, derived_links(catalog), _valueless(features))
    movers = _stated_once(_stated(movers, keys, rows, features, catalog, dict(typical or {})))
    columns = pd.DataFrame(
        {
            "score_change": pd.array(
                np.where(np.isnan(score_change), np.nan, score_change), dtype="Float64"
            )
            .round()
            .astype("Int16"),
            "changed_since": keys["previous_as_of"].astype("datetime64[ns]").to_numpy(),
            "change_summary": _summaries(score_change, keys["previous_as_of"], movers),
        }
    )
    return Changes(columns=columns, movers=_movers_frame(movers, keys, catalog))


def with_changes(scores, features, contributions, history, runs, model) -> tuple:
    """``scores`` with score_change, changed_since and change_summary, and the movers frame
    (:func:`what_changed` with the model's catalog and typical values); the columns stay empty
    for accounts without a previous run."""
    changes = what_changed(
        scores, contributions, history, runs, features=features,
        catalog=getattr(model, "catalog_", None), typical=getattr(model, "typical_values_", None),
    )  # fmt: skip
    out = scores.copy()
    for name, values in changes.columns.items():
        out[name] = values.to_numpy()
    return out, changes.movers


def _valueless(features: pd.DataFrame) -> list:
    """The columns whose values the contribution history does not keep: categories and text."""
    from churnml.explain.reasons import has_numbers

    return [c for c in features.columns if not has_numbers(features[c].dtype)]


def _movers(
    moves: pd.DataFrame, slope: np.ndarray, score_change: np.ndarray, links=None, valueless=()
) -> pd.DataFrame:
    """The indicators that moved each row's score most in the direction it changed. Of an
    indicator and one derived from it (``links``: :func:`derived_links`) moving the same row,
    the derived one stands for both, with the points of both. ``valueless``: indicators whose
    values are never kept (:func:`_valueless`)."""
    rows = moves["_row"].to_numpy(dtype=np.int64)
    points = slope[rows] * moves["change"].to_numpy()
    along = points * np.sign(np.nan_to_num(score_change))[rows]
    keep = np.flatnonzero(np.round(along) >= 1)  # the value test on these rows only
    now = moves["value"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
    before = moves["value_before"].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
    # a value unknown on one side changed; unknown on both is not known to have changed when it
    # was missing both times (the previous row was kept) or is never kept (a category); a value
    # missing today whose previous row was not kept (too small a contribution) may have changed
    kept = moves["contribution_before"].notna().to_numpy()[keep]
    never = moves["indicator"].iloc[keep].isin(list(valueless)).to_numpy()
    unknown = np.isnan(now) & np.isnan(before) & (kept | never)
    keep = keep[~np.isclose(now, before, rtol=1e-6, atol=0.0) & ~unknown]
    if links is not None and len(links) and len(keep):
        part, whole = _derived_pairs(rows[keep], moves["indicator"].iloc[keep], links)
        np.add.at(points, keep[whole], points[keep[part]])
        np.add.at(along, keep[whole], along[keep[part]])
        keep = np.delete(keep, part)
    moves = moves.iloc[keep].assign(points=points[keep])
    # by row, then most points along the change first (ties keep their order)
    order = np.lexsort((-along[keep], rows[keep]))
    row = rows[keep][order]
    start = np.r_[0, np.flatnonzero(row[1:] != row[:-1]) + 1] if len(row) else row
    within = np.arange(len(row)) - np.repeat(start, np.diff(np.r_[start, len(row)]))
    moves = moves.iloc[order[within < MOVERS]]
    moves = moves.assign(rank=(within[within < MOVERS] + 1).astype(np.int64))
    return moves.reset_index(drop=True)


def derived_links(catalog) -> pd.DataFrame:
    """(component, derived) pairs of the catalog: ``champion_usage_change_30d`` is derived
    ``of`` ``champion_events_30d`` and ``champion_events_prev_30d``."""
    pairs = [(str(part), entry.id) for entry in catalog for part in entry.params.get("of") or ()]
    return pd.DataFrame(pairs, columns=["component", "derived"], dtype=object)


def _derived_pairs(rows: np.ndarray, indicators: pd.Series, links: pd.DataFrame) -> tuple:
    """``(part, whole)`` positions: candidate ``part`` has a candidate in its row derived from
    it, at ``whole`` (the change of the champion's usage says what the champion's events
    before and now say); each part once."""
    codes, names = pd.factorize(indicators)
    index = {name: i for i, name in enumerate(names)}
    links = [(index[c], index[d]) for c, d in zip(links["component"], links["derived"])
             if c in index and d in index]  # fmt: skip
    part, whole = np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not links:
        return part, whole
    width = np.int64(len(names))
    targets = np.flatnonzero(np.isin(codes, np.unique([d for _, d in links])))
    keys = rows[targets].astype(np.int64) * width + codes[targets]  # the derived candidates
    order = np.argsort(keys, kind="stable")
    keys, targets = keys[order], targets[order]
    taken = np.zeros(len(rows), dtype=bool)
    for component, derived in links:  # one pass per link of the catalog
        at = np.flatnonzero((codes == component) & ~taken)
        wanted = rows[at].astype(np.int64) * width + derived
        found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        hit = keys[found] == wanted
        taken[at[hit]] = True
        part, whole = np.r_[part, at[hit]], np.r_[whole, targets[found[hit]]]
    return part, whole


def _stated_once(movers: pd.DataFrame) -> pd.DataFrame:
    """``movers`` (by row, then rank) without those whose sentence a better-ranked mover of the
    row states already ("The champion left 20 days ago" for the flag and the days since): their
    points go to that mover, and the ranks are counted again."""
    rows, sentences = movers["_row"].to_numpy(), movers["sentence"].to_numpy(dtype=object)
    first = np.full(len(rows), -1, dtype=np.int64)  # the mover stating it first, else -1
    for back in range(MOVERS - 1, 0, -1):  # a row's movers are in a run: the farthest first
        same = (rows[back:] == rows[:-back]) & (sentences[back:] == sentences[:-back])
        at = np.flatnonzero(same & (first[back:] < 0)) + back
        first[at] = at - back
    if not (first >= 0).any():
        return movers
    points = movers["points"].to_numpy(dtype=np.float64).copy()
    np.add.at(points, first[first >= 0], points[first >= 0])
    movers = movers.assign(points=points)[first < 0]
    return movers.assign(rank=movers.groupby("_row").cumcount().to_numpy() + 1)


def _fmt(value: float) -> str:
    """A number for "before → now": whole numbers with separators, others with two decimals."""
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


#: how "before → now" shows a known value, by the indicator's unit (others: :func:`_fmt`)
FORMATS = {"share": percent, "flag": lambda value: "yes" if value else "no"}


def _fmt_all(values: np.ndarray, units=None) -> np.ndarray:
    """Each float formatted for its unit (:data:`FORMATS`, else :func:`_fmt`; "unknown" when
    missing), once per distinct (unit, value) (a value by its bits: -0.0 too)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    units = np.full(len(values), "", dtype=object) if units is None else np.asarray(units, object)
    out = np.empty(len(values), dtype=object)
    for unit in pd.unique(units):
        at = units == unit
        codes, bits = pd.factorize(values[at].view(np.int64))
        distinct = np.asarray(bits, dtype=np.int64).view(np.float64).tolist()
        fmt = FORMATS.get(unit, _fmt)
        shown = [fmt(v) if np.isfinite(v) else "unknown" for v in distinct]
        out[at] = np.array([*shown, None], dtype=object)[codes]
    return out


def _stated(movers, keys, feature_rows, features, catalog, typical) -> pd.DataFrame:
    """``movers`` with ``sentence``: the risk sentence of a mover that raised the risk (when it
    applies to today's value), the protective one of a mover that lowered it, else
    "<indicator>: <before> → <now>" ("<indicator>: now <now>" when the history did not keep
    the previous value: its contribution then was too small to keep). ``feature_rows``: each
    key row's row in ``features`` (:func:`_feature_rows`)."""
    from churnml.explain.reasons import has_sentence, render_distinct, sentence_applies
    from churnml.report.formatting import indicator_label

    movers = movers.merge(keys[["_row", "account_id", "as_of"]], on="_row")
    found = feature_rows[movers["_row"].to_numpy(dtype=np.int64)]
    movers["_feature_row"] = np.where(found >= 0, found, np.nan)
    raised = movers["change"].to_numpy() > 0
    kind = np.where(raised, "driver", "protective").astype(object)
    usable = np.zeros(len(movers), dtype=bool)
    value = movers["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    ids = set(getattr(catalog, "ids", ()) or ())
    which, names = pd.factorize(movers["indicator"])  # one pass over the strings, not one a name
    located = movers["_feature_row"].notna().to_numpy()
    for j, name in enumerate(names):
        if name not in ids:
            continue
        at = (which == j) & located
        for k, side in (("driver", raised), ("protective", ~raised)):
            rows = at & side
            if rows.any() and has_sentence(catalog[name], k):
                usable[rows] = sentence_applies(catalog[name], k, value[rows], typical.get(name))
    sentence = np.full(len(movers), None, dtype=object)
    plain = np.flatnonzero(~usable)  # no sentence applies: "<indicator>: <before> → <now>"
    codes, names = pd.factorize(movers["indicator"].iloc[plain], use_na_sentinel=False)
    entries = [catalog[i] if i in ids else None for i in names]
    label = np.array([indicator_label(i, e) for i, e in zip(names, entries)] + [None], object)
    unit = np.array([getattr(e, "unit", "") for e in entries] + [""], dtype=object)[codes]
    before = movers["value_before"].to_numpy(dtype=np.float64, na_value=np.nan)
    both = np.concatenate([before[plain], value[plain]])
    shown = _fmt_all(both, np.concatenate([unit, unit]))
    # a missing value in the catalog's words for it ("none open"), else "unknown"
    words = np.array([getattr(e, "missing", None) or "unknown" for e in entries] + ["unknown"],
                     dtype=object)[codes]  # fmt: skip
    shown = np.where(np.isnan(both), np.concatenate([words, words]), shown)
    kept = movers["contribution_before"].notna().to_numpy()[plain]
    sentence[plain] = label[codes] + ": " + np.where(
        kept, shown[: len(plain)] + " → " + shown[len(plain) :], "now " + shown[len(plain) :]
    )
    rows = movers["_feature_row"].to_numpy(dtype=np.float64)
    if usable.any():
        sentence[usable] = render_distinct(
            catalog, features.reset_index(drop=True), rows[usable].astype(np.int64),
            movers["indicator"].to_numpy(dtype=object)[usable], kind[usable], typical,
        )  # fmt: skip
    return movers.assign(sentence=sentence)


def _summaries(score_change, previous_as_of, movers) -> pd.Series:
    """ "Risk up 18 points since 1 Jun 2026: <mover> (+11); <mover> (+5)" per row."""
    n = len(score_change)
    when = pd.Series(pd.to_datetime(previous_as_of))
    codes, dates = pd.factorize(when)  # each distinct date written once; NaT -> -1 -> None
    shown = pd.Series(dates).dt.strftime("%d %b %Y").str.lstrip("0").tolist() + [None]
    since = pd.Series(np.array(shown, dtype=object)[codes], index=when.index, dtype=object)
    change = np.nan_to_num(score_change)
    size = np.abs(change).astype(np.int64)
    unit = np.where(size == 1, "point", "points")
    head = np.where(
        change > 0,
        "Risk up " + size.astype(str) + " " + unit,
        np.where(change < 0, "Risk down " + size.astype(str) + " " + unit, "Risk unchanged"),
    )
    text = pd.Series(head, dtype="string") + " since " + since.astype("string")
    codes, whole = pd.factorize(movers["points"].round().astype(np.int64).to_numpy())
    signed = np.array([f"{v:+d}" for v in whole.tolist()] + [""], dtype=object)
    points = pd.Series(signed[codes], index=movers.index, dtype=object).astype(str)
    listed = movers["sentence"].astype(str) + " (" + points + ")"
    from churnml.explain.reasons import join_per_row

    detail = join_per_row(n, movers["_row"].to_numpy(), listed, sep="; ")
    text = (text + ": " + detail).fillna(text)
    return text.where(~np.isnan(score_change)).astype("string")


def _movers_frame(movers, keys, catalog) -> pd.DataFrame:
    """The movers as a tidy frame (:data:`CHANGE_COLUMNS`)."""
    codes, ids = pd.factorize(movers["indicator"], use_na_sentinel=False)
    families = [getattr(catalog.get(i), "family", None) for i in ids]
    family = np.array([*families, None], dtype=object)[codes]
    out = pd.DataFrame(
        {
            "account_id": pd.array(movers["account_id"], dtype="string"),
            "as_of": pd.to_datetime(movers["as_of"]).astype("datetime64[ns]").to_numpy(),
            "previous_as_of": keys["previous_as_of"].to_numpy()[movers["_row"].to_numpy(np.int64)],
            "indicator": pd.array(movers["indicator"], dtype="string"),
            "family": pd.array(family, dtype="string"),
            "contribution_change": movers["change"].to_numpy(dtype=np.float64),
            "points": movers["points"].to_numpy(dtype=np.float64),
            "value": movers["value"].to_numpy(dtype=np.float64, na_value=np.nan),
            "previous_value": movers["value_before"].to_numpy(dtype=np.float64, na_value=np.nan),
            "sentence": pd.array(movers["sentence"], dtype="string"),
            "rank": movers["rank"].to_numpy(dtype=np.int16),
        }
    )
    return out[CHANGE_COLUMNS]
