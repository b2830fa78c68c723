"""The meeting pack's audit section: the team's existing health score beside the model.

Only formats a :class:`~churnml.audit.HealthScoreAudit` (``churnml audit --out``): the metrics
side by side, with the better one marked, and the accounts the two scores disagreed on.
"""

from __future__ import annotations

from churnml.report.formatting import is_missing

#: metric -> (how it is shown, whether higher is better)
SHOWN = {
    "roc_auc": ("{:.3f}", True),
    "pr_auc": ("{:.3f}", True),
    "lift_at_capacity": ("{:.1f}x", True),
    "recall_at_capacity": ("{:.0%}", True),
    "arr_captured_at_capacity": ("{:.0%}", True),
    "churners_in_green_share": ("{:.0%}", False),
}
LISTED = 10


def _value(metric: str, value) -> str:
    if is_missing(value):
        return "—"
    return SHOWN.get(metric, ("{:.3f}", True))[0].format(float(value))


def audit_section(audit) -> dict:
    """What the template shows: the summary, one row per metric and the two disagreement lists."""
    from churnml.audit import DISAGREEMENTS

    rows = []
    for r in audit.metrics.to_dict("records"):
        higher = SHOWN.get(r["metric"], ("", True))[1]
        model, health = r.get("model"), r.get("health_score")
        better = None
        if not (is_missing(model) or is_missing(health)) and model != health:
            better = "model" if (model > health) == higher else "health_score"
        rows.append(
            {
                "label": r["label"],
                "model": _value(r["metric"], model),
                "health_score": _value(r["metric"], health),
                "better": better,
            }
        )
    lists = []
    for kind, text in DISAGREEMENTS.items():
        part = audit.disagreements[audit.disagreements["kind"] == kind]
        lists.append(
            {
                "kind": kind,
                "text": text,
                "count": len(part),
                "arr": float(part["arr"].sum()) if len(part) else 0.0,
                "rows": part.head(LISTED).to_dict("records"),
            }
        )
    return {"summary": audit.summary, "rows": rows, "lists": lists}
