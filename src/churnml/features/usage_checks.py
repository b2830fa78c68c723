"""What a usage indicator may read, checked before usage is reduced.

Usage is summed per account, user, event and day before any indicator reads it
(:mod:`churnml.features.usage_grains`), so a usage indicator (``table: usage``, or the
champions' ``champion_usage``) reads ``quantity`` as its value, counts ``user_id`` or ``event``
as the key of a keyed shape, dates rows by ``ts`` and filters on event names only. Anything else
would be a database error deep in the build, or silently wrong (a filter on user ids matched no
user code, ``latest_value`` read a day's sum): :func:`check_catalog` refuses it first, naming the
indicator. :func:`warn_unknown_events` names the filters whose event names usage does not have.
"""

from __future__ import annotations

import warnings

from churnml.features import shapes

#: table -> the columns a keyed shape may count there
KEYS = {"usage": ("user_id", "event"), "champion_usage": ("user_id",)}
#: table -> the columns a filter (``where``, ``share_where``) may name there
FILTERABLE = {"usage": ("event",), "champion_usage": ()}


def check_catalog(catalog) -> None:
    """Raise ValueError for the first usage indicator reading what usage's grains do not keep."""
    for ind in catalog:
        if ind.table in KEYS:
            check_reads(ind)
            _event_names(ind)


def check_reads(ind) -> None:
    """Raise ValueError, naming ``ind``, when it reads what usage's grains do not keep."""
    column, time = ind.params.get("column"), shapes.time_of(ind)
    keys, filterable = KEYS[ind.table], FILTERABLE[ind.table]
    unfiltered = [c for c in (*(ind.params.get("where") or {}),
                              *(ind.params.get("share_where") or {})) if c not in filterable]
    problem = None
    if ind.shape == "latest_value":
        problem = "has shape latest_value, but no single latest row survives; use sum_window"
    elif time != "ts":
        problem = f"dates its rows by {time!r}, but usage rows are dated by ts"
    elif column not in (None, "quantity") and not (
            ind.shape in shapes.KEYED_SHAPES and column in keys):
        problem = (f"reads column {column!r}, but a value is read from quantity"
                   + (f" and a keyed shape counts {' or '.join(keys)}" if keys else "")
                   + "; map that column into event or quantity")
    elif unfiltered:
        problem = (f"filters on {', '.join(map(repr, unfiltered))}, but "
                   + ("only event names can be" if filterable else "nothing can be") + " filtered")
    if problem:
        raise ValueError(f"catalog indicator {ind.id!r} (table {ind.table}) {problem} (usage is "
                         f"summed per account, user, event and day before its indicators read it)")


def warn_unknown_events(con, catalog) -> None:
    """One warning per usage indicator whose event filter names events usage does not have
    (a typo counts nothing); needs :data:`~churnml.features.shapes.EVENT_CODES` registered."""
    wanted = {ind.id: _event_names(ind) for ind in catalog if ind.table == "usage"}
    wanted = {k: v for k, v in wanted.items() if v}
    listed = con.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
                         [shapes.EVENT_CODES]).fetchone()[0]
    if not wanted or not listed:  # no usage, or no event column: those indicators are skipped
        return
    known = {r[0] for r in con.execute(f"SELECT \"name\" FROM {shapes.q(shapes.EVENT_CODES)}")
             .fetchall()}
    for ind_id, names in wanted.items():
        unknown = [n for n in names if n not in known]
        if unknown:
            some = ", ".join(sorted(known)[:8]) + (", ..." if len(known) > 8 else "")
            warnings.warn(f"indicator {ind_id}: usage has no event named "
                          f"{', '.join(map(repr, unknown))} (its events: {some or 'none'}); the "
                          f"filter counts none of its rows", UserWarning, stacklevel=4)


def _event_names(ind) -> list[str]:
    """The event names ``ind``'s filters list (ValueError, naming it, for a range or true)."""
    try:
        return [name for key in ("where", "share_where")
                if "event" in (ind.params.get(key) or {})
                for name in shapes.coded_names("event", ind.params[key]["event"])]
    except ValueError as error:
        raise ValueError(f"indicator {ind.id}: {error}") from None
