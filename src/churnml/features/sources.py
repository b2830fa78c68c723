"""The tables the indicator SQL reads, registered in an in-process DuckDB connection.

Keys become integers before DuckDB sees them: ``account_id`` is the position of the account in
the spine's own list of accounts (rows of accounts outside the spine can never reach a feature and
are dropped), usage ``user_id`` a code of the usage table's users. Every time column gets a
``t_<column>`` twin in days since 1970-01-01, so the point-in-time rule is one numeric comparison.

Usage, the only large table, is reduced once per grain an indicator needs and never re-scanned:
``usage`` (account-day), ``usage_users`` (user-day), ``usage_events`` (event-day) and
``usage_user_events`` (user-event-day); each holds ``quantity`` summed over the day. Two derived
sources join contacts: NPS responses with the respondent's role, and the champions' own usage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.shapes import q
from churnml.sources.lazy import is_lazy

TIME_COLUMNS = {
    "accounts": ("created_at",),
    "contracts": ("start_date", "end_date"),
    "tickets": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "contacts": ("started_at", "ended_at"),
    "goals": ("created_at", "due_at", "achieved_at"),
}
EPOCH = np.datetime64("1970-01-01", "ns")
#: usage grains: the usage columns an indicator reads -> the relation that holds that grain
USAGE_GRAINS = {
    frozenset(): "usage",
    frozenset({"user_id"}): "usage_users",
    frozenset({"event"}): "usage_events",
    frozenset({"user_id", "event"}): "usage_user_events",
}


def _days(series: pd.Series) -> np.ndarray:
    """Fractional days since 1970-01-01 (NaN for missing)."""
    values = pd.to_datetime(series).to_numpy(dtype="datetime64[ns]")
    return (values - EPOCH) / np.timedelta64(1, "D")


def _whole_days(series: pd.Series) -> np.ndarray:
    """Whole days since 1970-01-01 (the day of the event), int32; one temporary array."""
    values = pd.to_datetime(series).to_numpy()
    per_day = np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(values.dtype)[0])
    return (values.view("int64") // per_day).astype("int32")


def account_codes(series: pd.Series, accounts: pd.Index) -> np.ndarray:
    """Position of each row's account in ``accounts`` (-1 when absent), vectorised."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        # the last entry answers code -1 (missing): one int32 array, no temporaries
        lookup = np.append(accounts.get_indexer(series.cat.categories.astype(str)), -1)
        return lookup.astype("int32")[series.cat.codes.to_numpy()]
    return accounts.get_indexer(series.astype("string")).astype("int32")


USAGE_DIMS = {relation: set(dims) for dims, relation in USAGE_GRAINS.items()}
#: shapes that read a usage column without naming it
SHAPE_DIMS = {"power_users": {"user_id"}}


def grain(ind) -> str:
    """The usage relation an indicator reads: the coarsest grain holding its columns."""
    cols = {ind.params.get("column")} | set(ind.params.get("where") or {}) | set(
        ind.params.get("share_where") or {}) | SHAPE_DIMS.get(ind.shape, set())
    return USAGE_GRAINS[frozenset(cols & {"user_id", "event"})]


def register(con, tables: dict, spine: pd.DataFrame, grains=("usage",)) -> dict[str, str]:
    """Register the spine and every present table; return {source: reason} for missing sources.

    ``grains`` names the usage relations to build (see :data:`USAGE_GRAINS`).
    """
    as_of = pd.to_datetime(spine["as_of"])
    midnight = as_of == as_of.dt.normalize()
    if not midnight.all():
        bad = spine.loc[~midnight, ["account_id", "as_of"]].head(3)
        raise ValueError(f"spine: as_of must be dates (midnight), but {int((~midnight).sum())} "
                         f"value(s) have a time of day; examples:\n{bad.to_string()}")
    accounts = pd.Index(pd.unique(spine["account_id"].astype("string")))
    con.register("spine_frame", pd.DataFrame({
        "_row": np.arange(len(spine), dtype="int32"),
        "account_id": accounts.get_indexer(spine["account_id"].astype("string")).astype("int32"),
        "as_of_day": _whole_days(as_of),
    }))
    con.execute('CREATE TEMP TABLE "spine" AS SELECT * FROM spine_frame')
    con.unregister("spine_frame")
    missing = {}
    for name, cols in TIME_COLUMNS.items():
        frame = tables.get(name)
        if frame is None:
            missing[name] = f"no {name} table"
            continue
        extra = {f"t_{c}": _days(frame[c]) for c in cols if c in frame}
        if "account_id" in frame:
            extra["account_id"] = account_codes(frame["account_id"], accounts)
        view = frame.assign(**extra)
        if "account_id" in frame:
            view = view[view["account_id"] >= 0]
        con.register(f"{name}_frame", view)
        con.execute(f"CREATE TEMP TABLE {q(name)} AS SELECT * FROM {q(name + '_frame')}")
        con.unregister(f"{name}_frame")
    usage = tables.get("usage")
    users = None
    if usage is None:
        for relation in USAGE_GRAINS.values():
            missing[relation] = "no usage table"
    elif is_lazy(usage):
        users = _register_lazy_usage(con, usage, accounts, grains)
    else:
        users = _register_usage(con, usage, accounts, grains)
    if "nps" not in missing:
        contacts = tables.get("contacts")
        # the respondent's role, when the tables can tell it (else NULL; indicators reading it
        # are skipped, see churnml.features.requirements)
        known = contacts is not None and "role" in contacts and "contact_id" in tables["nps"]
        role = 'c."role"' if known else "CAST(NULL AS VARCHAR)"
        join = ('LEFT JOIN "contacts" c ON c."contact_id" = n."contact_id"'
                if role != "CAST(NULL AS VARCHAR)" else "")
        con.execute(f'CREATE TEMP VIEW "nps_with_role" AS SELECT n.*, {role} AS "role" FROM "nps" n {join}')
    else:
        missing["nps_with_role"] = "no nps table"
    contacts = tables.get("contacts")
    if (users is None or contacts is None or not {"user_id", "role"} <= set(contacts.columns)
            or "usage_users" not in grains):
        missing["champion_usage"] = "needs usage with user_id and contacts with user_id and role"
    else:
        _register_champion_usage(con, contacts, users)
    return missing


def _null_mask(codes: np.ndarray) -> np.ndarray | None:
    """Arrow validity mask of categorical codes (-1 = missing), or None when nothing is missing."""
    mask = codes < 0
    return mask if mask.any() else None


def _register_usage(con, usage: pd.DataFrame, accounts: pd.Index, grains) -> pd.Index | None:
    """Reduce usage to the grains the catalog needs, in one pass each over integer columns."""
    account = account_codes(usage["account_id"], accounts)
    keep = account >= 0
    if keep.all():  # the usual case: no filtered copies
        keep = slice(None)
    cols = {"account_id": account[keep], "t_ts": _whole_days(usage["ts"])[keep]}
    del account
    users = None
    if "user_id" in usage:
        user = usage["user_id"]
        if not isinstance(user.dtype, pd.CategoricalDtype):
            user = user.astype("string").astype("category")
        users = pd.Index(user.cat.categories.astype(str))
        codes = user.cat.codes.to_numpy()[keep].astype("int32")
        cols["user_id"] = (codes, _null_mask(codes))
    if "event" in usage:
        event = usage["event"]
        if not isinstance(event.dtype, pd.CategoricalDtype):
            event = event.astype("string").astype("category")
        # integer codes: DuckDB groups numbers far faster than strings or enums; the narrowest
        # integer that holds them (a product has tens of features, not millions)
        width = "int16" if len(event.cat.categories) < np.iinfo("int16").max else "int32"
        codes = event.cat.codes.to_numpy()[keep].astype(width)
        cols["event"] = (codes, _null_mask(codes))
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
    import pyarrow as pa

    # an Arrow table over the numpy buffers: no copy into pandas blocks before DuckDB reads it
    frame = pa.table({k: pa.array(v[0], mask=v[1]) if isinstance(v, tuple) else pa.array(v)
                      for k, v in cols.items()})
    del cols
    con.register("usage_frame", frame)
    _reduce_usage(con, "usage_frame", frame.column_names, grains)
    con.unregister("usage_frame")
    return users


def _register_lazy_usage(con, usage, accounts: pd.Index, grains) -> pd.Index | None:
    """Reduce a lazy usage table in SQL on its own connection: the same integer relations as
    :func:`_register_usage`, without a pandas copy of the rows."""
    con.register("usage_accounts", pd.DataFrame({
        "name": pd.Series(accounts, dtype="string").astype(object),
        "code": np.arange(len(accounts), dtype="int32")}))
    cols = ['a."code" AS "account_id"',
            "CAST(CAST(u.\"ts\" AS DATE) - DATE '1970-01-01' AS INTEGER) AS \"t_ts\""]
    joins = []
    users = None
    for column in ("user_id", "event"):
        if column not in usage.columns:
            continue
        codes, alias = q(f"usage_{column}_codes"), q(f"{column}_code")
        con.execute(f'CREATE TEMP TABLE {codes} AS SELECT "name", CAST(ROW_NUMBER() OVER '
                    f'(ORDER BY "name") - 1 AS INTEGER) AS "code" FROM (SELECT DISTINCT '
                    f'{q(column)} AS "name" FROM ({usage.select}) WHERE {q(column)} IS NOT NULL)')
        joins.append(f'LEFT JOIN {codes} {alias} ON {alias}."name" = u.{q(column)}')
        cols.append(f'{alias}."code" AS {q(column)}')
        if column == "user_id":
            users = pd.Index(con.execute(f'SELECT "name" FROM {codes} ORDER BY "code"')
                             .df()["name"].astype(str))
    quantity = ('CAST(COALESCE(u."quantity", 1.0) AS FLOAT)' if "quantity" in usage.columns
                else "CAST(1.0 AS FLOAT)")
    cols.append(f'{quantity} AS "quantity"')
    con.execute(f'CREATE TEMP TABLE "usage_frame" AS SELECT {", ".join(cols)} FROM '
                f'({usage.select}) u JOIN "usage_accounts" a ON a."name" = u."account_id" '
                f'{" ".join(joins)} WHERE u."ts" IS NOT NULL')
    con.unregister("usage_accounts")
    _reduce_usage(con, "usage_frame", [c for c in ("user_id", "event") if c in usage.columns],
                  grains)
    for name in ("usage_frame", "usage_user_id_codes", "usage_event_codes"):
        con.execute(f"DROP TABLE IF EXISTS {q(name)}")
    return users


def _reduce_usage(con, frame: str, present, grains) -> None:
    """The usage grains the catalog needs, finest first, each from the smallest finer one."""
    built = []
    for relation in sorted(set(grains), key=lambda r: -len(USAGE_DIMS[r])):
        dims = USAGE_DIMS[relation]
        if any(d not in present for d in dims):
            continue
        source = next((b for b in reversed(built) if dims <= USAGE_DIMS[b]), frame)
        keys = ", ".join(['"account_id"', *(q(d) for d in sorted(dims)), '"t_ts"'])
        con.execute(f'CREATE TEMP TABLE {q(relation)} AS SELECT {keys}, CAST(SUM("quantity") AS '
                    f'DOUBLE) AS "quantity" FROM {q(source)} GROUP BY {keys}')
        built.append(relation)


def _register_champion_usage(con, contacts: pd.DataFrame, users: pd.Index) -> None:
    """User-day usage of users who are champions, with the day they became one."""
    champions = contacts[contacts["role"].astype("string").eq("champion").fillna(False)
                         & contacts["user_id"].notna()]
    code = users.get_indexer(champions["user_id"].astype("string"))
    started = (_days(champions["started_at"]) if "started_at" in champions
               else np.full(len(champions), np.nan))
    con.register("champion_frame", pd.DataFrame({"user_id": code, "t_known_from": started})[code >= 0])
    con.execute('CREATE TEMP TABLE "champion_users" AS SELECT "user_id", MIN("t_known_from") AS '
                '"t_known_from" FROM "champion_frame" GROUP BY "user_id"')
    con.unregister("champion_frame")
    # usage counts as a champion's only from the day the user became champion (t_known_from)
    con.execute(
        'CREATE TEMP VIEW "champion_usage" AS SELECT u.*, c."t_known_from" FROM "usage_users" u '
        'JOIN "champion_users" c ON c."user_id" = u."user_id"'
    )
