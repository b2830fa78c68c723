"""Persona health: whose relationship is failing — decision makers, influencers or users.

Each catalog indicator may name the persona it measures (catalog key ``persona``): decision
makers and executive sponsors (a decision maker left, no sponsor, a detractor among them),
influencing users — champions and power users — (a champion left, the champions' own usage,
power users), and day-to-day users (active users, events, licence utilisation, breadth).
A persona's contribution is the sum of its indicators' contributions to the account's
log-odds, and its health follows from it:

==========  =================================================================
at risk     the persona's indicators raise the log-odds by :data:`AT_RISK` or more
watch       they raise it by :data:`WATCH` or more
healthy     otherwise
==========  =================================================================

With each comes the persona's strongest stateable sentence: a risk sentence when it is at risk
or watched, a protective one when healthy (the rules of :mod:`churnml.explain.reasons`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.explain.contributions import (
    MIN_CONTRIBUTION,
    _catalog_for,
    _keys,
    _top,
    stating_matrices,
)
from churnml.explain.reasons import as_strings, render_distinct

AT_RISK = 0.2
WATCH = 0.05
PERSONAS = ("decision_maker", "influencer", "user")
PERSONA_LABELS = {
    "decision_maker": "Decision makers",
    "influencer": "Champions and power users",
    "user": "Day-to-day users",
}
#: the scores-frame column holding each persona's health
HEALTH_COLUMNS = {p: f"{p}_health" for p in PERSONAS}
PERSONA_COLUMNS = ["account_id", "as_of", "persona", "contribution", "health", "indicator",
                   "sentence"]  # fmt: skip


@dataclass(frozen=True)
class PersonaHealth:
    """Persona health of one feature frame.

    Attributes
    ----------
    personas : DataFrame
        One row per account × persona with indicators in the model (columns
        :data:`PERSONA_COLUMNS`), personas in :data:`PERSONAS` order.
    columns : DataFrame
        One row per feature row (RangeIndex): ``decision_maker_health``, ``influencer_health``,
        ``user_health`` (missing for a persona without indicators in the model).
    """

    personas: pd.DataFrame
    columns: pd.DataFrame


def personas_of(catalog, names) -> np.ndarray:
    """The persona of each indicator in ``names`` (None when it has none). A catalog saved with
    a model before personas existed takes them from the packaged catalog."""
    from churnml.features.catalog import load_catalog

    ids = set(getattr(catalog, "ids", ()) or ())
    packaged = None
    out = np.full(len(names), None, dtype=object)
    for j, name in enumerate(names):
        entry = catalog[name] if name in ids else None
        if entry is not None and "persona" not in vars(entry):  # unpickled from an older model
            packaged = load_catalog() if packaged is None else packaged
            entry = packaged.get(name)
        out[j] = getattr(entry, "persona", None)
    return out


def health_of(contribution: np.ndarray) -> np.ndarray:
    """ "at risk", "watch" or "healthy" for each persona contribution (log-odds)."""
    return np.where(
        contribution >= AT_RISK, "at risk", np.where(contribution >= WATCH, "watch", "healthy")
    )


def persona_health(model, features: pd.DataFrame, explanation, *, catalog=None) -> PersonaHealth:
    """Health of each persona per account, from the contributions of its indicators.

    Parameters
    ----------
    model : ChurnModel or lightgbm.Booster
        The explained model (its ``typical_values_`` decide which sentences apply).
    features : DataFrame
        The feature frame the explanation was computed on (same rows and order).
    explanation : Explanation
        From :func:`churnml.explain.contributions.explain_all`.
    catalog : Catalog, optional
        Default the model's catalog or the packaged one.

    Returns
    -------
    PersonaHealth

    Examples
    --------
    >>> health = persona_health(model, features, explain_all(model, features))  # doctest: +SKIP
    >>> health.columns["decision_maker_health"].value_counts()  # doctest: +SKIP
    """
    features = features.reset_index(drop=True)
    catalog = _catalog_for(model, catalog, explanation)
    names = list(explanation.contributions.columns)
    values = explanation.contributions.to_numpy(dtype=np.float64)
    persona = personas_of(catalog, names)
    present = [p for p in PERSONAS if (persona == p).any()]
    account, as_of = _keys(features)
    typical = dict(getattr(model, "typical_values_", None) or {})
    stating = stating_matrices(explanation, features, names, catalog, typical)
    stateable = _stateable(values, *stating[1:]) if names else None
    account = pd.array(account, dtype="string")
    frames, columns = [], pd.DataFrame(index=range(len(features)))
    for p in PERSONAS:
        columns[HEALTH_COLUMNS[p]] = pd.array([None] * len(features), dtype="string")
    for p in present:
        mine = persona == p
        total = values[:, mine].sum(axis=1)
        health = health_of(total)
        columns[HEALTH_COLUMNS[p]] = as_strings(health)
        pick = _sentence_columns(stateable, mine, health)
        frames.append(_persona_rows(p, account, as_of, total, health, pick, names, catalog,
                                    features, typical))  # fmt: skip
    personas = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: pd.Series(dtype="string") for c in PERSONA_COLUMNS})
    )
    # frames come in persona order: a stable sort by row keeps it within each account
    row = np.tile(np.arange(len(features)), len(frames))
    personas = personas.iloc[np.argsort(row, kind="stable")]
    return PersonaHealth(personas=personas.reset_index(drop=True), columns=columns)


def _stateable(values, known, driver, protective):
    """The (n × p) strength of each stateable sentence, -inf where none: the risk sentence's
    (its contribution) and the protective one's (minus its contribution), each where the value
    is known, the sentence applies and the contribution is not negligible."""
    return (
        np.where(known & driver & (values > MIN_CONTRIBUTION), values, -np.inf),
        np.where(known & protective & (values < -MIN_CONTRIBUTION), -values, -np.inf),
    )


def _sentence_columns(stateable, mine, health):
    """Column of the persona's strongest stateable sentence per row (-1 when none): a risk
    sentence when it is at risk or watched, a protective one when healthy."""
    risky = health != "healthy"
    driver, protective = stateable
    score = np.where(risky[:, None], driver, protective)
    score[:, ~mine] = -np.inf
    cols, ok = _top(score, 1)
    return np.where(ok[:, 0], cols[:, 0], -1) if cols.shape[1] else np.full(len(score), -1)


def _persona_rows(persona, account, as_of, total, health, pick, names, catalog, features, typical):
    stated = pick >= 0
    indicator = np.asarray([*names, None], dtype=object)[np.where(stated, pick, len(names))]
    sentence = np.full(len(pick), None, dtype=object)
    rows = np.flatnonzero(stated)
    kinds = np.where(health[rows] == "healthy", "protective", "driver").astype(object)
    sentence[rows] = render_distinct(catalog, features, rows, indicator[rows], kinds, typical)
    return pd.DataFrame(
        {
            "account_id": pd.array(account, dtype="string"),
            "as_of": as_of,
            "persona": as_strings(np.full(len(pick), persona, dtype=object)),
            "contribution": total,
            "health": as_strings(health),
            "indicator": as_strings(indicator),
            "sentence": pd.array(sentence, dtype="string"),
        }
    )
