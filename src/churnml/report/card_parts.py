"""The family-first parts of an account card: risk by area with the sentences that carry each
leading area, the area waterfall, persona health, what changed since the previous run, plays
with their owners. Each function only selects and formats rows ``churnml score`` wrote."""

from __future__ import annotations

from churnml.features.catalog import area_label
from churnml.report import charts
from churnml.report.formatting import is_missing

#: persona -> heading on the card, in display order
PERSONA_TEXT = {
    "decision_maker": "Decision makers",
    "influencer": "Champions & power users",
    "user": "Day-to-day users",
}
HEALTH_ORDER = ("at risk", "watch", "healthy")


def _lines(value) -> list[str]:
    if is_missing(value):
        return []
    return [line for line in str(value).split("\n")]


def risk_areas(families: list[dict], explanations: list[dict], fallback) -> list[dict]:
    """Areas raising the risk, largest first: label, contribution, share, whether it leads, and
    the sentences that carry it (the leading areas'). Without the families sidecar the
    explanation rows alone (or the scores' own sentences, ``fallback``) make one unnamed area."""
    drivers = [
        e for e in explanations if e.get("kind") == "driver" and not is_missing(e.get("sentence"))
    ]
    drivers.sort(key=lambda e: (is_missing(e.get("rank")), e.get("rank") or 0))
    if not families:
        sentences = [e["sentence"] for e in drivers] or _lines(fallback)
        return [{"label": None, "family": None, "share": None, "contribution": None,
                 "leading": True, "sentences": sentences}] if sentences else []  # fmt: skip
    by_family: dict[str, list[str]] = {}
    for e in drivers:
        by_family.setdefault(str(e.get("family")), []).append(e["sentence"])
    has_leading = any(bool(f.get("leading")) for f in families)
    areas = []
    for f in sorted(families, key=lambda f: -float(f["contribution"])):
        contribution = float(f["contribution"])
        if contribution <= 0:
            continue
        leading = bool(f.get("leading")) if has_leading else not areas
        share = f.get("share")
        areas.append(
            {
                "family": f["family"],
                "label": area_label(f["family"]),
                "contribution": contribution,
                "share": None if is_missing(share) else float(share),
                "leading": leading,
                "sentences": by_family.get(str(f["family"]), []) if leading else [],
            }
        )
    return areas


def family_waterfall(row: dict, families: list[dict]) -> str | None:
    """The waterfall by area: from the average account through every area to this account."""
    if is_missing(row.get("base_value")) or is_missing(row.get("log_odds")) or not families:
        return None
    shown = sorted(families, key=lambda f: -abs(float(f["contribution"])))
    steps = [(area_label(f["family"]), float(f["contribution"])) for f in shown]
    return charts.waterfall_svg(
        float(row["base_value"]), steps, float(row["log_odds"]), other_label="Not in any area"
    )


def personas(row: dict, rows: list[dict] | None) -> list[dict] | None:
    """Each persona's health and the sentence behind it (from the personas sidecar, else the
    scores' ``*_health`` columns); None when neither has any."""
    if rows:
        found = {str(r["persona"]): r for r in rows}
    else:
        found = {p: {"health": row.get(f"{p}_health"), "sentence": None} for p in PERSONA_TEXT}
    out = []
    for persona, label in PERSONA_TEXT.items():
        r = found.get(persona)
        if r is None or is_missing(r.get("health")):
            continue
        health = str(r["health"])
        sentence = r.get("sentence")
        out.append(
            {
                "label": label,
                "health": health,
                "css": health.replace(" ", "-"),
                "sentence": None if is_missing(sentence) else str(sentence),
            }
        )
    return out or None


def change(row: dict, movers: list[dict] | None) -> dict | None:
    """What changed since the previous run: the summary headline, the change in points and the
    movers with their points; None for an account without a previous run."""
    since = row.get("changed_since")
    if is_missing(row.get("score_change")) or is_missing(since):
        return None
    ranked = sorted(movers or [], key=lambda m: m.get("rank") or 0)
    points = int(row["score_change"])
    size = f"{abs(points)} point{'' if abs(points) == 1 else 's'}"
    return {
        "points": points,
        "since": since,
        "headline": f"Risk {'up' if points > 0 else 'down'} {size}" if points else "Risk unchanged",
        "movers": [
            {"sentence": m["sentence"], "points": round(float(m["points"]))} for m in ranked
        ],
    }


def plays(row: dict, explanations: list[dict]) -> list[dict]:
    """The suggested plays with their owners (the scores' aligned ``plays`` / ``play_owners``,
    else the explanation rows' plays)."""
    texts = _lines(row.get("plays")) or _lines(row.get("play"))
    owners = _lines(row.get("play_owners")) or _lines(row.get("play_owner"))
    if not texts:
        texts = list(
            dict.fromkeys(e["play"] for e in explanations if not is_missing(e.get("play")))
        )
    return [
        {"text": text, "owner": owners[i] if i < len(owners) and owners[i] else None}
        for i, text in enumerate(texts)
        if text.strip()
    ]
