"""The tables the indicator SQL reads, registered in an in-process DuckDB connection.

Every time column gets a ``t_<column>`` twin in days since 1970-01-01, so the point-in-time
rule is a numeric comparison. Usage is pre-aggregated once to user-day rows (the only large table);
two derived sources join contacts: NPS responses with the respondent's role, and the champions'
own usage.
"""

from __future__ import annotations

import pandas as pd

from churnml.features.shapes import q

TIME_COLUMNS = {
    "accounts": ("created_at",),
    "contracts": ("start_date", "end_date"),
    "tickets": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "contacts": ("started_at", "ended_at"),
    "goals": ("created_at", "due_at", "achieved_at"),
}
EPOCH = pd.Timestamp("1970-01-01")


def _days(series: pd.Series) -> pd.Series:
    return (pd.to_datetime(series) - EPOCH) / pd.Timedelta(days=1)


def register(con, tables: dict, spine: pd.DataFrame) -> dict[str, str]:
    """Register the spine and every present table; return {source: reason} for missing sources."""
    as_of = pd.to_datetime(spine["as_of"])
    if (as_of != as_of.dt.normalize()).any():
        bad = spine.loc[as_of != as_of.dt.normalize(), ["account_id", "as_of"]].head(3)
        raise ValueError(f"spine: as_of must be dates (midnight); examples:\n{bad.to_string()}")
    con.register("spine_frame", pd.DataFrame({
        "_row": range(len(spine)),
        "account_id": spine["account_id"].astype(str).to_numpy(),
        "as_of_day": _days(as_of).round().astype("int64").to_numpy(),
    }))
    con.execute('CREATE TEMP TABLE "spine" AS SELECT * FROM spine_frame')
    missing = {}
    for name, cols in TIME_COLUMNS.items():
        frame = tables.get(name)
        if frame is None:
            missing[name] = f"no {name} table"
            continue
        extra = {f"t_{c}": _days(frame[c]) for c in cols if c in frame}
        view = frame.assign(account_id=frame["account_id"].astype("string"), **extra) if (
            "account_id" in frame) else frame.assign(**extra)
        con.register(f"{name}_frame", view)
        con.execute(f"CREATE TEMP TABLE {q(name)} AS SELECT * FROM {q(name + '_frame')}")
    usage = tables.get("usage")
    if usage is None:
        missing["usage"] = "no usage table"
    else:
        _register_usage(con, usage)
    if "nps" not in missing:
        role = ('c."role"' if tables.get("contacts") is not None and "contact_id" in tables["nps"]
                else "CAST(NULL AS VARCHAR)")
        join = ('LEFT JOIN "contacts" c ON c."contact_id" = n."contact_id"'
                if role != "CAST(NULL AS VARCHAR)" else "")
        con.execute(f'CREATE TEMP VIEW "nps_with_role" AS SELECT n.*, {role} AS "role" FROM "nps" n {join}')
    else:
        missing["nps_with_role"] = "no nps table"
    contacts = tables.get("contacts")
    if usage is None or contacts is None or "user_id" not in contacts or "user_id" not in usage:
        missing["champion_usage"] = "needs usage and contacts with user_id"
    else:
        con.execute(
            'CREATE TEMP VIEW "champion_usage" AS SELECT u.* FROM "usage" u WHERE u."user_id" IN '
            "(SELECT CAST(c.\"user_id\" AS VARCHAR) FROM \"contacts\" c WHERE c.\"role\" = 'champion')"
        )
    return missing


def _register_usage(con, usage: pd.DataFrame) -> None:
    """User-day aggregate of usage: one scan of the largest table, reused by every indicator."""
    con.register("usage_frame", usage)
    user = 'CAST("user_id" AS VARCHAR)' if "user_id" in usage else "CAST(NULL AS VARCHAR)"
    event = 'CAST("event" AS VARCHAR)' if "event" in usage else "CAST(NULL AS VARCHAR)"
    quantity = 'COALESCE(CAST("quantity" AS DOUBLE), 1.0)' if "quantity" in usage else "1.0"
    con.execute(
        f'CREATE TEMP TABLE "usage" AS SELECT CAST("account_id" AS VARCHAR) AS "account_id", '
        f'{user} AS "user_id", {event} AS "event", '
        f'FLOOR(epoch("ts") / 86400.0) AS "t_ts", SUM({quantity}) AS "quantity" '
        f'FROM "usage_frame" GROUP BY ALL'
    )
