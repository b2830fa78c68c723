"""One SQL template per indicator shape, written once in portable SQL.

Every aggregate reads an event alias ``e`` joined to the spine alias ``s``. Times are numbers of
days since 1970-01-01 (``e."t_<column>"``, ``s."as_of_day"``), so the point-in-time rule is one
comparison: an event counts for (account, as_of) only when its time is strictly before ``as_of``
and, for windowed shapes, at or after the window's start. Values come in as bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

#: shapes computed by the engine in SQL, grouped per (table, time column); the rest are derived
AGGREGATE_SHAPES = {
    "count_window", "sum_window", "mean_window", "share_window", "any_window",
    "nps_window", "mean_duration", "days_since_last", "active_count", "none_active", "open_count",
    "open_oldest_days", "goals_achieved_share", "goal_progress", "goals_overdue", "goals_open",
    "days_to_first_value", "tenure_days", "prior_terms", "past_downgrades", "weekly_slope",
}
QUERY_SHAPES = {"latest_value"}
#: shapes that count keys (users, features): an inner pass per (spine row, key), then a sum
KEYED_SHAPES = {"distinct_window", "power_users"}
SQL_SHAPES = AGGREGATE_SHAPES | QUERY_SHAPES | KEYED_SHAPES
#: relations holding one row per (account, key, day): a key's active days are its rows
DAY_GRAIN = {"usage_users": "user_id", "usage_events": "event"}
DERIVED_SHAPES = {"change", "ratio", "difference", "lifecycle", "spine", "account_attribute"}
#: value for an account × as_of with no rows: counts are 0, everything else stays NULL
ZERO_WHEN_EMPTY = {"count_window", "distinct_window", "sum_window", "any_window", "active_count",
                   "open_count", "goals_overdue", "goals_open", "prior_terms", "past_downgrades",
                   "power_users", "weekly_slope"}
ONE_WHEN_EMPTY = {"none_active"}
#: default time column per table (the column that dates a row)
EVENT_TIME = {"usage": "ts", "champion_usage": "ts", "tickets": "opened_at", "nps": "responded_at",
              "nps_with_role": "responded_at", "contacts": "started_at", "goals": "created_at",
              "contracts": "start_date"}
#: sources whose rows become visible at ``t_known_from`` (e.g. usage attributed to a champion)
KNOWN_FROM = {"champion_usage"}
#: shapes that look at state at as_of rather than a window of events
STATE_TIME = {"active_count": "started_at", "none_active": "started_at", "open_count": "opened_at",
              "open_oldest_days": "opened_at"}
#: state shapes for which a missing start means "since before the data" (a contact in post)
SINCE_EVER = {"active_count", "none_active"}
#: columns a shape's SQL template reads besides its time column and the entry's column / where /
#: share_where (see :func:`churnml.features.requirements.columns_read`)
_GOAL = ("due_at", "achieved", "achieved_at", "target")
SHAPE_COLUMNS = {
    "nps_window": ("score",),
    "mean_duration": ("opened_at", "closed_at"),
    "active_count": ("started_at", "ended_at"),
    "none_active": ("started_at", "ended_at"),
    "open_count": ("opened_at", "closed_at"),
    "open_oldest_days": ("opened_at", "closed_at"),
    "goals_achieved_share": _GOAL,
    "goal_progress": _GOAL,
    "goals_overdue": _GOAL,
    "goals_open": _GOAL,
    "days_to_first_value": ("created_at", "achieved_at"),
    "tenure_days": ("start_date",),
    "prior_terms": ("end_date",),
    "past_downgrades": ("end_date", "outcome"),
    "power_users": ("user_id",),
}


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + str(name).replace('"', '""') + '"'


@dataclass(frozen=True)
class Sql:
    """A SQL fragment and its bound parameters, in order."""

    text: str
    params: tuple = ()

    def __add__(self, other: Sql) -> Sql:
        return Sql(self.text + other.text, self.params + other.params)


def time_of(ind) -> str:
    return ind.params.get("time") or STATE_TIME.get(ind.shape) or EVENT_TIME.get(ind.table, "ts")


def lookback(ind) -> int | None:
    """Days before as_of an indicator reads (None: all history)."""
    if ind.window_days is None:
        return None
    return int(ind.window_days) + int(ind.params.get("offset_days", 0))


#: usage's grains keep the event as an integer code; its names are in this relation (name, code)
EVENT_CODES = "usage_event_codes"
#: relations whose row sums a day of usage rows, counted in "rows" when a shape counts them
DAYS_OF_ROWS = {"usage", "usage_users", "usage_events", "usage_user_events", "champion_usage"}
#: relation -> the columns it keeps as codes of EVENT_CODES
CODED = {"usage_events": {"event"}, "usage_user_events": {"event"}}


def condition(ind, key: str = "where") -> Sql:
    """The ``where`` (or ``share_where``) filter of one indicator on the relation it reads."""
    try:
        return predicate(ind.params.get(key), CODED.get(ind.table, ()))
    except ValueError as error:
        raise ValueError(f"indicator {ind.id}: {error}") from None


def coded_names(column: str, rule) -> list[str]:
    """The names a filter on a coded column lists; ValueError for a range or true / false."""
    if isinstance(rule, dict):
        wrong = f"a filter on usage's {column!r} is a list of names, but got {column}: {rule!r}"
        raise ValueError(wrong)  # noqa: TRY004 - a catalog entry's value, not a Python type
    names = list(rule) if isinstance(rule, (list, tuple)) else [rule]
    if any(isinstance(v, bool) for v in names):  # YAML reads on / off / yes / no so
        raise ValueError(f"event names are text, but {column}: {rule!r} holds true or false; "
                         f"quote the names ('on', 'yes')")
    return [str(v) for v in names]


#: range rules of a filter: ``{score: {max: 6}}``
RANGES = {"max": "<=", "min": ">=", "below": "<", "above": ">"}


def predicate(where: dict | None, coded=()) -> Sql:
    """``where: {col: [a, b]}`` -> IN, ``{col: {max: 6}}`` -> <=, ``{col: {min: 9}}`` -> >=.
    A ``coded`` column holds codes of :data:`EVENT_CODES`: its names are matched there."""
    parts, params = [], []
    for column, rule in (where or {}).items():
        if column in coded:
            names = coded_names(column, rule)
            parts.append(f'e.{q(column)} IN (SELECT "code" FROM {q(EVENT_CODES)} WHERE "name" '
                         f"IN ({', '.join('?' * len(names))}))")
            params.extend(names)
        elif isinstance(rule, dict):
            for op, value in rule.items():
                if op not in RANGES:
                    raise ValueError(f"the filter on {column!r} has an unknown rule {op!r}; the "
                                     f"rules are {', '.join(RANGES)}")
                parts.append(f"e.{q(column)} {RANGES[op]} ?")
                params.append(value)
        else:
            values = list(rule) if isinstance(rule, (list, tuple)) else [rule]
            flags = [isinstance(v, bool) for v in values]
            if not values:
                raise ValueError(f"the filter on {column!r} lists no value")
            if all(flags):
                parts.append(f"CAST(e.{q(column)} AS BOOLEAN) IN ({', '.join('?' * len(values))})")
            elif any(flags):  # YAML reads on / off / yes / no as true / false
                raise ValueError(f"the filter on {column!r} mixes true / false with other values "
                                 f"({rule!r}); quote the names ('on', 'yes')")
            elif all(isinstance(v, (int, float)) for v in values):  # numbers compare as numbers
                parts.append(f"TRY_CAST(e.{q(column)} AS DOUBLE) IN "
                             f"({', '.join('?' * len(values))})")
                values = [float(v) for v in values]
            else:
                parts.append(f"CAST(e.{q(column)} AS VARCHAR) IN ({', '.join('?' * len(values))})")
                values = [str(v) for v in values]
            params.extend(values)
    return Sql(" AND ".join(parts) or "TRUE", tuple(params))


def window(ind) -> Sql:
    """The event time is inside [as_of - offset - window, as_of - offset)."""
    t = f'e.{q("t_" + time_of(ind))}'
    off = int(ind.params.get("offset_days", 0))
    if ind.window_days is None:
        return Sql(f's."as_of_day" - ? > {t}', (off,))
    return Sql(
        f'{t} >= s."as_of_day" - ? AND {t} < s."as_of_day" - ?', (int(ind.window_days) + off, off)
    )


def when(*conds: Sql) -> Sql:
    text = " AND ".join(f"({c.text})" for c in conds)
    return Sql(text, tuple(p for c in conds for p in c.params))


def aggregate(ind) -> Sql:
    """The aggregate expression of one indicator (one output column)."""
    shape, col = ind.shape, ind.params.get("column")
    f = condition(ind)
    w = when(window(ind), f)
    asof = 's."as_of_day"'
    one = 'e."rows"' if ind.table in DAYS_OF_ROWS else "1"  # a usage day counts its rows
    if shape == "count_window":
        return Sql("SUM(CASE WHEN ") + w + Sql(f" THEN {one} ELSE 0 END)")
    if shape == "sum_window":
        return Sql("SUM(CASE WHEN ") + w + Sql(f" THEN e.{q(col)} ELSE 0 END)")
    if shape == "mean_window" and one != "1":  # the mean of the rows the days sum
        total = Sql("SUM(CASE WHEN ") + w + Sql(f" THEN CAST(e.{q(col)} AS DOUBLE) END)")
        return total + Sql(" / SUM(CASE WHEN ") + w + Sql(f" THEN {one} END)")
    if shape == "mean_window":
        return Sql("AVG(CASE WHEN ") + w + Sql(f" THEN CAST(e.{q(col)} AS DOUBLE) END)")
    if shape == "any_window":
        return Sql("MAX(CASE WHEN ") + w + Sql(" THEN 1 ELSE 0 END)")
    if shape == "share_window":
        hit = when(w, condition(ind, "share_where"))
        hits = Sql("SUM(CASE WHEN ") + hit + Sql(f" THEN 1.0 * {one} ELSE 0.0 END)")
        return hits + Sql(" / NULLIF(SUM(CASE WHEN ") + w + Sql(f" THEN {one} ELSE 0 END), 0)")
    if shape == "nps_window":
        return (Sql("100.0 * (SUM(CASE WHEN ") + w + Sql(' AND e."score" >= 9 THEN 1 ELSE 0 END) - SUM(CASE WHEN ')
                + w + Sql(' AND e."score" <= 6 THEN 1 ELSE 0 END)) / NULLIF(SUM(CASE WHEN ')
                + w + Sql(" THEN 1 ELSE 0 END), 0)"))
    if shape == "mean_duration":  # a ticket's duration is known once it closed, before as_of
        return Sql("AVG(CASE WHEN ") + w + Sql(
            f' AND e."t_closed_at" < {asof} THEN e."t_closed_at" - e."t_opened_at" END)')
    if shape == "weekly_slope":
        # least squares of the weekly sums on x = -week over the window's weeks (empty weeks are
        # 0): sum((mean_week - week) * y) / sum((week - mean_week)^2), summed row by row (a week's
        # rows share its weight); weights are halves, exact in binary, so the value does not
        # depend on the order rows arrive in
        weeks = -(-int(ind.window_days) // 7)
        centre = (weeks - 1) / 2
        spread = sum((k - centre) ** 2 for k in range(weeks))
        t = f'e.{q("t_" + time_of(ind))}'
        week = f'FLOOR(({asof} - {t} - 1e-9) / 7)'
        return (Sql("SUM(CASE WHEN ") + w
                + Sql(f" THEN (? - {week}) * e.{q(col)} ELSE 0 END) / ?", (centre, spread)))
    if shape == "days_since_last":
        t = f'e.{q("t_" + time_of(ind))}'
        return Sql(f"{asof} - MAX(CASE WHEN ") + w + Sql(f" THEN {t} END)")
    # state at as_of; an entry with window_days or offset_days also asks when the state began
    dated = ind.window_days is not None or int(ind.params.get("offset_days", 0))
    state = when(window(ind), f) if dated else f
    if shape in ("active_count", "none_active"):
        active = Sql(f'(e."t_started_at" IS NULL OR e."t_started_at" < {asof}) AND '
                     f'(e."t_ended_at" IS NULL OR e."t_ended_at" >= {asof})')
        total = Sql("SUM(CASE WHEN ") + when(active, state) + Sql(" THEN 1 ELSE 0 END)")
        if shape == "active_count":
            return total
        return Sql("CASE WHEN ") + total + Sql(" = 0 THEN 1 ELSE 0 END")
    if shape in ("open_count", "open_oldest_days"):
        is_open = Sql(f'e."t_opened_at" < {asof} AND (e."t_closed_at" IS NULL OR e."t_closed_at" >= {asof})')
        if shape == "open_count":
            return Sql("SUM(CASE WHEN ") + when(is_open, state) + Sql(" THEN 1 ELSE 0 END)")
        return (Sql("MAX(CASE WHEN ") + when(is_open, state)
                + Sql(f' THEN {asof} - e."t_opened_at" END)'))
    # goals and terms: each entry's own window and filter (w), beside the shape's own test
    achieved = f'(COALESCE(e."t_achieved_at" < {asof} AND e."achieved" >= e."target", FALSE))'
    due = f'(COALESCE(e."t_due_at" < {asof}, FALSE))'
    if shape == "goals_achieved_share":
        return (Sql("SUM(CASE WHEN ") + w + Sql(f" AND {due} AND {achieved} THEN 1.0 ELSE 0.0 END)"
                                                " / NULLIF(SUM(CASE WHEN ")
                + w + Sql(f" AND {due} THEN 1 ELSE 0 END), 0)"))
    if shape == "goal_progress":
        return Sql("AVG(CASE WHEN ") + w + Sql(
            f' AND {due} THEN CASE WHEN e."t_achieved_at" < {asof} THEN '
            f'LEAST(e."achieved" / NULLIF(e."target", 0), 1.0) ELSE 0.0 END END)')
    if shape == "goals_overdue":
        return Sql("SUM(CASE WHEN ") + w + Sql(f" AND {due} AND NOT {achieved} THEN 1 ELSE 0 END)")
    if shape == "goals_open":
        return Sql("SUM(CASE WHEN ") + w + Sql(
            f" AND NOT {due} AND NOT {achieved} THEN 1 ELSE 0 END)")
    if shape == "days_to_first_value":
        return (Sql("MIN(CASE WHEN ") + w + Sql(f' AND e."t_achieved_at" < {asof} THEN '
                                                'e."t_achieved_at" END) - MIN(CASE WHEN ')
                + w + Sql(' THEN e."t_created_at" END)'))
    if shape == "tenure_days":
        return Sql(f"{asof} - MIN(CASE WHEN ") + w + Sql(' THEN e."t_start_date" END)')
    if shape == "prior_terms":
        return Sql("SUM(CASE WHEN ") + w + Sql(f' AND e."t_end_date" < {asof} THEN 1 ELSE 0 END)')
    if shape == "past_downgrades":
        return (Sql("SUM(CASE WHEN ") + w
                + Sql(f' AND e."t_end_date" < {asof} AND CAST(e."outcome" AS VARCHAR) = ? '
                      "THEN 1 ELSE 0 END)", ("downgraded",)))
    raise ValueError(f"indicator {ind.id}: unknown aggregate shape {shape!r}")


def grouped_query(inds, table: str, time: str, days: int | None) -> Sql:
    """One pass over ``table`` computing every indicator in ``inds`` for all spine rows."""
    t = f'e.{q("t_" + time)}'
    bound = "" if days is None else f' AND {t} >= s."as_of_day" - ?'
    if table in KNOWN_FROM:
        bound += ' AND (e."t_known_from" IS NULL OR e."t_known_from" < s."as_of_day")'
    head = Sql('SELECT s."_row"')
    for ind in inds:
        head = head + Sql(", ") + aggregate(ind) + Sql(f" AS {q(ind.id)}")
    before = f'{t} < s."as_of_day"'
    if days is None and all(ind.shape in SINCE_EVER for ind in inds):
        before = f"({t} IS NULL OR {before})"  # no start date: in post since before the data
    join = Sql(f' FROM "spine" s JOIN {q(table)} e ON e."account_id" = s."account_id" '
               f'AND {before}{bound} GROUP BY s."_row", s."as_of_day"',
               () if days is None else (days,))
    return head + join


def key_of(ind) -> str:
    """The column a keyed shape counts (power users count users)."""
    return "user_id" if ind.shape == "power_users" else ind.params["column"]


def keyed_query(inds, table: str, key: str, time: str, days: int | None) -> Sql:
    """Keyed shapes of one table in one pass: per (spine row, key) flags or active days, summed.

    ``distinct_window`` counts keys with a row in the window; ``power_users`` counts keys active
    on at least ``min_days`` distinct days of the window.
    """
    t = f'e.{q("t_" + time)}'
    k = q(key)
    bound = "" if days is None else f' AND {t} >= s."as_of_day" - ?'
    inner, outer = Sql(f'SELECT s."_row", e.{k}'), Sql('SELECT k."_row"')
    for n, ind in enumerate(inds):
        w = when(window(ind), condition(ind))
        if ind.shape == "distinct_window":
            inner = inner + Sql(", MAX(CASE WHEN ") + w + Sql(f' THEN 1 ELSE 0 END) AS "c{n}"')
            outer = outer + Sql(f', SUM(k."c{n}") AS {q(ind.id)}')
        else:
            days_active = ("SUM(CASE WHEN ", " THEN 1 ELSE 0 END)") if DAY_GRAIN.get(table) == key \
                else ("COUNT(DISTINCT CASE WHEN ", f" THEN FLOOR({t}) END)")
            inner = inner + Sql(", " + days_active[0]) + w + Sql(days_active[1] + f' AS "c{n}"')
            outer = outer + Sql(f', SUM(CASE WHEN k."c{n}" >= ? THEN 1 ELSE 0 END) AS {q(ind.id)}',
                                (int(ind.params.get("min_days", 8)),))
    inner = inner + Sql(
        f' FROM "spine" s JOIN {q(table)} e ON e."account_id" = s."account_id" AND e.{k} IS NOT NULL'
        f' AND {t} < s."as_of_day"{bound} GROUP BY s."_row", e.{k}', () if days is None else (days,))
    return outer + Sql(" FROM (") + inner + Sql(') k GROUP BY k."_row"')


def query(ind) -> Sql:
    """Shapes that need their own query (ranking, per-user or per-week steps)."""
    t = f'e.{q("t_" + time_of(ind))}'
    table = q(ind.table)
    if ind.shape == "latest_value":  # the nth latest row in the entry's window and filter
        col, nth = q(ind.params["column"]), int(ind.params.get("nth", 1))
        return (Sql(
            f'SELECT r."_row", MAX(CASE WHEN r."rn" = ? THEN r."v" END) AS {q(ind.id)} FROM ('
            f'SELECT s."_row", CAST(e.{col} AS DOUBLE) AS "v", ROW_NUMBER() OVER ('
            f'PARTITION BY s."_row" ORDER BY {t} DESC, e.{col}) AS "rn" '
            f'FROM "spine" s JOIN {table} e ON e."account_id" = s."account_id" AND '
            f'{t} < s."as_of_day" AND ', (nth,))
            + when(window(ind), condition(ind)) + Sql(') r GROUP BY r."_row"'))
    raise ValueError(f"indicator {ind.id}: unknown query shape {ind.shape!r}")


def _bits(lo: str, hi: str, block: int) -> str:
    """Bitmask selecting days [lo, hi) of block ``"b"`` (bit k = day ``block * b + k``)."""
    a = f'GREATEST({lo} - {block} * "b", 0)'
    c = f'LEAST({hi} - {block} * "b", {block})'
    full = (1 << block) - 1
    return (f"(CASE WHEN {c} > {a} THEN ({full} >> CAST({block} - ({c} - {a}) AS INTEGER)) "
            f"<< CAST({a} AS INTEGER) ELSE 0 END)")


def block_query(inds, table: str, key: str, days: int, block: int) -> Sql:
    """Keyed shapes over active-day bitmasks (``table``: account, key, block ``b``, ``mask``).

    Per (spine row, key) the days active in each indicator's window are the bit counts of the
    blocks it overlaps; ``distinct_window`` counts keys with one or more, ``power_users`` keys
    with at least ``min_days``. The same values as :func:`keyed_query` over the day grain.
    Each distinct window's days in a block are one bitmask per (spine row, block), made before
    the join, so the join's rows only AND and count bits.
    """
    k = q(key)
    windows: dict[tuple[int, int], int] = {}  # (days back, offset) -> its mask "w{n}"
    outer = Sql('SELECT k."_row"')
    for ind in inds:
        off = int(ind.params.get("offset_days", 0))
        n = windows.setdefault((int(ind.window_days) + off, off), len(windows))
        least = 1 if ind.shape == "distinct_window" else int(ind.params.get("min_days", 8))
        outer = outer + Sql(f', SUM(CASE WHEN k."c{n}" >= ? THEN 1 ELSE 0 END) AS {q(ind.id)}',
                            (least,))
    day = '"as_of_day"'
    masks = "".join(f', {_bits(f"({day} - {back})", f"({day} - {off})", block)} AS "w{n}"'
                    for (back, off), n in windows.items())
    counts = "".join(f', SUM(BIT_COUNT(e."mask" & s."w{n}")) AS "c{n}"' for n in windows.values())
    # each spine row with the blocks its windows reach: an equality join, no range filter
    first = f'CAST(FLOOR(("as_of_day" - ?) / {block}) AS BIGINT)'
    last = f'CAST(FLOOR(("as_of_day" - 1) / {block}) AS BIGINT)'
    blocks = (f'(SELECT "_row", "account_id", "b"{masks} FROM (SELECT "_row", "account_id", '
              f'"as_of_day", UNNEST(RANGE({first}, {last} + 1)) AS "b" FROM "spine"))')
    inner = Sql(
        f'SELECT s."_row", e.{k}{counts} FROM {blocks} s JOIN {q(table)} e ON e."account_id" = '
        f's."account_id" AND e."b" = s."b" GROUP BY s."_row", e.{k}', (int(days),))
    return outer + Sql(" FROM (") + inner + Sql(') k GROUP BY k."_row"')
