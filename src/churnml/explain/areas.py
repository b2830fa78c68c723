"""Family-first explanations: risk by area, then the sentences that carry each leading area.

Correlated indicators split one cause's weight between them: when the champion leaves, "champion
left", "no active champion" and "champion's usage fell" each get a part, and a single indicator
of another family can outrank all three. Summing contributions per family (an *area*) gives each
cause its whole weight back (the sums are exact: they add up to the account's log-odds minus the
base value). Per account row:

- **area contribution**: the family's summed contribution (log-odds); its **share** is that
  contribution over the sum of the account's positive area contributions.
- **leading areas**: the largest area when it raises the log-odds by at least :data:`MIN_AREA`,
  and the second largest when it does too and reaches :data:`SECOND_AREA` of the first.
- **area sentences**: a leading area's drivers (an indicator of the family whose risk sentence
  applies to the account's value, contribution above ``MIN_CONTRIBUTION``; see
  :mod:`churnml.explain.reasons`), strongest first: the first, and the second when the first
  carries less than :data:`FIRST_CARRIES` of the area's positive contributions. A leading area
  none of whose indicators can be stated names the (up to three) indicators that raise it most
  ("ARR, seats and segment together raise the risk; none stands out alone").
- **plays**: the play of the pair of leading areas (when the plays file has one), then the play
  of each leading area's first sentence's indicator, else of its family
  (:mod:`churnml.explain.plays`), each with its owner.

An account without any area sentence keeps the indicator drivers of
:func:`~churnml.explain.contributions.explain_all`. Everything is vectorised over the
(accounts × indicators) contribution matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.explain.area_plays import area_plays
from churnml.explain.contributions import (
    MIN_CONTRIBUTION,
    REASON_COLUMNS,
    _catalog_for,
    _families,
    _keys,
    _one_per_sentence,
    _top,
    family_rows,
    protective_reasons,
    stating_matrices,
)
from churnml.explain.plays import as_plays
from churnml.explain.reasons import as_strings, join_per_row, render_distinct, row_positions
from churnml.features.catalog import area_label

MIN_AREA = 0.05
SECOND_AREA = 0.25
FIRST_CARRIES = 2 / 3
MAX_AREAS = 2
AREA_REASON_COLUMNS = [*REASON_COLUMNS, "area_rank"]
SUMMARY_COLUMNS = [
    "top_reasons", "protective_reasons", "reason_code_1", "reason_code_2", "reason_code_3",
    "risk_areas", "top_family", "play", "play_owner", "plays", "play_owners",
]  # fmt: skip


@dataclass(frozen=True)
class Areas:
    """Family-first explanations of one feature frame.

    Attributes
    ----------
    reasons : DataFrame
        Columns :data:`AREA_REASON_COLUMNS`: per account the area sentences (kind "driver",
        ``rank`` their order on the card, ``area_rank`` 1 or 2 for the leading area they belong
        to) then explain_all's protective factors; an account without area sentences keeps
        explain_all's drivers (``area_rank`` missing).
    families : DataFrame
        account_id, as_of, family, contribution, share, rank (1 = largest), leading (bool).
    summary : DataFrame
        One row per feature row (RangeIndex), columns :data:`SUMMARY_COLUMNS`: newline-joined
        sentences, reason codes (indicator ids of the first three sentences), ``risk_areas``
        ("Relationship 58%, Adoption 31%"), ``top_family``, ``play`` and ``play_owner`` (the
        first play), ``plays`` and ``play_owners`` (newline-joined, aligned).
    """

    reasons: pd.DataFrame
    families: pd.DataFrame
    summary: pd.DataFrame


def family_first(model, features: pd.DataFrame, explanation, *, catalog=None, plays=None) -> Areas:
    """Risk by area, the sentences carrying each leading area, and plays chosen from the areas.

    Parameters
    ----------
    model : ChurnModel or lightgbm.Booster
        The model ``explanation`` explains; its ``typical_values_`` decide which sentences apply.
    features : DataFrame
        The feature frame ``explanation`` was computed on (same rows, same order).
    explanation : Explanation
        From :func:`churnml.explain.contributions.explain_all`.
    catalog : Catalog, optional
        Families and sentences; default the model's catalog or the packaged one.
    plays : Plays, path or mapping, optional
        Default the packaged ``plays.yaml``.

    Returns
    -------
    Areas

    Examples
    --------
    >>> ex = explain_all(model, features)  # doctest: +SKIP
    >>> areas = family_first(model, features, ex)  # doctest: +SKIP
    >>> areas.summary[["risk_areas", "top_reasons", "play", "play_owner"]].head()  # doctest: +SKIP
    """
    features = features.reset_index(drop=True)
    catalog = _catalog_for(model, catalog, explanation)
    plays = as_plays(plays)
    names = list(explanation.contributions.columns)
    values = explanation.contributions.to_numpy(dtype=np.float64)
    family = _families(catalog, names)
    labels, column_family = np.unique(family.astype(str), return_inverse=True)
    onehot = np.zeros((len(names), len(labels)))
    onehot[np.arange(len(names)), column_family] = 1.0
    sums = values @ onehot
    lead, order = _leading(sums)
    typical = dict(getattr(model, "typical_values_", None) or {})
    stating = stating_matrices(explanation, features, names, catalog, typical)
    # of indicators sharing one risk sentence only the strongest may state it, as in explain_all
    drivers = _one_per_sentence(_driver_matrix(stating, values), names, catalog, "risk")
    picked = _pick_sentences(drivers, values, onehot, column_family, lead, order)
    account, as_of = _keys(features)
    column_play = np.asarray(plays.plays_for(names, family) + [None], dtype=object)
    family_play = np.asarray([plays.families.get(f) for f in labels] + [None], dtype=object)
    frames = _area_reasons(
        picked, (names, labels, column_family), values, features, (catalog, typical, stating),
        (column_play, family_play),
    )  # fmt: skip
    reasons = _with_fallback(frames, explanation.reasons, features, account, as_of)
    protective = protective_reasons(explanation)
    summary = _summary(reasons, features, protective, sums, labels, lead, order)
    summary = summary.join(
        area_plays(plays, names, (column_play, family_play), labels, (lead, order), picked,
                   reasons, features)
    )  # fmt: skip
    return Areas(
        reasons=reasons,
        families=_family_table(account, as_of, labels, sums, lead, order),
        summary=summary[SUMMARY_COLUMNS],
    )


def _leading(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n × MAX_AREAS) mask of leading areas and (n × F) family positions, largest first."""
    n, f = sums.shape
    order = np.argsort(-sums, axis=1, kind="stable")
    ranked = np.take_along_axis(sums, order, axis=1)
    lead = np.zeros((n, MAX_AREAS), dtype=bool)
    if f == 0:
        return lead, np.zeros((n, MAX_AREAS), dtype=np.int64)
    lead[:, 0] = ranked[:, 0] >= MIN_AREA
    if f > 1 and MAX_AREAS > 1:
        lead[:, 1] = lead[:, 0] & (ranked[:, 1] >= np.maximum(MIN_AREA, SECOND_AREA * ranked[:, 0]))
    pad = np.zeros((n, max(0, MAX_AREAS - f)), dtype=np.int64)
    return lead, np.concatenate([order[:, :MAX_AREAS], pad], axis=1)


def _driver_matrix(stating, values) -> np.ndarray:
    """Contributions where a risk sentence may be stated (known value on its risky side), -inf
    elsewhere: the same rule as explain_all's drivers (``stating``: :func:`stating_matrices`)."""
    _, known, eligible, _ = stating
    return np.where(known & eligible & (values > MIN_CONTRIBUTION), values, -np.inf)


def _pick_sentences(drivers, values, onehot, column_family, lead, order) -> pd.DataFrame:
    """Row position, model column, area (family position), area_rank and position within the
    area of every area sentence; ``col`` is -1 for a leading area without a stateable driver."""
    n = len(values)
    rows_all = np.arange(n)
    positive = np.maximum(values, 0.0) @ onehot
    parts = []
    for k in range(MAX_AREAS):
        area = order[:, k]
        in_area = (column_family[None, :] == area[:, None]) & lead[:, [k]]
        cols, ok = _top(np.where(in_area, drivers, -np.inf), 2)
        if cols.shape[1] == 0:
            cols, ok = np.full((n, 1), -1), np.zeros((n, 1), dtype=bool)
        carried = values[rows_all, cols[:, 0]] < FIRST_CARRIES * positive[rows_all, area]
        keep = ok.copy()
        if cols.shape[1] > 1:
            keep[:, 1] &= keep[:, 0] & carried
        cols = np.where(keep, cols, -1)
        keep[:, 0] |= lead[:, k]  # a leading area without a sentence gets its generic one
        for j in range(cols.shape[1]):
            at = keep[:, j]
            parts.append(
                pd.DataFrame(
                    {"row": rows_all[at], "col": cols[at, j], "area": area[at],
                     "area_rank": k + 1, "within": j}
                )
            )  # fmt: skip
    picked = pd.concat(parts, ignore_index=True).astype(np.int64)
    return picked.sort_values(["row", "area_rank", "within"], kind="stable").reset_index(drop=True)


def _area_reasons(picked, columns, values, features, sentences_from, plays):
    """The area sentences as reason rows (kind "driver", rank 1.. per row in card order, the
    play of each sentence's indicator); a leading area without a stateable driver gets the
    generic sentence :func:`generic_sentence`, its strongest indicator (as reason code) and its
    family's play.

    ``columns`` is (model columns, family labels, each column's family position), ``values``
    the (n × p) contributions, ``sentences_from`` (catalog, typical values, the matrices of
    :func:`stating_matrices`), ``plays`` (per model column + None, per family + None).
    """
    names, labels, column_family = columns
    catalog, typical, (feature_values, known_values, _, _) = sentences_from
    column_play, family_play = plays
    account, as_of = _keys(features)
    rows = picked["row"].to_numpy(dtype=np.int64)
    cols = picked["col"].to_numpy(dtype=np.int64, copy=True)
    area = picked["area"].to_numpy(dtype=np.int64)
    stated = cols >= 0
    sentences = np.full(len(rows), None, dtype=object)
    generic = np.flatnonzero(~stated)
    kept = np.ones(len(rows), dtype=bool)
    if len(generic):
        in_area = column_family[None, :] == area[generic][:, None]
        raised = values[rows[generic]]
        known = known_values[rows[generic]]
        top, ok = _top(np.where(in_area & known & (raised > 0), raised, -np.inf), 3)
        cols[generic] = top[:, 0]
        sentences[generic] = _generic_sentences(names, top, ok)
        # an area raised only by values the data lacks (an indicator not built, no responses)
        # states nothing: an unknown value is never given as a reason, as in explain_all
        kept[generic] = ok[:, 0]
    rows, cols, area, stated = rows[kept], cols[kept], area[kept], stated[kept]
    sentences, area_rank = sentences[kept], picked["area_rank"].to_numpy()[kept]
    indicator = np.asarray(names, dtype=object)[cols]
    sentences[stated] = render_distinct(
        catalog, features, rows[stated], indicator[stated],
        np.full(int(stated.sum()), "driver", dtype=object), typical,
    )  # fmt: skip
    play = np.where(stated, column_play[cols], family_play[area])
    # two indicators may state one fact ("The champion left 84 days ago" for the departure flag
    # and the days since): a card says it once, where it comes first
    once = ~pd.DataFrame({"row": rows, "sentence": sentences}).duplicated().to_numpy()
    if not once.all():
        rows, cols, area, sentences = rows[once], cols[once], area[once], sentences[once]
        indicator, area_rank, play = indicator[once], area_rank[once], play[once]
    return pd.DataFrame(
        {
            "account_id": pd.array(account, dtype="string").take(rows),
            "as_of": as_of[rows],
            "indicator": as_strings(indicator),
            "family": pd.array(np.asarray(labels, dtype=object), dtype="string").take(area),
            "value": feature_values[rows, cols] if len(rows) else np.empty(0),
            "contribution": values[rows, cols],
            "kind": as_strings(np.full(len(rows), "driver", dtype=object)),
            "rank": (pd.Series(rows).groupby(rows).cumcount().to_numpy() + 1).astype(np.int16),
            "sentence": pd.array(sentences, dtype="string"),
            "play": as_strings(play),
            "area_rank": pd.array(area_rank, dtype="Int8"),
            "_row": rows,
        }
    )


def _generic_sentences(names, top: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """:func:`generic_sentence` of each row's stateable ``top`` columns (None where the first is
    not), written once per distinct combination of columns."""
    named = np.where(ok, top, -1)
    combos, which = np.unique(named, axis=0, return_inverse=True)
    text = np.array(
        [generic_sentence([names[j] for j in c if j >= 0]) if c[0] >= 0 else None
         for c in combos.tolist()] or [None],
        dtype=object,
    )  # fmt: skip
    return text[which.reshape(-1)]


def generic_sentence(indicators) -> str:
    """What a card says for a leading area none of whose indicators can be stated alone, naming
    the indicators that raise it most.

    Examples
    --------
    >>> generic_sentence(["arr", "seats", "segment"])
    'ARR, seats and segment together raise the risk; none stands out alone'
    """
    from churnml.report.formatting import pretty_indicator

    words = [pretty_indicator(i) for i in indicators]
    words = [words[0], *(w[:1].lower() + w[1:] if not w[:3].isupper() else w for w in words[1:])]
    if len(words) == 1:
        return f"{words[0]} raises the risk"
    return f"{', '.join(words[:-1])} and {words[-1]} together raise the risk; none stands out alone"


def _with_fallback(area_rows, reasons, features, account, as_of) -> pd.DataFrame:
    """Area sentences, explain_all's drivers for rows without any, then protective factors."""
    row = row_positions(reasons, account, as_of)
    missing = pd.arrays.IntegerArray(np.zeros(len(reasons), np.int8), np.ones(len(reasons), bool))
    base = reasons.assign(area_rank=missing, _row=row)
    has_area = np.zeros(len(features), dtype=bool)
    has_area[area_rows["_row"].to_numpy(dtype=np.int64)] = True
    drivers = base[(base["kind"] == "driver") & ~has_area[base["_row"].to_numpy(dtype=np.int64)]]
    protective = base[base["kind"] == "protective"]
    both = pd.concat([area_rows, drivers, protective], ignore_index=True)
    both["_kind_order"] = (both["kind"] != "driver").astype(np.int8)
    both = both.sort_values(["_row", "_kind_order", "rank"], kind="stable")
    return both.drop(columns=["_row", "_kind_order"]).reset_index(drop=True)[AREA_REASON_COLUMNS]


def _summary(reasons, features, protective, sums, labels, lead, order) -> pd.DataFrame:
    n = len(features)
    account, as_of = _keys(features)
    row = row_positions(reasons, account, as_of)
    drivers = reasons["kind"].to_numpy() == "driver"
    d_rows = row[drivers].astype(np.int64)
    out = pd.DataFrame(index=range(n))
    out["top_reasons"] = join_per_row(n, d_rows, reasons.loc[drivers, "sentence"])
    out["protective_reasons"] = pd.array(protective, dtype="string")
    rank = reasons.loc[drivers, "rank"].to_numpy()
    indicator = reasons.loc[drivers, "indicator"].to_numpy(dtype=object)
    for k in (1, 2, 3):
        codes = np.full(n, None, dtype=object)
        codes[d_rows[rank == k]] = indicator[rank == k]
        out[f"reason_code_{k}"] = pd.array(codes, dtype="string")
    out["risk_areas"] = _risk_areas(sums, labels, lead, order)
    top = np.where(lead[:, 0], labels[order[:, 0]] if len(labels) else None, None)
    out["top_family"] = pd.array(top, dtype="string")
    return out


def _risk_areas(sums, labels, lead, order) -> pd.Series:
    """ "Relationship 58%, Adoption 31%": the leading areas and their share of the raised risk."""
    n = len(sums)
    raised = np.maximum(sums, 0.0).sum(axis=1)
    rows = np.arange(n)
    names = np.array([area_label(f) for f in labels] or [""], dtype=object)
    text = pd.Series(pd.NA, index=range(n), dtype="string")
    for k in range(MAX_AREAS):
        share = np.divide(sums[rows, order[:, k]], raised, out=np.zeros(n), where=raised > 0)
        part = pd.Series(names[order[:, k]] + " ", dtype="string") + pd.Series(
            share, dtype="float64"
        ).map("{:.0%}".format).astype("string")
        part = part.where(lead[:, k])
        text = part if k == 0 else (text + ", " + part).fillna(text)
    return text


def _family_table(account, as_of, labels, sums, lead, order) -> pd.DataFrame:
    """One row per account × family: contribution, share of the raised risk, rank, leading."""
    n, f = sums.shape
    raised = np.maximum(sums, 0.0).sum(axis=1, keepdims=True)
    share = np.divide(
        sums, raised, out=np.full(sums.shape, np.nan), where=(raised > 0) & (sums > 0)
    )
    rank = np.empty_like(order, shape=sums.shape)
    full_order = np.argsort(-sums, axis=1, kind="stable")
    np.put_along_axis(rank, full_order, np.arange(1, f + 1)[None, :].repeat(n, axis=0), axis=1)
    leading = np.zeros(sums.shape, dtype=bool)
    for k in range(MAX_AREAS):
        leading[np.arange(n)[lead[:, k]], order[lead[:, k], k]] = True
    return family_rows(account, as_of, labels, sums).assign(
        share=share.ravel(), rank=rank.ravel().astype(np.int16), leading=leading.ravel()
    )
