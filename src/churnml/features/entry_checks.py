"""What a catalog entry may read, checked before any table is read.

A catalog entry is YAML a user writes; what would otherwise be a database error deep in the
build, or a silently wrong value, is refused first, naming the indicator (:func:`check_catalog`):

- a filter's rules (a list of values or a range; YAML's true / false amid names; an empty list);
- a time column the table does not date its rows by (``time: first_reply_at``), and ``nth``
  below 1;
- a term's outcome (the label) read other than for terms ended before as_of;
- usage, which is summed per account, user, event and day before any indicator reads it
  (:mod:`churnml.features.usage_grains`): a usage indicator (``table: usage``, or the
  champions' ``champion_usage``) reads ``quantity`` as its value, counts ``user_id`` or
  ``event`` as the key of a keyed shape, dates rows by ``ts`` and filters on event names only
  (a filter on user ids matched no user code, ``latest_value`` read a day's sum).

:func:`warn_unknown_events` names the filters whose event names usage does not have.
"""

from __future__ import annotations

import warnings

from churnml.features import shapes

#: table -> the columns a keyed shape may count there
KEYS = {"usage": ("user_id", "event"), "champion_usage": ("user_id",)}
#: table -> the columns a filter (``where``, ``share_where``) may name there
FILTERABLE = {"usage": ("event",), "champion_usage": ()}
#: table -> the columns holding the label: a term's outcome, read only by the shapes that
#: count terms ended before as_of
LABEL_COLUMNS = {"contracts": ("outcome", "outcome_date")}
ENDED_TERMS = {"prior_terms", "past_downgrades"}


def check_catalog(catalog) -> None:
    """Raise ValueError, naming the indicator, for the first entry that reads what it cannot."""
    for ind in catalog:
        if ind.table in KEYS:
            check_reads(ind)
            _event_names(ind)
        elif ind.shape in shapes.SQL_SHAPES:
            _check_entry(ind)
        for key in ("where", "share_where"):  # each rule a list of values or a known range
            shapes.condition(ind, key)


def _check_entry(ind) -> None:
    from churnml.features.sources import TIME_COLUMNS

    table = "nps" if ind.table == "nps_with_role" else ind.table
    time, times = shapes.time_of(ind), TIME_COLUMNS.get(table)
    reads = {ind.params.get("column"), time, *_filtered(ind)}
    label = sorted(reads & set(LABEL_COLUMNS.get(table, ())))
    problem = None
    if times is not None and time not in times:
        problem = f"dates its rows by {time!r}, but {table} rows are dated by {' or '.join(times)}"
    elif label and ind.shape not in ENDED_TERMS and time != "end_date":
        problem = (f"reads {', '.join(label)}: a term's outcome is the label the model learns, "
                   f"unknown at as_of for the renewing term; read it for terms ended before as_of "
                   f"({' or '.join(sorted(ENDED_TERMS))}, or time: end_date)")
    elif int(ind.params.get("nth", 1)) < 1:
        problem = f"has nth: {ind.params['nth']}; the latest row is nth: 1"
    if problem:
        raise ValueError(f"catalog indicator {ind.id!r} (table {ind.table}) {problem}")


def check_reads(ind) -> None:
    """Raise ValueError, naming ``ind``, when it reads what usage's grains do not keep."""
    column, time = ind.params.get("column"), shapes.time_of(ind)
    keys, filterable = KEYS[ind.table], FILTERABLE[ind.table]
    unfiltered = [c for c in _filtered(ind) if c not in filterable]
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


def _filtered(ind) -> list[str]:
    """The columns ``ind``'s filters (``where``, ``share_where``) name."""
    return [*(ind.params.get("where") or {}), *(ind.params.get("share_where") or {})]


def _event_names(ind) -> list[str]:
    """The event names ``ind``'s filters list (ValueError, naming it, for a range or true)."""
    try:
        return [name for key in ("where", "share_where")
                if "event" in (ind.params.get(key) or {})
                for name in shapes.coded_names("event", ind.params[key]["event"])]
    except ValueError as error:
        raise ValueError(f"indicator {ind.id}: {error}") from None
