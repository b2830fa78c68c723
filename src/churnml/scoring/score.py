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
    "base_value",
    "log_odds",
    "previous_score",
    "previous_tier",
    "trend",
    "pattern",
    "top_reasons",
    "protective_reasons",
    "reason_code_1",
    "reason_code_2",
    "reason_code_3",
    "play",
    "plays",
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
        The long explain frame (drivers and protective factors with sentences and plays).
    families : DataFrame
        Per-family contribution sums: account_id, as_of, family, contribution.
    warnings : list of dict
        Problems found at scoring time (``kind``, ``indicator``, ``count``, ``message``): data
        problems, ``no_signal`` (:mod:`churnml.scoring.signal`), an ``as_of`` outside the data.
    tiering : dict
        The tier thresholds applied (as given and as probabilities), the base rate, capacity.
    """

    scores: pd.DataFrame
    explanations: pd.DataFrame
    families: pd.DataFrame
    warnings: list = field(default_factory=list)
    tiering: dict = field(default_factory=dict)


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


def _joined(reasons: pd.DataFrame, keys: pd.DataFrame, kind: str, column: str) -> np.ndarray:
    """Newline-joined ``column`` of the ``kind`` reasons per key row (None when there are none).

    Vectorised: one concatenation pass per rank position (at most ``top_risk`` passes).
    """
    part = reasons.loc[reasons["kind"] == kind, ["_row", "rank", column]].dropna(subset=[column])
    if column == "play":
        part = part.drop_duplicates(["_row", "play"])
    part = part.sort_values(["_row", "rank"], kind="stable")
    position = part.groupby("_row", sort=False).cumcount().to_numpy()
    rows = part["_row"].to_numpy(dtype=np.int64)
    text = part[column].to_numpy(dtype=object)
    out = np.full(len(keys), None, dtype=object)
    for k in range(int(position.max()) + 1 if len(position) else 0):
        at = position == k
        out[rows[at]] = text[at] if k == 0 else out[rows[at]] + "\n" + text[at]
    return out


def _reason_columns(reasons: pd.DataFrame, features: pd.DataFrame) -> dict:
    """top_reasons, protective_reasons, reason_code_1..3, play, plays aligned to ``features``."""
    keys = pd.DataFrame(
        {
            "account_id": pd.array(features["account_id"], dtype="string"),
            "as_of": pd.to_datetime(features["as_of"]).astype("datetime64[ns]").to_numpy(),
            "_row": np.arange(len(features)),
        }
    )
    reasons = reasons.assign(as_of=pd.to_datetime(reasons["as_of"]).astype("datetime64[ns]"))
    reasons = reasons.merge(keys, on=["account_id", "as_of"], how="inner")
    out = {
        "top_reasons": _joined(reasons, keys, "driver", "sentence"),
        "protective_reasons": _joined(reasons, keys, "protective", "sentence"),
        "plays": _joined(reasons, keys, "driver", "play"),
    }
    drivers = reasons.loc[reasons["kind"] == "driver"]
    for k in range(1, N_REASON_CODES + 1):
        at = drivers.loc[drivers["rank"] == k]
        codes = np.full(len(keys), None, dtype=object)
        codes[at["_row"].to_numpy(dtype=np.int64)] = at["indicator"].to_numpy(dtype=object)
        out[f"reason_code_{k}"] = codes
    first = drivers.loc[drivers["play"].notna()].sort_values(["_row", "rank"], kind="stable")
    first = first.drop_duplicates("_row")
    play = np.full(len(keys), None, dtype=object)
    play[first["_row"].to_numpy(dtype=np.int64)] = first["play"].to_numpy(dtype=object)
    out["play"] = play
    return {k: pd.array(v, dtype="string") for k, v in out.items()}


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
) -> ScoringResult:
    """Score precomputed features: one row per account with reasons, plays and trend.

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

    Returns
    -------
    ScoringResult

    Raises
    ------
    ValueError
        When indicators the model uses are missing from ``features``.
    """
    from churnml.explain.contributions import explain_all

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
    probability = model.predict_proba(features)[:, 1]
    explanation = explain_all(model, features, backend=explain_backend)
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
    for name, values in _reason_columns(explanation.reasons, features).items():
        scores[name] = values
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
        explanations=explanation.reasons,
        families=explanation.families,
        warnings=problems + notes,
        tiering=tiering,
    )


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

    Returns
    -------
    DataFrame
        The scores frame; ``attrs`` holds ``explanations``, ``families`` and ``warnings``.
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
    )
    scores = result.scores
    scores.attrs.update(
        explanations=result.explanations, families=result.families, warnings=result.warnings
    )
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
) -> ScoringResult:
    """Like :func:`score` but returns the whole :class:`ScoringResult` (used by ``run_score``);
    its warnings also say when ``as_of`` lies outside the data (:mod:`churnml.scoring.coverage`)."""
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
    )
    scores = add_account_details(result.scores, tables.get("accounts"))
    return ScoringResult(
        scores, result.explanations, result.families, coverage + result.warnings, result.tiering
    )
