"""The tables the indicator SQL reads, registered in an in-process DuckDB connection.

Keys become integers before DuckDB sees them: ``account_id`` is the position of the account in
the spine's own list of accounts (rows of accounts outside the spine can never reach a feature and
are dropped), usage ``user_id`` a code of the usage table's users (a hash of the id when usage
is a lazy table). Every time column gets a ``t_<column>`` twin in days since 1970-01-01, so the
point-in-time rule is one numeric comparison.

Usage, the only large table, is reduced once to the grains the catalog needs and never re-scanned
(:mod:`churnml.features.usage_grains`: account-day sums, per-block active-day bitmasks of users
and features, the champions' user-days), in SQL when it is a lazy table. Two derived sources join
contacts: NPS responses with the respondent's role, and the champions' own usage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.features.shapes import q
from churnml.features.usage_grains import (  # noqa: F401 - re-exported: the usage grains
    SHAPE_DIMS,
    USAGE_DIMS,
    USAGE_GRAINS,
    grain,
    register_usage,
)

TIME_COLUMNS = {
    "accounts": ("created_at",),
    "contracts": ("start_date", "end_date"),
    "tickets": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "contacts": ("started_at", "ended_at"),
    "goals": ("created_at", "due_at", "achieved_at"),
}
EPOCH = np.datetime64("1970-01-01", "ns")
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


def register(con, tables: dict, spine: pd.DataFrame, grains=("usage",)) -> dict[str, str]:
    """Register the spine and every present table; return {source: reason} for missing sources.

    ``grains`` names the usage relations to build (:mod:`churnml.features.usage_grains`), and
    ``champion_users`` when the champions' own usage is read.
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
    has_users = False
    contacts = tables.get("contacts")
    champions = (usage is not None and contacts is not None and "user_id" in usage.columns
                 and {"user_id", "role"} <= set(contacts.columns) and "champion_users" in grains)
    if usage is None:
        for relation in USAGE_GRAINS.values():
            missing[relation] = "no usage table"
    else:
        days = spine_frame_days(con)
        has_users = register_usage(con, usage, accounts, grains, days=days,
                               champions=_champion_codes(contacts) if champions else None)
    if "nps" not in missing:
        contacts = tables.get("contacts")
        # the respondent's role, when the tables can tell it (else NULL; indicators reading it
        # are skipped, see churnml.features.requirements), from every contact: one that reached
        # no account still says who answered an account's survey
        known = (contacts is not None and {"contact_id", "role"} <= set(contacts)
                 and "contact_id" in tables["nps"])
        role = 'c."role"' if known else "CAST(NULL AS VARCHAR)"
        join = ""
        if known:  # one role per contact: a row with an account first (then by value)
            account = (contacts["account_id"] if "account_id" in contacts
                       else pd.Series(pd.NA, index=contacts.index))
            con.register("contact_roles_frame", pd.DataFrame({
                "contact_id": contacts["contact_id"], "role": contacts["role"],
                "account": account.astype("string")}))
            con.execute('CREATE TEMP TABLE "contact_roles" AS SELECT "contact_id", "role" FROM '
                        '"contact_roles_frame" QUALIFY ROW_NUMBER() OVER (PARTITION BY '
                        '"contact_id" ORDER BY "account" IS NULL, "account", "role") = 1')
            con.unregister("contact_roles_frame")
            join = 'LEFT JOIN "contact_roles" c ON c."contact_id" = n."contact_id"'
        con.execute(f'CREATE TEMP VIEW "nps_with_role" AS SELECT n.*, {role} AS "role" FROM "nps" n {join}')
    else:
        missing["nps_with_role"] = "no nps table"
    if not has_users or not champions:
        missing["champion_usage"] = "needs usage with user_id and contacts with user_id and role"
    else:
        # usage counts as a champion's only from the day the user became champion (t_known_from)
        con.execute(
            'CREATE TEMP VIEW "champion_usage" AS SELECT u.*, c."t_known_from" FROM "usage_users" u '
            'JOIN "champion_users" c ON c."user_id" = u."user_id"'
        )
    return missing


def spine_frame_days(con) -> tuple[int, int] | None:
    """The spine's first and last ``as_of`` day (None for an empty spine)."""
    first, last = con.execute('SELECT MIN("as_of_day"), MAX("as_of_day") FROM "spine"').fetchall()[0]
    return None if first is None else (int(first), int(last))


def _champion_codes(contacts: pd.DataFrame):
    """``champion_codes(users)``: the champions' (user code, day they became champion), given
    the usage table's users (see :func:`churnml.features.usage_grains.register_usage`)."""
    champions = contacts[contacts["role"].astype("string").eq("champion").fillna(False)
                         & contacts["user_id"].notna()]

    def codes(users: pd.Index | None) -> pd.DataFrame:
        """``users=None``: the ids as text (a lazy usage table hashes them)."""
        started = (_days(champions["started_at"]) if "started_at" in champions
                   else np.full(len(champions), np.nan))
        if users is None:
            return pd.DataFrame({"user_id": champions["user_id"].astype(str).to_numpy(
                dtype=object), "t_known_from": started})
        code = users.get_indexer(champions["user_id"].astype("string"))
        return pd.DataFrame({"user_id": code, "t_known_from": started})[code >= 0]

    return codes
