"""Render the red-account meeting pack: one self-contained HTML file.

The report only formats the frames ``churnml.score`` produced (scores, explanations, history,
families) plus the contacts table: no network, no external fonts, charts are inline SVG, and it
works without JavaScript (a small inline script adds filtering and table sorting).
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pandas as pd

from churnml.data.atomic import write_text
from churnml.report import audit_view, books, charts, view
from churnml.report.formatting import FILTERS, money

TEMPLATES = Path(__file__).with_name("templates")


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_report(
    scores: pd.DataFrame,
    explanations: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    families: pd.DataFrame | None = None,
    *,
    contacts: pd.DataFrame | None = None,
    include_amber: bool = False,
    title: str | None = None,
    notices=None,
    personas: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
    audit=None,
) -> str:
    """Render the red-account meeting pack as one self-contained HTML document.

    Parameters
    ----------
    scores : DataFrame
        One row per account, as returned by :func:`churnml.score` (needs at least
        ``account_id``, ``score`` and ``tier``; other columns show "—" when absent).
    explanations, history, families : DataFrame, optional
        The sidecars of ``churnml score`` (long explanations, monthly indicator history, per-family
        contributions). When one is ``None`` the sections that need it say "not available".
    contacts : DataFrame, optional
        The contract's contacts table; champions, decision makers and executive sponsors are
        listed on each card with their status (active, or left on a date).
    include_amber : bool
        Add cards for amber accounts after the red ones.
    title : str, optional
        Page title; defaults to "Red-account review — <as_of>".
    notices : list of str, optional
        Warnings about the scoring run shown above the overview (e.g. the model shows no signal,
        or ``as_of`` lies past the end of the data; see ``churnml.report.digest.run_warnings``).
    personas, changes : DataFrame, optional
        The persona-health and what-changed sidecars of ``churnml score``; without them the
        cards show the scores' own persona health and change summary.
    audit : HealthScoreAudit, optional
        An existing health score beside the model (:func:`churnml.audit.audit_health_score`),
        shown as a section of the overview.

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> import pandas as pd
    >>> scores = pd.DataFrame({"account_id": ["A1"], "name": ["Acme"], "score": [81], "tier": ["red"]})
    >>> html = render_report(scores)
    >>> "Acme" in html and "RED" in html
    True
    """
    for name, frame in (("scores", scores), ("explanations", explanations),
                        ("history", history), ("families", families),
                        ("personas", personas), ("changes", changes)):  # fmt: skip
        if frame is not None and "account_id" not in frame.columns:
            raise ValueError(
                f"{name} frame needs an 'account_id' column; it has {list(frame.columns)}"
            )
    for col in ("score", "tier"):
        if col not in scores.columns:
            raise ValueError(f"scores frame needs a '{col}' column; it has {list(scores.columns)}")

    frame = view.normalise_scores(books.ranked(scores))
    summary = view.overview(frame)
    card_list = view.cards(
        frame, explanations, history, families, contacts, include_amber=include_amber,
        personas=personas, changes=changes,
    )  # fmt: skip
    tier_svg = charts.tier_bar_svg(
        [
            (t["tier"], t["count"], f"{t['count']} {t['tier']} · ARR {money(t['arr'])}")
            for t in summary["tiers"]
        ]
    )
    env = _environment()
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    as_of = summary["as_of_max"]
    from markupsafe import Markup

    return env.get_template("report.html.j2").render(
        title=title or f"Red-account review — {FILTERS['date'](as_of)}",
        summary=summary,
        cards=card_list,
        anchors={c["account_id"]: c["anchor"] for c in card_list},
        tier_svg=Markup(tier_svg),
        include_amber=include_amber,
        notices=list(notices or []),
        books=books.books(frame),
        audit=None if audit is None else audit_view.audit_section(audit),
        has_contacts=contacts is not None,
        css=Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),
        script=Markup(script),
        script_hash=script_hash,
        csms=sorted({c["csm"] for c in card_list} | {r["csm"] for r in summary["red_rows"]}),
        segments=sorted(
            {c["segment"] for c in card_list} | {r["segment"] for r in summary["red_rows"]}
        ),
        markup=Markup,
    )


def write_report(path: str | os.PathLike, html: str) -> Path:
    """Write ``html`` to ``path`` atomically (temporary file in the same folder, then rename).

    Returns the path written.
    """
    return write_text(path, html)
