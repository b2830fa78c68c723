"""Inline SVG charts for the meeting pack: tier bar, contribution waterfall, sparklines.

Each function takes numbers that are already in the scores or explanation frames and returns an
SVG string (``role="img"`` with a ``<title>`` and ``aria-label``), so the report needs no image
files, no JavaScript and no network. All text is escaped here, because the template inserts the
returned markup as-is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

#: Tier colours; the report always prints the tier name next to the colour.
TIER_COLOURS = {"red": "#b03a2e", "amber": "#f0b429", "green": "#1e7b48"}
RAISES_RISK = "#b03a2e"
LOWERS_RISK = "#1e7b48"
NEUTRAL = "#7f8c8d"


def _num(x: float) -> str:
    """Coordinates with one decimal: small files, crisp enough on screen and paper."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _svg(width: float, height: float, label: str, body: str, css_class: str) -> str:
    label = escape(label)
    return (
        f'<svg class="{css_class}" role="img" aria-label="{label}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" width="{_num(width)}" height="{_num(height)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>{body}</svg>'
    )


def tier_bar_svg(tiers: Sequence[tuple[str, int, str]], *, width: float = 1000) -> str:
    """A stacked bar of account counts per tier, each segment labelled with its text.

    Parameters
    ----------
    tiers : sequence of (tier, count, caption)
        In display order, e.g. ``[("red", 12, "12 red · $1.2M"), ...]``.
    width : float
        Width of the bar in pixels.
    """
    total = sum(count for _, count, _ in tiers)
    height = 34
    if total == 0:
        body = '<text x="0" y="22" class="muted">No accounts scored</text>'
        return _svg(width, height, "No accounts scored", body, "chart tier-bar")
    x = 0.0
    parts = []
    for tier, count, caption in tiers:
        if count == 0:
            continue
        w = width * count / total
        colour = TIER_COLOURS.get(tier, NEUTRAL)
        parts.append(
            f'<rect x="{_num(x)}" y="0" width="{_num(w)}" height="{height}" fill="{colour}">'
            f"<title>{escape(caption)}</title></rect>"
        )
        if w >= 70:
            parts.append(
                f'<text x="{_num(x + w / 2)}" y="22" text-anchor="middle" class="on-bar on-{tier}">'
                f"{count} {escape(tier.upper())}</text>"
            )
        x += w
    label = "Accounts by tier: " + "; ".join(caption for _, count, caption in tiers)
    return _svg(width, height, label, "".join(parts), "chart tier-bar")


def waterfall_svg(
    base: float,
    steps: Sequence[tuple[str, float]],
    final: float,
    *,
    other_label: str = "All other indicators",
    width: float = 520,
) -> str:
    """Horizontal waterfall from the average account's log-odds to this account's log-odds.

    Parameters
    ----------
    base : float
        The model's base value (log-odds of an average account).
    steps : sequence of (label, contribution)
        The shown factors, in display order, with their log-odds contributions.
    final : float
        This account's log-odds. "All other" is ``final - base - sum(steps)`` when it is not ~0.
    other_label, width
        Label of the remainder bar and chart width in pixels.
    """
    rows: list[tuple[str, float, float, str]] = [("Average account", 0.0, base, "total")]
    running = base
    for label, value in steps:
        rows.append((label, running, running + value, "step"))
        running += value
    remainder = final - running
    if abs(remainder) > 1e-6:
        rows.append((other_label, running, final, "step"))
    rows.append(("This account", 0.0, final, "total"))

    label_w, value_w, row_h, top = 190.0, 58.0, 22.0, 18.0
    plot_w = width - label_w - value_w
    ends = [v for _, a, b, _ in rows for v in (a, b)]
    lo, hi = min(ends), max(ends)
    if hi - lo < 1e-9:
        hi, lo = hi + 1, lo - 1
    pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad

    def sx(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * plot_w

    height = top + row_h * len(rows) + 6
    parts = [
        (
            f'<text x="{_num(label_w)}" y="11" class="axis-note">'
            "log-odds · bars right raise risk, left lower it</text>"
        ),
        (
            f'<line x1="{_num(sx(0))}" y1="{_num(top - 4)}" x2="{_num(sx(0))}" '
            f'y2="{_num(height - 4)}" class="zero"/>'
        ),
    ]
    for i, (label, start, end, kind) in enumerate(rows):
        y = top + i * row_h
        x0, x1 = sorted((sx(start), sx(end)))
        if kind == "total":
            colour, delta = NEUTRAL, f"{end:+.2f}"
        else:
            colour = RAISES_RISK if end >= start else LOWERS_RISK
            delta = f"{end - start:+.2f}"
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{_num(label_w - 6)}" y="{_num(y + 14)}" text-anchor="end">{escape(short)}'
            f"<title>{escape(label)}</title></text>"
            f'<rect x="{_num(x0)}" y="{_num(y + 3)}" width="{_num(max(x1 - x0, 1.5))}" '
            f'height="{_num(row_h - 7)}" fill="{colour}" rx="2"/>'
            f'<text x="{_num(width - 4)}" y="{_num(y + 14)}" text-anchor="end" '
            f'class="num">{delta}</text>'
        )
        if kind == "step" and i + 1 < len(rows):
            parts.append(
                f'<line x1="{_num(sx(end))}" y1="{_num(y + row_h - 4)}" x2="{_num(sx(end))}" '
                f'y2="{_num(y + row_h + 3)}" class="link"/>'
            )
    aria = (
        f"Waterfall of log-odds contributions: average account {base:+.2f}, "
        + ", ".join(f"{lbl} {v:+.2f}" for lbl, v in steps)
        + (f", {other_label} {remainder:+.2f}" if abs(remainder) > 1e-6 else "")
        + f", this account {final:+.2f}"
    )
    return _svg(width, height, aria, "".join(parts), "chart waterfall")


def sparkline_svg(
    values: Sequence[float], *, label: str, width: float = 150, height: float = 36
) -> str:
    """A small line of monthly values with the latest point marked.

    Parameters
    ----------
    values : sequence of float
        Oldest first; NaN values are skipped (the line breaks there).
    label : str
        What the line shows, e.g. "Active users (30 days), last 12 months: 41 → 18".
    """
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        body = f'<text x="0" y="{_num(height / 2 + 4)}" class="muted">no data</text>'
        return _svg(width, height, f"{label}: no data", body, "chart spark")
    lo, hi = min(finite), max(finite)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    n = len(values)
    step = (width - 8) / max(n - 1, 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return 4 + i * step, height - 4 - (v - lo) / (hi - lo) * (height - 8)

    segments: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None or math.isnan(v):
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(point(i, v))
    parts = []
    for seg in segments:
        if len(seg) > 1:
            pts = " ".join(f"{_num(x)},{_num(y)}" for x, y in seg)
            parts.append(f'<polyline points="{pts}" class="line"/>')
    last_i = max(i for i, v in enumerate(values) if v is not None and not math.isnan(v))
    lx, ly = point(last_i, values[last_i])
    parts.append(f'<circle cx="{_num(lx)}" cy="{_num(ly)}" r="2.8" class="dot"/>')
    return _svg(width, height, label, "".join(parts), "chart spark")
