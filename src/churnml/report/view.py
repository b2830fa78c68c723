"""Shape the scores and sidecar frames into what the template shows (no new metrics).

Everything here selects, sorts, groups and formats rows that ``churnml.score`` already wrote.
The only arithmetic is summing counts/ARR per tier for the overview and the waterfall's
"all other" bar (a difference of given numbers).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from churnml.report import card_parts, charts
from churnml.report.formatting import ROLE_TEXT, is_missing, month, number, pretty_indicator

SCORE_COLUMNS = (
    "account_id", "name", "segment", "csm", "as_of", "contract_id", "renewal_date",
    "days_to_renewal", "arr", "probability", "score", "tier", "rank", "arr_at_risk",
    "expected_arr_at_risk", "csm_rank", "csm_focus", "base_value", "log_odds", "previous_score",
    "previous_tier", "trend", "pattern", "score_change", "changed_since", "change_summary",
    "risk_areas", "top_family", "top_reasons", "protective_reasons", "decision_maker_health",
    "influencer_health", "user_health", "play", "play_owner", "plays", "play_owners",
    "model_name", "model_version", "scored_at",
)  # fmt: skip
TIERS = ("red", "amber", "green")
#: history indicator -> (heading, digits) in the order the sparklines are shown
SPARKLINES = {
    "active_users_30d": ("Active users (30 d)", 0),
    "events_30d": ("Events (30 d)", 0),
    "tickets_30d": ("Tickets (30 d)", 0),
    "nps_latest_score": ("Latest NPS score", 0),
}
HISTORY_MONTHS = 12
WATERFALL_STEPS = 6


def normalise_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores frame with every expected column present (missing ones as NA) and text keys."""
    frame = scores.reindex(columns=[*SCORE_COLUMNS, *[c for c in scores if c not in SCORE_COLUMNS]])
    frame["account_id"] = frame["account_id"].astype(str)
    frame["tier"] = frame["tier"].astype("string").str.lower()
    frame["name"] = frame["name"].astype("string").fillna(frame["account_id"])
    # accounts sharing a name (subsidiaries, regions) are told apart by their id
    shared = frame.groupby("name")["account_id"].transform("nunique").gt(1).to_numpy()
    frame.loc[shared, "name"] = frame["name"][shared] + " (" + frame["account_id"][shared] + ")"
    for col in ("segment", "csm"):
        frame[col] = frame[col].astype("string").fillna("—")
    return frame


def _split_lines(value) -> list[str]:
    if is_missing(value):
        return []
    return [line for line in str(value).split("\n") if line.strip()]


def _records_by_account(frame: pd.DataFrame | None, accounts: Iterable[str]) -> dict[str, list]:
    """Rows of ``frame`` for the given accounts as {account_id: [row dict, ...]} (input order)."""
    if frame is None or frame.empty:
        return {}
    frame = frame[frame["account_id"].astype(str).isin(set(accounts))]
    grouped: dict[str, list] = {}
    for record in frame.assign(account_id=frame["account_id"].astype(str)).to_dict("records"):
        grouped.setdefault(record["account_id"], []).append(record)
    return grouped


def _recent_history(history: pd.DataFrame | None) -> pd.DataFrame | None:
    """The sparkline indicators' last ``HISTORY_MONTHS`` values per account, oldest first."""
    if history is None:
        return None
    recent = history[history["indicator"].astype(str).isin(list(SPARKLINES))].assign(
        as_of=lambda f: pd.to_datetime(f["as_of"]),
        indicator=lambda f: f["indicator"].astype(str),
        value=lambda f: pd.to_numeric(f["value"], errors="coerce").astype(float),
    )
    recent = recent.sort_values(["account_id", "indicator", "as_of"], kind="stable")
    return recent.groupby(["account_id", "indicator"], sort=False).tail(HISTORY_MONTHS)


def overview(scores: pd.DataFrame) -> dict:
    """Tier counts and ARR, the red table rows and the movers, from the normalised scores."""
    tier = scores["tier"].fillna("unknown")
    by_tier = scores.groupby(tier, dropna=False).agg(
        count=("account_id", "size"), arr=("arr", "sum"), arr_at_risk=("arr_at_risk", "sum")
    )
    tiers = [
        {
            "tier": t,
            "count": int(by_tier["count"].get(t, 0)),
            "arr": float(by_tier["arr"].get(t, 0.0)),
            "arr_at_risk": float(by_tier["arr_at_risk"].get(t, 0.0)),
        }
        for t in TIERS
    ]
    red = scores[scores["tier"] == "red"].sort_values(
        ["arr_at_risk", "score"], ascending=False, na_position="last"
    )
    prev_tier = scores["previous_tier"].astype("string").str.lower()
    new_red = red[prev_tier.loc[red.index].fillna("") != "red"]
    rising = scores[(scores["trend"].astype("string") == "rising") & (scores["tier"] != "green")]
    rising = rising[~rising.index.isin(new_red.index)].sort_values("score", ascending=False)
    as_of = pd.to_datetime(scores["as_of"]).dropna()
    return {
        "tiers": tiers,
        "total_accounts": len(scores),
        "red_rows": red.to_dict("records"),
        "new_red": new_red.to_dict("records"),
        "rising": rising.to_dict("records"),
        "as_of_min": as_of.min() if len(as_of) else None,
        "as_of_max": as_of.max() if len(as_of) else None,
        "model_name": _first(scores["model_name"]),
        "model_version": _first(scores["model_version"]),
        "scored_at": _first(scores["scored_at"]),
    }


def _first(column: pd.Series):
    values = column.dropna()
    return values.iloc[0] if len(values) else None


def _waterfall(row: dict, explanations: list[dict]) -> str | None:
    explanations = [e for e in explanations if not is_missing(e.get("indicator"))]
    if is_missing(row.get("base_value")) or is_missing(row.get("log_odds")) or not explanations:
        return None
    shown = sorted(explanations, key=lambda e: -abs(float(e["contribution"])))[:WATERFALL_STEPS]
    steps = [(pretty_indicator(e["indicator"]), float(e["contribution"])) for e in shown]
    return charts.waterfall_svg(float(row["base_value"]), steps, float(row["log_odds"]))


def _reasons(explanations: list[dict], kind: str, fallback) -> list[dict]:
    rows = [e for e in explanations if e.get("kind") == kind and not is_missing(e.get("sentence"))]
    if rows:
        rows.sort(key=lambda e: (is_missing(e.get("rank")), e.get("rank") or 0))
        return [{"sentence": e["sentence"], "family": e.get("family")} for e in rows]
    return [{"sentence": s, "family": None} for s in _split_lines(fallback)]


def _sparklines(history: list[dict]) -> list[dict]:
    by_indicator: dict[str, list[dict]] = {}
    for row in history:
        by_indicator.setdefault(row["indicator"], []).append(row)
    out = []
    for indicator, (heading, digits) in SPARKLINES.items():
        rows = by_indicator.get(indicator, [])
        if not rows:
            out.append({"heading": heading, "svg": None, "latest": None, "first": None})
            continue
        values = [float(r["value"]) for r in rows]
        finite = [v for v in values if not np.isnan(v)]
        latest = number(finite[-1], digits) if finite else "—"
        first = number(finite[0], digits) if finite else "—"
        span = f"{month(rows[0]['as_of'])} – {month(rows[-1]['as_of'])}"
        label = f"{heading}, monthly {span}: from {first} to {latest}"
        out.append(
            {
                "heading": heading,
                "svg": charts.sparkline_svg(values, label=label),
                "latest": latest,
                "first": first,
                "span": span,
            }
        )
    return out


def _people(contacts: list[dict], as_of) -> list[dict]:
    people = []
    cutoff = None if is_missing(as_of) else pd.Timestamp(as_of)
    for c in contacts:
        ended = c.get("ended_at")
        left = not is_missing(ended) and (cutoff is None or pd.Timestamp(ended) <= cutoff)
        name = next(
            (str(c[k]) for k in ("name", "full_name", "email", "title", "contact_id")
             if not is_missing(c.get(k)) and str(c[k])),
            "unnamed contact",
        )  # fmt: skip
        title = c.get("title")
        people.append(
            {
                "role": c.get("role"),
                "name": name,
                "title": None if is_missing(title) or str(title) == name else str(title),
                "left": left,
                "ended_at": ended if left else None,
            }
        )
    order = {role: i for i, role in enumerate(ROLE_TEXT)}
    people.sort(key=lambda p: (order.get(p["role"], 99), p["left"], p["name"]))
    return people


def _chosen(scores: pd.DataFrame, include_amber: bool) -> pd.DataFrame:
    """The carded accounts: red (then amber when asked) by ARR at risk, then the other amber
    accounts a CSM's focus list names (a green account there gets no card)."""
    wanted = ["red", "amber"] if include_amber else ["red"]
    focus = scores["csm_focus"].fillna(False).astype(bool) if "csm_focus" in scores else False
    focus = focus & scores["tier"].isin(["red", "amber"])
    chosen = scores[scores["tier"].isin(wanted) | focus]
    order = chosen["tier"].map({t: i for i, t in enumerate(wanted)}).fillna(len(wanted))
    chosen = chosen.assign(_tier_order=order.to_numpy())
    return chosen.sort_values(
        ["_tier_order", "arr_at_risk", "score"], ascending=[True, False, False], na_position="last"
    )


def _matching(frame: pd.DataFrame | None, chosen: pd.DataFrame) -> pd.DataFrame | None:
    """``frame``'s rows of the chosen accounts at their own ``as_of`` (when both have one)."""
    if frame is None or "as_of" not in frame or not chosen["as_of"].notna().any():
        return frame
    keys = chosen[["account_id", "as_of"]].assign(as_of=lambda f: pd.to_datetime(f["as_of"]))
    return frame.assign(
        account_id=frame["account_id"].astype(str), as_of=pd.to_datetime(frame["as_of"])
    ).merge(keys, on=["account_id", "as_of"])


def cards(
    scores: pd.DataFrame,
    explanations: pd.DataFrame | None,
    history: pd.DataFrame | None,
    families: pd.DataFrame | None,
    contacts: pd.DataFrame | None,
    *,
    include_amber: bool,
    personas: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
) -> list[dict]:
    """One dict per account card: red accounts (and amber ones when asked) by ARR at risk, then
    the other accounts a CSM's focus list names."""
    chosen = _chosen(scores, include_amber)
    ids = chosen["account_id"].tolist()
    expl = _records_by_account(_matching(explanations, chosen), ids)
    hist = _records_by_account(_recent_history(history), ids)
    fams = _records_by_account(_matching(families, chosen), ids)
    pers = _records_by_account(_matching(personas, chosen), ids)
    moved = _records_by_account(_matching(changes, chosen), ids)
    people = None
    if contacts is not None and "account_id" in contacts and "role" in contacts:
        key_contacts = contacts[contacts["role"].astype("string").isin(list(ROLE_TEXT))]
        people = _records_by_account(key_contacts, ids)

    out = []
    for i, row in enumerate(chosen.to_dict("records")):
        aid = row["account_id"]
        rows = expl.get(aid, [])
        fam = sorted(fams.get(aid, []), key=lambda f: -float(f["contribution"]))
        out.append(
            {
                **row,
                "anchor": f"account-{i + 1}",
                "areas": card_parts.risk_areas(fam, rows, row.get("top_reasons")),
                "protective": _reasons(rows, "protective", row.get("protective_reasons")),
                "waterfall": _waterfall(row, rows),
                "family_waterfall": card_parts.family_waterfall(row, fam),
                "has_explanations": explanations is not None,
                "sparklines": _sparklines(hist.get(aid, [])) if history is not None else None,
                "has_families": families is not None,
                "people": None if people is None else _people(people.get(aid, []), row["as_of"]),
                "personas": card_parts.personas(row, pers.get(aid)),
                "change": card_parts.change(row, moved.get(aid)),
                "plays": card_parts.plays(row, rows),
            }
        )
    return out
