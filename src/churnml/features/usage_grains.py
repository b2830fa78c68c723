"""Usage, the one large table, reduced once to the grains the catalog reads.

Usage becomes ``usage_frame``: integer account and user/event codes, the day (days since
1970-01-01) and a float quantity — from a pandas frame through Arrow without a copy, or from a
:class:`~churnml.sources.lazy.LazyTable` in SQL on its own connection (no pandas at all). From it:

- ``usage`` (account-day), ``usage_users`` (user-day), ``usage_events`` (event-day),
  ``usage_user_events``: ``quantity`` summed per day, for the window sums, slopes and "days since";
- ``usage_user_blocks`` / ``usage_event_blocks``: per (account, user or event, block of
  :data:`BLOCK_DAYS` days) one bit per active day. Distinct users / features and power users in a
  window are then bit counts over two or three blocks per key (:func:`block_grain`,
  :func:`churnml.features.shapes.block_query`): a hash table of (key, block) cells instead of
  one of every user-day, which is what made the user indicators the slowest of the catalog.
  When the catalog reads user-days only for its champions, ``usage_users`` holds only theirs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.shapes import EVENT_CODES, q

#: usage grains: the usage columns an indicator reads -> the relation that holds that grain
USAGE_GRAINS = {
    frozenset(): "usage",
    frozenset({"user_id"}): "usage_users",
    frozenset({"event"}): "usage_events",
    frozenset({"user_id", "event"}): "usage_user_events",
}
USAGE_DIMS = {relation: set(dims) for dims, relation in USAGE_GRAINS.items()}
#: shapes that read a usage column without naming it
SHAPE_DIMS = {"power_users": {"user_id"}}
#: days per block of the active-day bitmasks (63: the bits of a positive BIGINT)
BLOCK_DAYS = 63
#: day-grain relation -> its block relation (same key)
BLOCKS = {"usage_users": "usage_user_blocks", "usage_events": "usage_event_blocks"}
BLOCK_KEY = {"usage_user_blocks": "user_id", "usage_event_blocks": "event"}
#: shapes that count usage rows: the day grains then carry ``rows``, the rows each day sums
ROW_SHAPES = {"count_window", "mean_window", "share_window"}
#: the pseudo-grain asking the day grains for ``rows`` (see :func:`register_usage`)
ROWS = "usage_rows"


def grain(ind) -> str:
    """The usage relation an indicator reads: the coarsest grain holding its columns."""
    cols = {ind.params.get("column")} | set(ind.params.get("where") or {}) | set(
        ind.params.get("share_where") or {}) | SHAPE_DIMS.get(ind.shape, set())
    return USAGE_GRAINS[frozenset(cols & {"user_id", "event"})]


def block_grain(ind) -> str | None:
    """The block relation a keyed usage indicator reads (distinct users / features, power
    users), or None when it needs the day grain (a ``where`` filter, another key)."""
    from churnml.features import shapes

    if (ind.table != "usage" or ind.shape not in shapes.KEYED_SHAPES
            or ind.params.get("where") or ind.params.get("share_where")):
        return None
    relation = BLOCKS.get(grain(ind))
    return relation if relation and BLOCK_KEY[relation] == shapes.key_of(ind) else None


def register_usage(con, usage, accounts: pd.Index, grains, *, champions=None, days=None):
    """Build ``usage_frame``, reduce it to ``grains``, drop it; return whether usage has users.
    ``champions(users)``: the champions' user codes (positions in ``users``) and the day they
    became one, registered as ``champion_users``; ``champions(None)``: their user ids as text
    (a lazy table keys users by a hash of the id, :func:`_lazy_frame`).

    ``grains`` may map each relation to the longest look-back of its readers, and ``days`` be
    the spine's first and last ``as_of`` day: a relation then keeps only the days some window
    can read, ``[first - look-back, last)``. With :data:`ROWS` among them the day grains also
    count the usage rows each of their rows sums (``rows``), for :data:`ROW_SHAPES`."""
    from churnml.sources.lazy import is_lazy

    lookbacks = dict(grains) if isinstance(grains, dict) else dict.fromkeys(grains)
    counted = ROWS in lookbacks
    lookbacks.pop(ROWS, None)
    ranges = {g: _day_range(days_back, days) for g, days_back in lookbacks.items()}
    if champions is not None and "champion_users" in ranges:  # they read user-days
        ranges["usage_users_champions"] = ranges["champion_users"]
        if "usage_users" in ranges:
            ranges["usage_users"] = _widest(ranges["usage_users"], ranges["champion_users"])
    spans = list(ranges.values())
    whole = None if not spans or any(s is None for s in spans) else (
        min(s[0] for s in spans), max(s[1] for s in spans))
    lazy = is_lazy(usage)
    if lazy:
        users, present = _lazy_frame(con, usage, accounts, whole)
    else:
        users, present = _pandas_frame(con, usage, accounts)
    only_champions = None
    try:
        if champions is not None and "user_id" in present:
            con.register("champion_frame", champions(None if lazy else users))
            key = _USER_HASH.format(column="user_id") if lazy else '"user_id"'
            con.execute(f'CREATE TEMP TABLE "champion_users" AS SELECT {key} AS "user_id", '
                        'MIN("t_known_from") AS "t_known_from" FROM "champion_frame" '
                        'GROUP BY 1')
            con.unregister("champion_frame")
            if "usage_users" not in lookbacks:
                only_champions = '"user_id" IN (SELECT "user_id" FROM "champion_users")'
        _reduce(con, present, set(lookbacks) | ({"usage_users"} if champions else set()),
                only_champions, ranges, counted=counted)
    finally:
        if lazy:
            con.execute('DROP TABLE IF EXISTS "usage_frame"')
        else:
            con.unregister("usage_frame")
    return "user_id" in present


def _widest(a, b):
    return None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))


def _day_grains_needed(grains) -> set:
    """Day grains asked for by indicators (the champions' user-days are added separately)."""
    return {g for g in grains if g in USAGE_DIMS}


def _day_range(lookback, days) -> tuple[int, int] | None:
    """The days ``[lo, hi)`` a reader with ``lookback`` can see, or None (all)."""
    if lookback is None or days is None:
        return None
    first, last = days
    return int(first) - int(lookback), int(last)


def _condition(span) -> str | None:
    return None if span is None else f'"t_ts" >= {span[0]} AND "t_ts" < {span[1]}'


def _reduce(con, present, grains, only_champions, ranges=None, *, counted=False) -> None:
    """Day grains finest first (each from the smallest finer one), then the block grains;
    each keeps only the days its readers see (``ranges``: relation -> ``(lo, hi)`` or None);
    ``counted``: the day grains count their usage rows (``rows``)."""
    ranges = ranges or {}
    built = []
    for relation in sorted(_day_grains_needed(grains), key=lambda r: -len(USAGE_DIMS[r])):
        dims = USAGE_DIMS[relation]
        if any(d not in present for d in dims):
            continue
        champions_only = relation == "usage_users" and only_champions
        span = ranges.get("usage_users_champions" if champions_only else relation)
        # a coarser grain is summed from a finer one only when that one kept every day it needs
        source = next((b for b in reversed(built) if dims <= USAGE_DIMS[b]
                       and _covers(ranges.get(b), span)), "usage_frame")
        keys = ", ".join(['"account_id"', *(q(d) for d in sorted(dims)), '"t_ts"'])
        conds = [c for c in (only_champions if champions_only else None, _condition(span)) if c]
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        rows = ""
        if counted:
            rows = (', COUNT(*) AS "rows"' if source == "usage_frame" else
                    ', CAST(SUM("rows") AS BIGINT) AS "rows"')
        con.execute(f'CREATE TEMP TABLE {q(relation)} AS SELECT {keys}, CAST(SUM("quantity") AS '
                    f'DOUBLE) AS "quantity"{rows} FROM {q(source)}{where} GROUP BY {keys}')
        if not champions_only:  # the champions' user-days cannot be summed into coarser grains
            built.append(relation)
    for relation, key in BLOCK_KEY.items():
        if relation not in grains or key not in present:
            continue
        block = f'CAST(FLOOR("t_ts" / {BLOCK_DAYS}) AS INTEGER)'
        bit = f'CAST("t_ts" - {BLOCK_DAYS} * FLOOR("t_ts" / {BLOCK_DAYS}) AS INTEGER)'
        span = f" AND {_condition(ranges[relation])}" if ranges.get(relation) else ""
        con.execute(f'CREATE TEMP TABLE {q(relation)} AS SELECT "account_id", {q(key)}, {block} '
                    f'AS "b", BIT_OR(CAST(1 AS BIGINT) << {bit}) AS "mask" FROM "usage_frame" '
                    f'WHERE {q(key)} IS NOT NULL{span} GROUP BY ALL')


def _ts_range(span) -> str:
    """`` AND`` condition on a lazy table's ``ts`` for the days ``[lo, hi)``."""
    if span is None:
        return ""
    lo, hi = (np.datetime64(int(d), "D") for d in span)
    return f""" AND u."ts" >= TIMESTAMP '{lo}' AND u."ts" < TIMESTAMP '{hi}'"""


def _covers(outer, inner) -> bool:
    """Whether a relation kept over days ``outer`` holds every day of ``inner`` (None: all)."""
    if outer is None:
        return True
    return inner is not None and outer[0] <= inner[0] and outer[1] >= inner[1]


def _null_mask(codes: np.ndarray) -> np.ndarray | None:
    """Arrow validity mask of categorical codes (-1 = missing), or None when nothing is missing."""
    mask = codes < 0
    return mask if mask.any() else None


def _categories(values: pd.Series):
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("string").astype("category")
    return values


def _pandas_frame(con, usage: pd.DataFrame, accounts: pd.Index):
    """``usage_frame`` from a pandas usage table: Arrow over numpy buffers, no pandas copy."""
    import pyarrow as pa

    from churnml.features.sources import _whole_days, account_codes

    account = account_codes(usage["account_id"], accounts)
    keep = account >= 0
    if keep.all():  # the usual case: no filtered copies
        keep = slice(None)
    cols = {"account_id": account[keep], "t_ts": _whole_days(usage["ts"])[keep]}
    del account
    users = None
    if "user_id" in usage:
        user = _categories(usage["user_id"])
        users = pd.Index(user.cat.categories.astype(str))
        codes = user.cat.codes.to_numpy()[keep].astype("int32")
        cols["user_id"] = (codes, _null_mask(codes))
    if "event" in usage:
        event = _categories(usage["event"])
        # integer codes: DuckDB groups numbers far faster than strings or enums
        width = "int16" if len(event.cat.categories) < np.iinfo("int16").max else "int32"
        codes = event.cat.codes.to_numpy()[keep].astype(width)
        cols["event"] = (codes, _null_mask(codes))
        _register_event_codes(con, event.cat.categories)
    if "quantity" in usage:
        quantity = usage["quantity"].to_numpy(dtype="float32", na_value=np.nan)[keep]
        missing = np.isnan(quantity)
        if missing.any():  # a row without a quantity counts once; otherwise no copy at all
            quantity = np.where(missing, np.float32(1.0), quantity)
        del missing
    else:
        quantity = np.ones(len(cols["t_ts"]), dtype="float32")
    cols["quantity"] = quantity
    del quantity
    frame = pa.table({k: pa.array(v[0], mask=v[1]) if isinstance(v, tuple) else pa.array(v)
                      for k, v in cols.items()})
    del cols
    con.register("usage_frame", frame)
    return users, frame.column_names


def _register_event_codes(con, names: pd.Index) -> None:
    """The events' names and codes as :data:`~churnml.features.shapes.EVENT_CODES` (filters on
    usage's event match names through it)."""
    con.register("usage_event_names", pd.DataFrame({
        "name": pd.Series(names.astype(str), dtype=object),
        "code": np.arange(len(names), dtype="int32")}))
    con.execute(f'CREATE OR REPLACE TEMP TABLE {q(EVENT_CODES)} AS SELECT * FROM "usage_event_names"')
    con.unregister("usage_event_names")


#: a lazy table's user key: a 64-bit hash of the id (no dictionary of every user to build and
#: probe; two ids of one account share a hash with odds of about 1e-17)
_USER_HASH = "CASE WHEN {column} IS NOT NULL THEN HASH(CAST({column} AS VARCHAR)) END"


def _lazy_frame(con, usage, accounts: pd.Index, span=None):
    """``usage_frame`` from a lazy usage table, in SQL on its connection (only the days in
    ``span`` when given: no reader sees the others)."""
    con.register("usage_accounts", pd.DataFrame({
        "name": pd.Series(accounts, dtype="string").astype(object),
        "code": np.arange(len(accounts), dtype="int32")}))
    cols = ['a."code" AS "account_id"',
            "CAST(CAST(u.\"ts\" AS DATE) - DATE '1970-01-01' AS INTEGER) AS \"t_ts\""]
    joins = []
    if "user_id" in usage.columns:
        cols.append(f'{_USER_HASH.format(column="u.user_id")} AS "user_id"')
    if "event" in usage.columns:  # a handful of features: a small dictionary, kept for filters
        con.execute(f'CREATE OR REPLACE TEMP TABLE {q(EVENT_CODES)} AS SELECT "name", '
                    'CAST(ROW_NUMBER() OVER (ORDER BY "name") - 1 AS INTEGER) AS "code" FROM '
                    f'(SELECT DISTINCT "event" AS "name" FROM ({usage.select}) WHERE "event" IS '
                    'NOT NULL)')
        joins.append(f'LEFT JOIN {q(EVENT_CODES)} "event_code" ON "event_code"."name" = u."event"')
        cols.append('"event_code"."code" AS "event"')
    quantity = ('CAST(COALESCE(u."quantity", 1.0) AS FLOAT)' if "quantity" in usage.columns
                else "CAST(1.0 AS FLOAT)")
    cols.append(f'{quantity} AS "quantity"')
    try:
        con.execute(f'CREATE TEMP TABLE "usage_frame" AS SELECT {", ".join(cols)} FROM '
                    f'({usage.select}) u JOIN "usage_accounts" a ON a."name" = u."account_id" '
                    f'{" ".join(joins)} WHERE u."ts" IS NOT NULL{_ts_range(span)}')
    finally:
        con.unregister("usage_accounts")
    present = ["account_id", "t_ts", *(c for c in ("user_id", "event") if c in usage.columns)]
    return None, present
