"""Which contract columns each indicator reads, and which indicators the given tables cannot build.

An indicator reads its source's ``account_id``, its time column, the ``column``, ``where`` and
``share_where`` columns its entry names, the columns its shape's SQL template reads
(:data:`churnml.features.shapes.SHAPE_COLUMNS`: ``mean_duration`` reads ``opened_at`` and
``closed_at``) and what its entry lists under ``reads`` (what a shape cannot tell: the ``seats``
indicator is a spine column that comes from ``contracts.seats``). Sources that are not contract
tables resolve to the tables they are built from: the usage grains (``usage_users``, ...) are
``usage``; ``nps_with_role`` takes ``role`` from ``contacts`` through ``nps.contact_id``;
``champion_usage`` needs ``usage.user_id``, ``contacts.user_id`` and ``contacts.role``.

A table that lacks a column skips exactly the indicators that need it, and the derived indicators
built on them (``of``). Some columns are read only when present, with a documented meaning when
absent, and skip nothing (:data:`DEFAULTS`, :data:`OPTIONAL`): without ``usage.quantity`` each row
counts once; without ``contacts.started_at`` a champion's usage counts from the first usage day.
:func:`skipped_indicators` is what ``build_features`` skips and what ``validate`` reports before
any feature is built.

Examples
--------
>>> from churnml.features.catalog import load_catalog
>>> load_catalog()["reopen_rate_90d"].reads
(('tickets', 'account_id'), ('tickets', 'closed_at'), ('tickets', 'reopened'))
"""

from __future__ import annotations

import pandas as pd

from churnml.features import shapes

#: columns that have a default when absent: reading them skips nothing
DEFAULTS = {("usage", "quantity"): "each usage row counts once"}
#: source -> columns its indicators read when present and do without otherwise
OPTIONAL = {"champion_usage": (("contacts", "started_at"),)}
#: where a read column is empty, the columns that fill it (contacts without account_id are matched
#: by email domain): dropping them can change values, never skips
FILLED_FROM = {("contacts", "account_id"): (("contacts", "email"), ("accounts", "email_domain"))}
#: sources that are not contract tables -> (the table their rows come from, columns every
#: indicator on them needs besides its own)
DERIVED_SOURCES = {
    "usage_users": ("usage", (("usage", "user_id"),)),
    "usage_events": ("usage", (("usage", "event"),)),
    "usage_user_events": ("usage", (("usage", "user_id"), ("usage", "event"))),
    "champion_usage": ("usage", (("usage", "user_id"), ("contacts", "user_id"),
                                 ("contacts", "role"))),
    "nps_with_role": ("nps", ()),
}
#: a derived source's columns that come from another table: (source, column) -> columns read
JOINED = {("nps_with_role", "role"): (("nps", "contact_id"), ("contacts", "role"))}
SKIP_COLUMNS = ("indicator", "family", "table", "column", "cause", "reason")


def columns_read(ind) -> tuple[tuple[str, str], ...]:
    """The (table, column) pairs of the contract that ``ind`` reads, sorted.

    Derived shapes (change, ratio, difference, lifecycle) read other indicators, not tables, so
    they read nothing here; ``spine`` and other shapes add their entry's ``reads`` list (a column
    of the entry's table, or ``table.column``).
    """
    params = ind.params or {}
    on_source = set()
    if ind.shape in shapes.SQL_SHAPES:
        on_source = {"account_id", shapes.time_of(ind), *shapes.SHAPE_COLUMNS.get(ind.shape, ())}
        on_source |= set(params.get("where") or {}) | set(params.get("share_where") or {})
        if params.get("column"):
            on_source.add(params["column"])
        if ind.shape in shapes.KEYED_SHAPES:
            on_source.add(shapes.key_of(ind))
    elif ind.shape == "account_attribute":
        on_source = {"account_id", params["column"]}
    table, extra = DERIVED_SOURCES.get(ind.table, (ind.table, ()))
    out = set(extra) | set(OPTIONAL.get(ind.table, ())) if on_source else set()
    for column in on_source:
        out.update(JOINED.get((ind.table, column), ((table, column),)))
    for name in params.get("reads", ()):
        where, _, column = str(name).rpartition(".")
        out.add((where or table, column))
    return tuple(sorted(out))


def columns_needed(ind) -> tuple[tuple[str, str], ...]:
    """The columns of :func:`columns_read` without which ``ind`` is skipped (all but the
    :data:`DEFAULTS` and its source's :data:`OPTIONAL` columns)."""
    optional = set(DEFAULTS) | set(OPTIONAL.get(ind.table, ()))
    return tuple(p for p in columns_read(ind) if p not in optional)


def _absent(pairs, columns: dict) -> tuple[tuple[str, str | None], ...]:
    """The needed pairs the tables lack: (table, None) for a missing table, once per table."""
    out = []
    for table, column in pairs:
        if columns.get(table) is None:
            out.append((table, None))
        elif column not in columns[table]:
            out.append((table, column))
    return tuple(sorted(set(out), key=lambda p: (p[0], p[1] or "")))


def _cause(absent) -> tuple[str, str, str]:
    """(table, column, text) of what is missing: "tickets has no closed_at or csat column"."""
    per_table: dict[str, list] = {}
    for table, column in absent:
        per_table.setdefault(table, []).append(column)
    parts = []
    for table, cols in per_table.items():
        if None in cols:
            parts.append(f"no {table} table")
        else:
            parts.append(f"{table} has no {' or '.join(cols)} column")
    tables = ", ".join(per_table)
    columns = ", ".join(c for cols in per_table.values() for c in cols if c is not None)
    return tables, columns, "; ".join(parts)


def skipped_indicators(catalog, tables: dict, missing: dict | None = None) -> pd.DataFrame:
    """The indicators of ``catalog`` that ``tables`` cannot build, in catalog order.

    Parameters
    ----------
    catalog : Catalog
    tables : dict of str to DataFrame
        Contract tables (only their column names are read; a missing table is absent or None).
    missing : dict, optional
        Sources the engine could not register (source -> reason), skipped with that reason.

    Returns
    -------
    DataFrame
        indicator, family, table and column (what is missing; column empty for a missing table),
        cause ("tickets has no reopened column") and reason (the cause, or for a derived indicator
        "needs csat_mean_90d: tickets has no csat column"). Empty when everything can be built.
    """
    columns = {name: None if frame is None else set(frame.columns)
               for name, frame in tables.items()}
    found = {}  # indicator -> (table, column, cause, reason)
    for ind in catalog:
        absent = _absent(columns_needed(ind), columns)
        if absent:
            table, column, cause = _cause(absent)
            found[ind.id] = (table, column, cause, cause)
        elif ind.shape in shapes.SQL_SHAPES and ind.table in (missing or {}):
            found[ind.id] = (ind.table, "", missing[ind.table], missing[ind.table])
    grew = True
    while grew:  # derived indicators inherit their inputs' causes (an input may come later)
        grew = False
        for ind in catalog:
            via = [ref for ref in (ind.params or {}).get("of", []) if ref in found]
            if via and ind.id not in found:
                table, column, cause, _ = found[via[0]]
                found[ind.id] = (table, column, cause, f"needs {', '.join(via)}: {cause}")
                grew = True
    rows = [(i.id, i.family, *found[i.id]) for i in catalog if i.id in found]
    return pd.DataFrame(rows, columns=list(SKIP_COLUMNS))


def skip_groups(skipped: pd.DataFrame) -> pd.DataFrame:
    """One row per cause: table, column, cause, count and the indicators it skips (comma-joined)."""
    if skipped.empty:
        return pd.DataFrame(columns=["table", "column", "cause", "count", "indicators"])
    grouped = skipped.groupby(["table", "column", "cause"], sort=False)["indicator"]
    out = grouped.agg(count="size", indicators=", ".join).reset_index()
    return out[["table", "column", "cause", "count", "indicators"]]


def describe_skips(skipped: pd.DataFrame) -> list[str]:
    """One printable line per cause: "skipped 2 indicators (tickets has no csat column): a, b"."""
    return [
        f"skipped {row.count} indicator{'s' if row.count != 1 else ''} ({row.cause}): "
        f"{row.indicators}"
        for row in skip_groups(skipped).itertuples(index=False)
    ]
