"""Batch scoring: probability, 0–100 score, tier, ARR at risk, rank, reasons, plays and trend.

:func:`score_frame` scores precomputed features; :func:`score` builds the population (spine) and
features at ``as_of`` with the training builders first, then adds name / segment / csm from the
accounts table. Everything is vectorised over accounts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnml.scoring.tiers import tier_scores
from churnml.scoring.trend import apply_trend

SCORE_COLUMNS = [
    "account_id",
    "name",
    "segment",
    "csm",
    "as_of",
    "contract_id",
    "renewal_date",
    "days_to_renewal",
    "arr",
    "probability",
    "score",
    "tier",
    "rank",
    "arr_at_risk",
    "expected_arr_at_risk",
    "csm_rank",
    "csm_focus",
    "base_value",
    "log_odds",
    "previous_score",
    "previous_tier",
    "trend",
    "pattern",
    "score_change",
    "changed_since",
    "change_summary",
    "risk_areas",
    "top_family",
    "top_reasons",
    "protective_reasons",
    "reason_code_1",
    "reason_code_2",
    "reason_code_3",
    "decision_maker_health",
    "influencer_health",
    "user_health",
    "play",
    "play_owner",
    "plays",
    "play_owners",
    "model_name",
    "model_version",
    "scored_at",
]
N_REASON_CODES = 3


@dataclass(frozen=True)
class ScoringResult:
    """What one scoring run produces.

    Attributes
    ----------
    scores : DataFrame
        One row per account (columns :data:`SCORE_COLUMNS`), ordered by rank.
    explanations : DataFrame
        The long family-first reasons (:mod:`churnml.explain.areas`): the sentences carrying
        each leading risk area, then protective factors, with plays.
    families : DataFrame
        Per-family (area) sums: account_id, as_of, family, contribution, share, rank, leading.
    warnings : list of dict
        Problems found at scoring time (``kind``, ``indicator``, ``count``, ``message``): data
        problems, ``no_signal`` (:mod:`churnml.scoring.signal`), an ``as_of`` outside the data.
    tiering : dict
        The tier thresholds applied (as given and as probabilities), the base rate, capacity.
    personas : DataFrame
        Persona health per account (:mod:`churnml.explain.personas`).
    changes : DataFrame
        The indicators that moved each account's score since its previous run
        (:mod:`churnml.explain.changes`); empty without a previous run.
    contributions : DataFrame
        This run's contribution rows for the run history
        (:func:`churnml.explain.changes.contribution_rows`).
    features : DataFrame
        The scored feature frame.
    books : dict
        ``capacity_per_csm`` and ``saveability`` applied (:mod:`churnml.scoring.capacity`).
    """

    scores: pd.DataFrame
    explanations: pd.DataFrame
    families: pd.DataFrame
    warnings: list = field(default_factory=list)
    tiering: dict = field(default_factory=dict)
    personas: pd.DataFrame | None = None
    changes: pd.DataFrame | None = None
    contributions: pd.DataFrame | None = None
    features: pd.DataFrame | None = None
    books: dict = field(default_factory=dict)


def check_features(model, features: pd.DataFrame) -> list[dict]:
    """Fail on missing model features; report skipped, unknown-category and all-null indicators.

    A model indicator that ``build_features`` skipped (``features.attrs["skipped"]``: the tables
    lack a column it reads) is reported, not fatal: :func:`score_frame` scores it as missing.

    Raises
    ------
    ValueError
        Naming the model indicators absent from ``features`` and not explained by a skip.

    Returns
    -------
    list of dict
        One entry per problem: kind (``skipped`` / ``unknown_category`` / ``all_null``),
        indicator, count, message. Each is also issued as a ``UserWarning`` (the skipped ones
        together in one).
    """
    names = list(model.feature_names_in_)
    skipped = features.attrs.get("skipped", {})
    missing = [c for c in names if c not in features.columns and c not in skipped]
    if missing:
        raise ValueError(
            f"scoring: the features ({len(features)} rows) lack {len(missing)} of the model's "
            f"{len(names)} indicators: {missing[:20]}"
        )
    problems = [
        {"kind": "skipped", "indicator": name, "count": len(features),
         "message": f"indicator {name!r} was not built ({skipped[name]}); the model treats it as "
                    f"missing for all {len(features)} rows"}
        for name in names if name not in features.columns
    ]  # fmt: skip
    categories = getattr(model, "categories_", {}) or {}
    for name, levels in categories.items():
        if name not in features.columns:
            continue
        values = features[name].astype("string")
        unknown = values.notna() & ~values.isin(list(levels)).fillna(False)
        if unknown.any():
            examples = values[unknown].value_counts().head(3)
            problems.append(
                {
                    "kind": "unknown_category",
                    "indicator": name,
                    "count": int(unknown.sum()),
                    "message": (
                        f"indicator {name!r}: {int(unknown.sum())} of {len(values)} rows have "
                        f"categories unseen in training, scored as missing: "
                        f"{dict(examples.astype(int))}"
                    ),
                }
            )
    present = [c for c in names if c in features.columns]
    nulls = features[present].isna().all(axis=0) if len(features) else pd.Series(dtype=bool)
    for name in nulls.index[nulls.to_numpy(dtype=bool)]:
        problems.append(
            {
                "kind": "all_null",
                "indicator": name,
                "count": len(features),
                "message": (
                    f"indicator {name!r} is missing for all {len(features)} scored rows; "
                    f"the model treats it as missing (check the source table)"
                ),
            }
        )
    gone = [p["indicator"] for p in problems if p["kind"] == "skipped"]
    if gone:  # one warning: the reasons were logged once per missing column
        warnings.warn(f"scoring: {len(gone)} of the model's {len(names)} indicators were not built "
                      f"(the tables lack columns they read) and are scored as missing: "
                      f"{', '.join(gone)}", UserWarning, stacklevel=3)
    for problem in problems:
        if problem["kind"] != "skipped":
            warnings.warn(f"scoring: {problem['message']}", UserWarning, stacklevel=3)
    return problems


def _column(features: pd.DataFrame, name: str, dtype=None):
    if name in features.columns:
        return features[name].to_numpy() if dtype is None else features[name].astype(dtype)
    return pd.array([None] * len(features), dtype=dtype or "string")


def score_frame(
    model,
    features: pd.DataFrame,
    *,
    previous: pd.DataFrame | None = None,
    tiers=None,
    capacity: int | None = None,
    explain_backend: str = "auto",
    scored_at: pd.Timestamp | None = None,
    plays=None,
    previous_contributions: pd.DataFrame | None = None,
    capacity_per_csm: int | None = None,
    saveability=None,
) -> ScoringResult:
    """Score precomputed features: one row per account with reasons, plays and trend.

    Reasons are family-first (:mod:`churnml.explain.areas`): risk by area, the sentences that
    carry each leading area, plays chosen from the areas with their owners; besides them the
    health of each persona (:mod:`churnml.explain.personas`), what changed since the previous
    run (:mod:`churnml.explain.changes`, when ``previous`` and ``previous_contributions`` are
    given) and each CSM's book ranked by expected ARR at risk (:mod:`churnml.scoring.capacity`).

    Parameters
    ----------
    model : ChurnModel
        Fitted; ``config_`` (tier thresholds), ``catalog_``, ``model_name_`` and
        ``model_version_`` are used when present.
    features : DataFrame
        ``build_features`` output (spine columns + indicators), one row per (account, as_of).
    previous : DataFrame, optional
        History of earlier runs (account_id, as_of, score, tier, scored_at) for the trend.
    tiers : Tiers, mapping or (red, amber), optional
        Thresholds, probabilities or multiples of the model's base rate (``"2x"``); default
        ``model.config_.tiers`` or the packaged config.
    capacity : int, optional
        Tier by capacity instead: the ``capacity`` highest probabilities per as_of are red (ties
        broken by the uncalibrated log-odds). Not applied when the model shows no signal.
    explain_backend : str
        Contribution backend (see :func:`churnml.explain.backends.contributions`).
    scored_at : Timestamp, optional
        Time stamp of the run (tz-naive UTC); default now.
    plays : Plays, path or mapping, optional
        Suggested plays and owners (default the packaged ``plays.yaml``).
    previous_contributions : DataFrame, optional
        Earlier runs' contribution rows (:func:`churnml.explain.changes.read_contributions`).
    capacity_per_csm, saveability : optional
        Each CSM's focus list size and the saveability per family; default the model config's.

    Returns
    -------
    ScoringResult

    Raises
    ------
    ValueError
        When indicators the model uses are missing from ``features``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from churnml.explain.areas import family_first
    from churnml.explain.changes import contribution_rows, with_changes
    from churnml.explain.personas import persona_health
    from churnml.scoring.capacity import books_settings, rank_books

    for col in ("account_id", "as_of"):
        if col not in features.columns:
            raise ValueError(f"scoring: the features frame has no {col!r} column")
    problems = check_features(model, features)
    if len(features) == 0:
        raise ValueError("scoring: the features frame has no rows: there are no accounts to score")
    config = getattr(model, "config_", None)
    if tiers is None and config is not None:
        tiers = config.tiers
    skipped = [p["indicator"] for p in problems if p["kind"] == "skipped"]
    features = features.reset_index(drop=True).assign(**dict.fromkeys(skipped, np.nan))
    probability, explanation = _predicted_and_explained(model, features, explain_backend)
    # risk by area and persona health in two more threads while this one tiers, ranks and finds
    # what changed: they spend most of their time in NumPy / Arrow calls that release the GIL
    with ThreadPoolExecutor(2, thread_name_prefix="churnml-cards") as pool:
        areas = pool.submit(family_first, model, features, explanation, plays=plays)
        personas = pool.submit(persona_health, model, features, explanation)
        scores, notes, tiering = _scored(
            model, features, probability, explanation, tiers, capacity, previous
        )
        contributions = contribution_rows(features, explanation.contributions,
                                          values=explanation.feature_values)  # fmt: skip
        scores, changes = with_changes(scores, features, contributions, previous_contributions,
                                       previous, model)  # fmt: skip
        areas, personas = areas.result(), personas.result()
    for name, values in [*areas.summary.items(), *personas.columns.items()]:
        scores[name] = values.to_numpy()
    books = books_settings(model, capacity_per_csm, saveability)
    scores = rank_books(scores, **books)
    scores["model_name"] = pd.array(
        [getattr(model, "model_name_", None)] * len(scores), dtype="string"
    )
    version = getattr(model, "model_version_", None)
    scores["model_version"] = pd.array(
        [None if version is None else str(version)] * len(scores), dtype="string"
    )
    if scored_at is None:
        scored_at = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    scores["scored_at"] = pd.Series(pd.Timestamp(scored_at), index=scores.index).astype(
        "datetime64[ns]"
    )
    scores = scores[SCORE_COLUMNS].sort_values(["as_of", "rank"], kind="stable")
    return ScoringResult(
        scores=scores.reset_index(drop=True),
        explanations=areas.reasons,
        families=areas.families,
        warnings=problems + notes,
        tiering=tiering,
        personas=personas.personas,
        changes=changes,
        contributions=contributions,
        features=features,
        books=books,
    )


def _predicted_and_explained(model, features: pd.DataFrame, backend: str):
    """Calibrated probabilities and :func:`~churnml.explain.contributions.explain_all`, with
    WOODELF's worker processes explaining the rows while this process predicts."""
    from churnml.explain.contributions import explain_all, start_explaining

    pending = start_explaining(model, features, backend=backend)
    try:
        probability = model.predict_proba(features)[:, 1]
    except BaseException:
        pending.cancel()
        raise
    return probability, explain_all(model, features, pending=pending)


def _scored(model, features, probability, explanation, tiers, capacity, previous) -> tuple:
    """``(scores, notes, tiering)``: the scores frame's first columns (probability, score, tier,
    ARR at risk, rank, base value and log-odds) with the trend against ``previous``."""
    arr = (
        pd.to_numeric(features["arr"]).to_numpy(dtype=np.float64, na_value=np.nan)
        if "arr" in features
        else np.full(len(features), np.nan)
    )
    as_of = pd.to_datetime(features["as_of"]).astype("datetime64[ns]")
    tier, tiering, notes = tier_scores(
        model, probability, tiers=tiers, capacity=capacity, groups=as_of.to_numpy(),
        tiebreak=explanation.log_odds,
    )  # fmt: skip
    _warn(notes)
    scores = pd.DataFrame(
        {
            "account_id": features["account_id"].astype("string"),
            "name": _column(features, "name", "string"),
            "segment": _column(features, "segment", "string"),
            "csm": _column(features, "csm", "string"),
            "as_of": as_of,
            "contract_id": _column(features, "contract_id", "string"),
            "renewal_date": pd.to_datetime(_column(features, "renewal_date")),
            "days_to_renewal": _column(features, "days_to_renewal", "Int32"),
            "arr": arr,
            "probability": probability,
            "score": np.rint(100.0 * probability).astype(np.int16),
            "tier": tier,
            "arr_at_risk": probability * arr,
            "base_value": explanation.base_value,
            "log_odds": explanation.log_odds,
        }
    )
    scores["rank"] = (
        scores.groupby("as_of")["arr_at_risk"]
        .rank(method="first", ascending=False, na_option="bottom")
        .astype(np.int32)
    )
    scores = apply_trend(scores, previous)
    return scores, notes, tiering


def _warn(notes: list[dict]) -> None:
    for note in notes:
        warnings.warn(f"scoring: {note['message']}", UserWarning, stacklevel=3)


def score(
    model,
    tables: dict,
    as_of,
    *,
    history: pd.DataFrame | None = None,
    tiers=None,
    capacity: int | None = None,
    progress: bool = False,
    explain_backend: str = "auto",
    **options,
) -> pd.DataFrame:
    """Score every account renewing within the model's horizon at ``as_of``.

    Builds the spine (``make_spine`` with the model config's horizon and downgrade rule) and the
    features (``build_features`` with the model's catalog), scores them with :func:`score_frame`
    and adds name / segment / csm from ``tables["accounts"]``.

    Parameters
    ----------
    model : ChurnModel
        As returned by :func:`churnml.model.registry.load_model`.
    tables : dict of str to DataFrame
        Contract tables.
    as_of : date-like
        Scoring date (features use data strictly before it).
    history : DataFrame, optional
        Earlier runs for the trend (see :mod:`churnml.scoring.trend`).
    tiers, capacity, explain_backend
        See :func:`score_frame`.
    progress : bool
        Show feature-building progress.
    **options
        ``plays``, ``previous_contributions`` (what changed since the runs in ``history``),
        ``capacity_per_csm``, ``saveability``: see :func:`score_frame`.

    Returns
    -------
    DataFrame
        The scores frame; ``attrs`` holds ``explanations``, ``families``, ``personas``,
        ``changes`` and ``warnings``.
    """
    result = score_result(
        model,
        tables,
        as_of,
        history=history,
        tiers=tiers,
        capacity=capacity,
        progress=progress,
        explain_backend=explain_backend,
        **options,
    )
    scores = result.scores
    scores.attrs.update(
        explanations=result.explanations, families=result.families, warnings=result.warnings,
        personas=result.personas, changes=result.changes,
    )  # fmt: skip
    return scores


def build_population(model, tables: dict, as_of, *, progress: bool = False) -> pd.DataFrame:
    """Spine + features at ``as_of`` with the model's label, horizon, downgrade rule and catalog
    (the label the model was trained with, so the scored population matches the trained one)."""
    from churnml.features.engine import build_features
    from churnml.snapshots import make_spine

    config = getattr(model, "config_", None)
    info = getattr(model, "training_info_", None) or {}
    label = info.get("label") or getattr(config, "label", "auto")
    spine = make_spine(
        tables,
        as_of,
        horizon_days=getattr(config, "horizon_days", 180),
        downgrade_churn_share=getattr(config, "downgrade_churn_share", None),
        label=label,
    )
    if len(spine) == 0:
        which = (f"renewing within {getattr(config, 'horizon_days', 180)} days"
                 if spine.attrs.get("label") == "renewal" else "that is still a customer")
        terms = tables.get("contracts", tables.get("subscriptions"))
        raise ValueError(
            f"scoring: no account has a term active at as_of={as_of} {which} "
            f"({0 if terms is None else len(terms)} contracts or subscriptions); "
            f"check the as_of date against the data"
        )
    return build_features(tables, spine, getattr(model, "catalog_", None), progress=progress)


def add_account_details(scores: pd.DataFrame, accounts: pd.DataFrame | None) -> pd.DataFrame:
    """Fill name / segment / csm from the accounts table (by account_id), keeping row order."""
    if accounts is None or "account_id" not in accounts:
        return scores
    info = accounts.drop_duplicates("account_id")
    info = info.set_index(info["account_id"].astype("string"))
    key = scores["account_id"].astype("string")
    out = scores.copy()
    for col in ("name", "segment", "csm"):
        if col in info.columns:
            mapped = key.map(info[col].astype("string")).astype("string")
            out[col] = out[col].astype("string").fillna(mapped)
    return out


def score_result(
    model,
    tables: dict,
    as_of,
    *,
    history=None,
    tiers=None,
    capacity=None,
    progress=False,
    explain_backend="auto",
    features: pd.DataFrame | None = None,
    scored_at=None,
    **options,
) -> ScoringResult:
    """Like :func:`score` but returns the whole :class:`ScoringResult` (used by ``run_score``);
    its warnings also say when ``as_of`` lies outside the data (:mod:`churnml.scoring.coverage`).
    ``options`` (plays, previous_contributions, capacity_per_csm, saveability) go to
    :func:`score_frame`; each CSM's book is ranked again once the accounts table named the
    CSMs."""
    from dataclasses import replace

    from churnml.scoring.capacity import rank_books
    from churnml.scoring.coverage import as_of_warnings

    coverage = as_of_warnings(tables, as_of)
    _warn(coverage)
    if features is None:
        features = build_population(model, tables, as_of, progress=progress)
    result = score_frame(
        model,
        features,
        previous=history,
        tiers=tiers,
        capacity=capacity,
        explain_backend=explain_backend,
        scored_at=scored_at,
        **options,
    )
    scores = rank_books(add_account_details(result.scores, tables.get("accounts")), **result.books)
    return replace(result, scores=scores, warnings=coverage + result.warnings)
