"""The synthetic world's product usage as Segment warehouse tables.

Each usage row of the world (a user's count of one feature on one day) becomes that many track
calls at random times of the day, with Segment's event naming (``Dashboard Viewed`` in
``event_text``, ``dashboard_viewed`` in ``event``), plus a few anonymous calls (no user). Group calls tie
each user to their account's workspace (``group_id``) with the CRM's account id as a trait; each
user's group call is sent again later, and a few users have an older call to a trial workspace.
The ``users`` table holds each user's email (a contact's own address when the user is one).

Track calls are many (one per event), so :func:`track_chunks` yields them in chunks for writers
that stream them to a file or a database.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.vendors.ids import digits

__all__ = ["EVENTS", "segment_tables", "track_chunks"]

EVENTS = {"dashboard": "Dashboard Viewed", "reports": "Report Generated",
          "search": "Search Performed", "alerts": "Alert Created",
          "integrations": "Integration Synced", "automation": "Automation Run",
          "api": "API Call Made", "admin_console": "Admin Console Opened"}
ANONYMOUS_SHARE = 0.005
CHUNK_ROWS = 250_000  # usage rows per chunk (about 1.8 million track calls)
_SECOND = np.timedelta64(1, "s")


def segment_tables(native: dict, ids, rng: np.random.Generator, seed: int = 0,
                   tracks: bool = True) -> dict:
    """``groups``, ``users`` and (with ``tracks``) every chunk of ``tracks`` of the world's usage."""
    out = {"groups": _groups(native, ids, rng), "users": _users(native, ids)}
    if tracks:
        out["tracks"] = pd.concat(list(track_chunks(native["usage"], ids, seed)),
                                  ignore_index=True)
    return out


def track_chunks(usage: pd.DataFrame, ids, seed: int = 0, rows: int = CHUNK_ROWS):
    """Track calls of ``usage``, ``rows`` usage rows at a time (see the module).

    Yields
    ------
    DataFrame
        id, anonymous_id, user_id, event, event_text, timestamp, original_timestamp, sent_at,
        received_at, context_library_name.
    """
    names = pd.Series(EVENTS)
    slugs = names.str.lower().str.replace(" ", "_")
    for number, begin in enumerate(range(0, max(len(usage), 1), rows)):
        part = usage.iloc[begin:begin + rows]
        rng = np.random.default_rng([seed, 47, number])
        count = np.maximum(np.rint(part["quantity"].to_numpy(dtype="float64")), 1).astype(np.int64)
        row = np.repeat(np.arange(len(part)), count)
        extra = np.flatnonzero(rng.random(len(row)) < ANONYMOUS_SHARE)  # anonymous copies
        anonymous = np.r_[np.zeros(len(row), bool), np.ones(len(extra), bool)]
        row = np.r_[row, row[extra]]
        event = part["event"].astype("str").to_numpy()[row]
        day = part["ts"].to_numpy(dtype="datetime64[ns]")[row]
        stamp = day + rng.integers(0, 86_400, len(row)) * _SECOND
        user = part["user_id"].astype("str").map(ids.segment_user).to_numpy()[row]
        serial = (begin * 16 + np.arange(len(row), dtype=np.int64)) * 2_654_435_761 % 16**15
        frame = pd.DataFrame({
            "id": np.char.add("ajs-", digits(serial, 16, 15)),
            "anonymous_id": np.where(anonymous, np.char.add("anon-", digits(serial, 16, 12)),
                                     None),
            "user_id": pd.Categorical(np.where(anonymous, None, user)),
            "event": pd.Categorical(pd.Series(event).map(slugs)),
            "event_text": pd.Categorical(pd.Series(event).map(names)),
            "timestamp": pd.DatetimeIndex(stamp).tz_localize("UTC"),
        })
        sent = frame["timestamp"] + pd.to_timedelta(rng.integers(0, 900, len(row)), unit="ms")
        yield frame.assign(original_timestamp=frame["timestamp"], sent_at=sent,
                           received_at=sent + pd.Timedelta(seconds=1),
                           context_library_name="analytics.js")


def _groups(native, ids, rng) -> pd.DataFrame:
    usage = native["usage"]
    span = usage.groupby(usage["user_id"].astype("str"), observed=True).agg(
        account_id=("account_id", "first"), first=("ts", "min"), last=("ts", "max"))
    account = span["account_id"].astype("str")
    accounts = native["accounts"].set_index(native["accounts"]["account_id"].astype("str"))
    base = pd.DataFrame({
        "user_id": span.index.map(ids.segment_user).to_numpy(),
        "group_id": account.map(ids.segment_group).to_numpy(),
        "name": account.map(accounts["name"]).to_numpy(),
        "plan": account.map(accounts["segment"].astype("str")).to_numpy(),
        ids.crm_key: account.map(ids.account).to_numpy(),
    })
    first = span["first"].to_numpy() - np.timedelta64(1, "h")
    again = first + (span["last"].to_numpy() - first) / 2
    trial = rng.random(len(base)) < 0.03
    decoy = base[trial].assign(group_id=np.char.add("ws_trial", digits(np.arange(trial.sum()),
                                                                       10, 6)),
                               **{ids.crm_key: None})
    calls = pd.concat([base.assign(timestamp=first), base.assign(timestamp=again),
                       decoy.assign(timestamp=first[trial] - np.timedelta64(30, "D"))],
                      ignore_index=True)
    calls["timestamp"] = pd.to_datetime(calls["timestamp"]).dt.tz_localize("UTC")
    return calls.assign(id=np.char.add("ajs-g", digits(np.arange(len(calls)), 16, 12)),
                        received_at=calls["timestamp"] + pd.Timedelta(seconds=2))


def _users(native, ids) -> pd.DataFrame:
    contacts = native["contacts"].dropna(subset=["user_id"])
    email = contacts.groupby(contacts["user_id"].astype("str"))["email"].first()
    users = native["usage"][["user_id", "account_id"]].drop_duplicates("user_id")
    user = users["user_id"].astype("str")
    domain = users["account_id"].astype("str").map(native["accounts"].set_index(
        native["accounts"]["account_id"].astype("str"))["email_domain"])
    fallback = user.str.lower().str.replace("-", ".") + "@" + domain.astype("str")
    return pd.DataFrame({"id": user.map(ids.segment_user).to_numpy(),
                         "email": user.map(email).fillna(fallback).to_numpy(),
                         "received_at": pd.Timestamp("2020-01-01", tz="UTC")})
