"""Text formats for the meeting pack (money, dates, days, trends); used as Jinja filters."""

from __future__ import annotations

import math
import re

import pandas as pd

from churnml.features.catalog import area_label

TREND_TEXT = {
    "new": "New",
    "rising": "↑ Rising",
    "steady": "→ Steady",
    "falling": "↓ Falling",
}
PATTERN_TEXT = {
    "acute": "Acute — risk rose suddenly",
    "chronic": "Chronic — at risk for several runs",
}
ROLE_TEXT = {
    "champion": "Champion",
    "decision_maker": "Decision maker",
    "executive_sponsor": "Executive sponsor",
}


def is_missing(value) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def money(value) -> str:
    """Compact money: ``$1.24M``, ``$340k``, ``$950``; ``—`` when missing."""
    if is_missing(value):
        return "—"
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v >= 1e6:
        return f"{sign}${v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{sign}${v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{sign}${v / 1e3:.1f}k"
    return f"{sign}${v:.0f}"


def date(value) -> str:
    """``12 Mar 2026``; ``—`` when missing."""
    if is_missing(value):
        return "—"
    return pd.Timestamp(value).strftime("%d %b %Y").lstrip("0")


def month(value) -> str:
    """``Mar 2026``; ``—`` when missing."""
    if is_missing(value):
        return "—"
    return pd.Timestamp(value).strftime("%b %Y")


def days_left(value) -> str:
    """``in 42 days``, ``today``, ``3 days ago``; ``—`` when missing."""
    if is_missing(value):
        return "—"
    n = int(value)
    if n == 0:
        return "today"
    if n < 0:
        return f"{-n} day{'s' if n != -1 else ''} ago"
    return f"in {n} day{'s' if n != 1 else ''}"


def number(value, digits: int = 0) -> str:
    """A plain number with thousands separators; ``—`` when missing."""
    if is_missing(value):
        return "—"
    v = float(value)
    if math.isfinite(v) and digits == 0:
        return f"{round(v):,}"
    return f"{v:,.{digits}f}"


def percent(value) -> str:
    """A probability as a percentage, ``37%``; ``—`` when missing."""
    if is_missing(value):
        return "—"
    return f"{float(value):.0%}"


def text(value, default: str = "—") -> str:
    """The value as text, or ``default`` when missing or empty."""
    if is_missing(value) or str(value) == "":
        return default
    return str(value)


def pretty_indicator(indicator: str) -> str:
    """``active_users_change_30d`` -> ``Active users change 30d``; ``arr`` -> ``ARR``."""
    words = str(indicator).replace("_", " ").strip()
    words = re.sub(r"\b(nps|arr|csat)\b", lambda m: m.group(1).upper(), words)
    return words[:1].upper() + words[1:]


_WINDOW_SUFFIX = re.compile(r"_(?:(prev)_)?(\d+)d$")


def indicator_label(indicator: str, entry=None) -> str:
    """An indicator's name for a sentence, its look-back window spelled out.

    The id's suffix gives the window (``_30d``, ``_prev_30d``); the catalog ``entry``
    (:class:`~churnml.features.catalog.Indicator`), when given, the offset of an earlier window.
    Ids without a window read as :func:`pretty_indicator`.

    Examples
    --------
    >>> indicator_label("tickets_prev_90d"), indicator_label("license_utilization_30d")
    ('Tickets (91–180 days ago)', 'License utilization (last 30 days)')
    >>> indicator_label("events_change_90d"), indicator_label("days_to_renewal")
    ('Change in events (last 90 days vs the 90 before)', 'Days to renewal')
    """
    found = _WINDOW_SUFFIX.search(str(indicator))
    if found is None:
        return pretty_indicator(indicator)
    base = pretty_indicator(str(indicator)[: found.start()])
    days = int(found.group(2))
    if base.endswith(" change"):
        thing = base.removesuffix(" change")
        thing = thing if thing[:4].isupper() else thing[:1].lower() + thing[1:]
        return f"Change in {thing} (last {days} days vs the {days} before)"
    offset = days if found.group(1) else 0
    offset = (getattr(entry, "params", None) or {}).get("offset_days", offset)
    if offset:
        return f"{base} ({offset + 1}–{offset + days} days ago)"
    return f"{base} (last {days} days)"


FILTERS = {
    "money": money,
    "date": date,
    "month": month,
    "days_left": days_left,
    "number": number,
    "percent": percent,
    "text": text,
    "trend": lambda v: TREND_TEXT.get(text(v, ""), text(v)),
    "pattern": lambda v: PATTERN_TEXT.get(text(v, ""), ""),
    "family": lambda v: area_label(text(v, "")) if text(v, "") else "—",
    "role": lambda v: ROLE_TEXT.get(text(v, ""), text(v).replace("_", " ").capitalize()),
}
