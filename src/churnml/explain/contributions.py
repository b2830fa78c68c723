"""Per-account explanations: SHAP drivers and protective factors as tidy frames with sentences.

:func:`explain_all` is the one computation; :func:`explain` and :func:`family_contributions` are
views of it. All ranking is vectorised over the (accounts × indicators) contribution matrix;
sentences are rendered only for the rows shown (at most ``top_risk + top_protective`` per account).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnml.explain.backends import (
    PendingContributions,
    resolve_backend,
    start_contributions,
    start_model_contributions,
)
from churnml.explain.plays import as_plays
from churnml.explain.reasons import (
    as_strings,
    has_numbers,
    has_sentence,
    join_per_row,
    render_distinct,
    sentence_applies,
)

#: Contributions smaller than this (log-odds) are never shown as a reason: 0.01 moves the odds of
#: non-renewal by about 1 %, less than anything a CSM should be told "is going well" or "drives risk".
MIN_CONTRIBUTION = 0.01
OTHER_FAMILY = "other"
REASON_COLUMNS = [
    "account_id",
    "as_of",
    "indicator",
    "family",
    "value",
    "contribution",
    "kind",
    "rank",
    "sentence",
    "play",
]


@dataclass(frozen=True)
class Explanation:
    """Everything :func:`explain_all` computes for one feature frame.

    Attributes
    ----------
    reasons : DataFrame
        The long frame of :func:`explain` (columns ``REASON_COLUMNS``), drivers then protective
        factors per account, in the feature frame's row order.
    families : DataFrame
        Per-family sums: account_id, as_of, family, contribution (one row per account × family).
    base_value : ndarray of shape (n,)
        The model's expected raw score (log-odds), per row of the feature frame (for a blend, the
        weighted base values of its booster and linear model plus the blend's intercept).
    log_odds : ndarray of shape (n,)
        ``base_value + contributions.sum(axis=1)``, the model's raw score per row (a blended
        ChurnModel's blended log-odds, ``predict_raw``).
    contributions : DataFrame
        The full (n × p) contribution matrix, columns = the model's features.
    backend : str
        The backend that computed the contributions.
    summary : DataFrame
        One row per feature row (same order, RangeIndex): ``top_reasons`` and
        ``protective_reasons`` (newline-joined sentences, strongest first), ``reason_code_1..3``
        (indicator ids of the top drivers), ``play`` (the top driver's play) and ``plays``
        (distinct plays of the drivers, newline-joined); missing where an account has none.
        Built on first access (batch scoring joins the reasons itself).
    """

    reasons: pd.DataFrame
    families: pd.DataFrame
    base_value: np.ndarray
    log_odds: np.ndarray
    contributions: pd.DataFrame
    backend: str
    shown: tuple = field(default=(), repr=False, compare=False)
    stating: tuple = field(default=(), repr=False, compare=False)

    @functools.cached_property
    def summary(self) -> pd.DataFrame:
        return _summary(*self.shown)

    @property
    def feature_values(self) -> np.ndarray | None:
        """The (n × p) indicator values (float64, categories NaN) in ``contributions``' column
        order, as :func:`explain_all` gathered them; None when it was not told them."""
        return self.stating[2] if self.stating else None


def _booster_and_frame(model, features: pd.DataFrame):
    """The booster and the prepared model input for ``features``."""
    if hasattr(model, "booster_"):
        return model.booster_, model.prepare(features)
    if hasattr(model, "feature_name") and hasattr(model, "predict"):  # a bare lightgbm.Booster
        names = model.feature_name()
        missing = [c for c in names if c not in features.columns]
        if missing:
            raise ValueError(
                f"features lack {len(missing)} of the model's feature columns: {missing[:10]}"
            )
        return model, features[names]
    raise TypeError(f"model must be a fitted ChurnModel or a lightgbm.Booster, got {type(model)}")


def start_explaining(model, features: pd.DataFrame, *, backend: str = "auto"):
    """Start the contributions :func:`explain_all` needs for ``features``: WOODELF's worker
    processes (large inputs) run while the caller goes on; pass the result as ``pending=``."""
    booster, X = _booster_and_frame(model, features)
    return _start(model, booster, X, backend)


def _start(model, booster, X: pd.DataFrame, backend: str) -> PendingContributions:
    """Contributions to the model's log-odds: a ChurnModel's (blend included) or a booster's."""
    if hasattr(model, "booster_"):
        return start_model_contributions(model, X, backend=backend)
    return start_contributions(booster, X, backend=backend)


def _catalog_for(model, catalog, explanation=None):
    """``catalog``, else the model's, else the packaged one (the one ``explanation`` was
    computed with, when given, rather than reading it again)."""
    if catalog is not None:
        return catalog
    catalog = getattr(model, "catalog_", None)
    if catalog is not None:
        return catalog
    if getattr(explanation, "stating", ()):
        return explanation.stating[0]
    from churnml.features.catalog import load_catalog

    return load_catalog()


def _keys(features: pd.DataFrame):
    n = len(features)
    account = (
        features["account_id"].astype("string").to_numpy(dtype=object)
        if "account_id" in features
        else np.asarray([str(i) for i in range(n)], dtype=object)
    )
    as_of = (
        pd.to_datetime(features["as_of"]).to_numpy()
        if "as_of" in features
        else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    return account, as_of


def _families(catalog, names):
    ids = set(getattr(catalog, "ids", ()) or ())
    return np.asarray(
        [catalog[n].family if n in ids else OTHER_FAMILY for n in names], dtype=object
    )


def _one_per_sentence(scores: np.ndarray, names, catalog, kind: str) -> np.ndarray:
    """``scores`` where, of indicators sharing one ``kind`` sentence ("The champion left
    {days_since_champion_left:.0f} days ago" for the departure flags and the days since), only
    the best of each row may become a reason (the others -inf): a reason is one sentence."""
    ids = set(getattr(catalog, "ids", ()) or ())
    shared: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        template = getattr(catalog[name], f"{kind}_sentence", None) if name in ids else None
        if template:
            shared.setdefault(template, []).append(j)
    groups = [cols for cols in shared.values() if len(cols) > 1]
    if not groups:
        return scores
    scores = scores.copy()
    for cols in groups:  # one pass per shared sentence of the catalog
        block = scores[:, cols]
        best = block.argmax(axis=1)
        others = np.ones(block.shape, dtype=bool)
        others[np.arange(len(block)), best] = False
        block[others] = -np.inf
        scores[:, cols] = block
    return scores


def _top(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions of the ``k`` largest finite entries per row, largest first, and validity."""
    n, p = matrix.shape
    k = min(k, p)
    if k <= 0:
        return np.empty((n, 0), dtype=np.int64), np.empty((n, 0), dtype=bool)
    part = (
        np.argpartition(-matrix, k - 1, axis=1)[:, :k] if k < p else np.tile(np.arange(p), (n, 1))
    )
    picked = np.take_along_axis(matrix, part, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    cols = np.take_along_axis(part, order, axis=1)
    return cols, np.isfinite(np.take_along_axis(matrix, cols, axis=1))


def _eligible(catalog, names, values: np.ndarray, kind: str, typical: dict) -> np.ndarray:
    """(n × p) mask: the indicator has a ``kind`` sentence that applies to the row's value."""
    ids = set(getattr(catalog, "ids", ()) or ())
    mask = np.zeros(values.shape, dtype=bool)
    for j, name in enumerate(names):
        if name in ids and has_sentence(catalog[name], kind):
            mask[:, j] = sentence_applies(catalog[name], kind, values[:, j], typical.get(name))
    return mask


def _feature_values(features: pd.DataFrame, names) -> np.ndarray:
    """Indicator values as float64 (categoricals and text -> NaN) in ``names`` order."""
    out = np.full((len(features), len(names)), np.nan)
    for j, name in enumerate(names):
        s = features[name]
        if has_numbers(s.dtype):
            out[:, j] = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def explain_all(
    model,
    features: pd.DataFrame,
    *,
    catalog=None,
    plays=None,
    backend: str = "auto",
    top_risk: int = 3,
    top_protective: int = 2,
    values: np.ndarray | None = None,
    base_value: np.ndarray | None = None,
    pending: PendingContributions | None = None,
) -> Explanation:
    """Contributions, shown reasons, family sums, base value and log-odds for every feature row.

    Parameters
    ----------
    model : ChurnModel or lightgbm.Booster
        A fitted model; a ChurnModel's ``prepare`` aligns and re-codes the features.
    features : DataFrame
        The frame from ``build_features`` (spine columns + indicators), one row per account.
    catalog : Catalog, optional
        Sentences and families; default ``model.catalog_`` or the packaged catalog.
    plays : Plays, path or mapping, optional
        Suggested plays (default: the packaged ``plays.yaml``).
    backend : str
        Contribution backend, see :func:`churnml.explain.backends.contributions`.
    top_risk, top_protective : int
        Drivers and protective factors shown per account.
    values, base_value : ndarray, optional
        Precomputed contributions (n × p, booster feature order) and base values to reuse.
    pending : PendingContributions, optional
        The contributions :func:`start_explaining` started for these ``features``.

    Returns
    -------
    Explanation
    """
    for name, k in (("top_risk", top_risk), ("top_protective", top_protective)):
        if k < 0:
            raise ValueError(f"{name} must be at least 0, but got {name}={k}")
    if pending is not None:
        booster = getattr(model, "booster_", model)
        used = pending.backend
        values, base_value = pending.result()
    else:
        booster, X = _booster_and_frame(model, features)
        used = resolve_backend(backend, len(features)) if values is None else "precomputed"
    names = list(booster.feature_name())
    if values is None:
        values, base_value = _start(model, booster, X, backend).result()
    elif base_value is None:
        raise ValueError("base_value is required when values are given")
    values = np.asarray(values, dtype=np.float64)
    base_value = np.broadcast_to(np.asarray(base_value, dtype=np.float64), len(features))
    catalog = _catalog_for(model, catalog)
    plays = as_plays(plays)
    account, as_of = _keys(features)
    family = _families(catalog, names)
    typical = dict(getattr(model, "typical_values_", None) or {})
    stating = _stating(features, names, catalog, typical)
    feat, known, can_drive, can_protect = stating
    # a reason is stated only for a known value ("resolved in unknown days" helps nobody)
    driver = np.where(known & can_drive & (values > MIN_CONTRIBUTION), values, -np.inf)
    protect = np.where(known & can_protect & (values < -MIN_CONTRIBUTION), -values, -np.inf)
    d_cols, d_ok = _top(_one_per_sentence(driver, names, catalog, "risk"), top_risk)
    p_cols, p_ok = _top(_one_per_sentence(protect, names, catalog, "protective"), top_protective)
    cols = np.concatenate([d_cols, p_cols], axis=1)
    ok = np.concatenate([d_ok, p_ok], axis=1)
    kind = np.array(["driver"] * d_cols.shape[1] + ["protective"] * p_cols.shape[1], dtype=object)
    rank = np.concatenate([np.arange(1, d_cols.shape[1] + 1), np.arange(1, p_cols.shape[1] + 1)])
    rows = np.broadcast_to(np.arange(len(features))[:, None], cols.shape)[ok]
    cols, kinds = cols[ok], np.broadcast_to(kind, ok.shape)[ok]
    indicator = np.asarray(names, dtype=object)[cols]
    play_of = np.asarray(plays.plays_for(names, family), dtype=object)
    ranks = np.broadcast_to(rank, ok.shape)[ok].astype(np.int16)
    sentences = render_distinct(catalog, features, rows, indicator, kinds, typical)
    # two indicators may state one fact in the same words (the departure flag and the days since):
    # a row says it once, at its better rank; the ranks after it close up
    once = ~pd.DataFrame({"row": rows, "kind": kinds, "sentence": sentences}).duplicated().to_numpy()
    if not once.all():
        rows, cols, kinds, indicator = (a[once] for a in (rows, cols, kinds, indicator))
        sentences = np.asarray(sentences, dtype=object)[once].tolist()
        ranks = (pd.Series(kinds).groupby([rows, kinds]).cumcount().to_numpy() + 1).astype(np.int16)
    row_plays = np.where(kinds == "driver", play_of[cols], None)
    reasons = pd.DataFrame(
        {
            "account_id": pd.array(account, dtype="string").take(rows),
            "as_of": as_of[rows],
            "indicator": pd.array(np.asarray(names, dtype=object), dtype="string").take(cols),
            "family": pd.array(family, dtype="string").take(cols),
            "value": feat[rows, cols],
            "contribution": values[rows, cols],
            "kind": as_strings(kinds),
            "rank": ranks,
            "sentence": pd.array(sentences, dtype="string"),
            "play": as_strings(row_plays),
        },
        columns=REASON_COLUMNS,
    )
    reasons.attrs["backend"] = used
    return Explanation(
        reasons=reasons,
        families=_family_frame(account, as_of, family, values),
        base_value=np.array(base_value),
        log_odds=base_value + values.sum(axis=1),
        contributions=pd.DataFrame(values, columns=names, copy=False),
        backend=used,
        shown=(len(features), rows, kinds, ranks, indicator, sentences, row_plays),
        stating=(catalog, typical, *stating),
    )


def _stating(features: pd.DataFrame, names, catalog, typical: dict) -> tuple:
    """(values, known, driver, protective): the (n × p) indicator values
    (:func:`_feature_values`), whether each is known, and whether its risk / protective sentence
    applies (:func:`_eligible`)."""
    feat = _feature_values(features, names)
    known = np.column_stack([features[c].notna().to_numpy() for c in names]) if names else feat > 0
    return (feat, known, _eligible(catalog, names, feat, "driver", typical),
            _eligible(catalog, names, feat, "protective", typical))  # fmt: skip


def stating_matrices(explanation, features: pd.DataFrame, names, catalog, typical: dict) -> tuple:
    """:func:`_stating` for the explained ``features``: the matrices ``explain_all`` computed when
    it used the same catalog and typical values, else computed again."""
    cached = getattr(explanation, "stating", ())
    if cached and cached[0] is catalog and cached[1] == typical:
        return cached[2:]
    return _stating(features, names, catalog, typical)


def _joined(n: int, rows: np.ndarray, texts) -> np.ndarray:
    """Newline-joined ``texts`` per row position (``rows`` ascending; a text repeated within a row
    is kept once), None where there are none."""
    texts = np.asarray(texts, dtype=object).reshape(-1)
    keep = np.not_equal(texts, None)
    rows, texts = np.asarray(rows, dtype=np.int64)[keep], texts[keep]
    first = ~pd.DataFrame({"row": rows, "text": texts}).duplicated().to_numpy()
    joined = join_per_row(n, rows[first], texts[first], sep="\n")
    joined = joined.to_numpy(dtype=object, na_value=None)
    joined[joined == ""] = None
    return joined


def protective_reasons(explanation: Explanation) -> np.ndarray:
    """``explanation.summary["protective_reasons"]`` alone (None where none), without joining
    the other columns of the summary."""
    n, rows, kinds, _, _, sentences, _ = explanation.shown
    protective = kinds != "driver"
    return _joined(n, rows[protective], np.asarray(sentences, dtype=object)[protective])


def _summary(n, rows, kinds, ranks, indicator, sentences, row_plays) -> pd.DataFrame:
    """One row per feature row: joined sentences, reason codes and plays (see Explanation)."""
    drivers = kinds == "driver"
    sentences = np.asarray(sentences, dtype=object).reshape(-1)
    out = {
        "top_reasons": _joined(n, rows[drivers], sentences[drivers]),
        "protective_reasons": _joined(n, rows[~drivers], sentences[~drivers]),
    }
    for k in (1, 2, 3):
        codes = np.full(n, None, dtype=object)
        at = drivers & (ranks == k)
        codes[rows[at]] = indicator[at]
        out[f"reason_code_{k}"] = codes
    plays = _joined(n, rows[drivers], row_plays[drivers])
    out["play"] = pd.Series(plays, dtype="string").str.split("\n", n=1).str[0].array
    out["plays"] = plays
    return pd.DataFrame({k: pd.array(v, dtype="string") for k, v in out.items()})


def _family_frame(account, as_of, family, values) -> pd.DataFrame:
    labels, inverse = np.unique(family.astype(str), return_inverse=True)
    onehot = np.zeros((len(family), len(labels)))
    onehot[np.arange(len(family)), inverse] = 1.0
    return family_rows(account, as_of, labels, values @ onehot)


def family_rows(account, as_of, labels, sums) -> pd.DataFrame:
    """One row per account × family (``labels``) with its summed ``contribution`` (``sums``,
    accounts × families)."""
    n, f = sums.shape
    return pd.DataFrame(
        {
            "account_id": pd.array(account, dtype="string").take(np.repeat(np.arange(n), f)),
            "as_of": np.repeat(as_of, f),
            "family": pd.array(labels.astype(object), dtype="string").take(
                np.tile(np.arange(f), n)
            ),
            "contribution": sums.ravel(),
        }
    )


def explain(
    model,
    features: pd.DataFrame,
    *,
    catalog=None,
    plays=None,
    backend: str = "auto",
    top_risk: int = 3,
    top_protective: int = 2,
) -> pd.DataFrame:
    """Top drivers and protective factors per account, as a long tidy frame with sentences.

    One row per (account, shown reason): account_id, as_of, indicator, family, value (float; NaN
    for categoricals), contribution (log-odds), kind ("driver" raises risk, "protective" lowers it),
    rank (1 = strongest within its kind), sentence (the catalog template with the account's
    values), play (the suggested play, drivers only). Only indicators with a catalog sentence and
    a known value on the side the sentence describes are shown (see
    :mod:`churnml.explain.reasons`); other placeholders with missing values read "unknown".
    ``attrs["backend"]`` names the contribution backend. Use :func:`explain_all` to also get the
    family sums, base values and log-odds from the same computation.

    Parameters
    ----------
    model, features, catalog, plays, backend, top_risk, top_protective
        See :func:`explain_all`.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> reasons = explain(model, features)  # doctest: +SKIP
    >>> reasons.query("kind == 'driver' and rank == 1")[["account_id", "sentence"]]  # doctest: +SKIP
    """
    return explain_all(
        model,
        features,
        catalog=catalog,
        plays=plays,
        backend=backend,
        top_risk=top_risk,
        top_protective=top_protective,
    ).reasons


def family_contributions(
    model,
    features: pd.DataFrame,
    values: np.ndarray | None = None,
    *,
    catalog=None,
    backend: str = "auto",
) -> pd.DataFrame:
    """Per-account contribution summed per indicator family (usage, support, nps, ...).

    Parameters
    ----------
    model : ChurnModel or lightgbm.Booster
    features : DataFrame
        The feature frame (spine columns + indicators).
    values : ndarray of shape (n, p), optional
        Precomputed contributions in the booster's feature order; computed if omitted.
    catalog : Catalog, optional
        Gives each indicator's family; indicators not in it are summed as "other".
    backend : str
        Contribution backend when ``values`` is omitted.

    Returns
    -------
    DataFrame
        account_id, as_of, family, contribution; one row per account × family. Per account the
        contributions add up to ``log_odds - base_value``.
    """
    booster, X = _booster_and_frame(model, features)
    if values is None:
        values, _ = _start(model, booster, X, backend).result()
    account, as_of = _keys(features)
    family = _families(_catalog_for(model, catalog), list(booster.feature_name()))
    return _family_frame(account, as_of, family, np.asarray(values, dtype=np.float64))
