"""Contacts with roles (champions leave, sponsors may be missing) and the NPS survey waves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.drivers import relationship_gap
from churnml.data.synthetic.world import DAY, World, serial_ids

FIRST = np.array(
    [
        "alex",
        "sam",
        "jo",
        "kim",
        "lee",
        "max",
        "noor",
        "rui",
        "tess",
        "uma",
        "vic",
        "wen",
        "yan",
        "zoe",
        "omar",
        "ivy",
    ]
)
LAST = np.array(
    [
        "berg",
        "costa",
        "diaz",
        "evans",
        "fox",
        "gray",
        "hill",
        "ito",
        "jones",
        "khan",
        "lopez",
        "moss",
        "ng",
        "park",
        "reed",
        "silva",
    ]
)
RESPONSE_RATE = 0.35  # share of current contacts answering a survey wave
NPS_SPILLOVER = 0.1  # NPS points per unit of each other driver
TITLES = {
    "champion": "Operations Manager",
    "decision_maker": "VP Operations",
    "executive_sponsor": "Chief Operating Officer",
    "admin": "IT Administrator",
    "power_user": "Analyst",
    "user": "Specialist",
}


def contacts_table(w: World, accounts: pd.DataFrame) -> pd.DataFrame:
    rng = w.rng
    n = w.n
    has_sponsor = w.has_sponsor
    # role slots per account: champion, decision maker, admin, sponsor, power users, users
    slots = [
        ("champion", np.ones(n, bool), 0),
        ("decision_maker", np.ones(n, bool), -1),
        ("admin", np.ones(n, bool), -1),
        ("executive_sponsor", has_sponsor, -1),
        ("power_user", w.n_users > 1, 1),
        ("power_user", w.n_users > 2, 2),
        ("user", w.n_users > 3, 3),
        ("user", w.n_users > 4, 4),
    ]
    parts = []
    for role, present, user_idx in slots:
        acct = np.nonzero(present)[0]
        ended = np.full(len(acct), np.datetime64("NaT"), dtype="datetime64[D]")
        if role == "champion":
            ended = w.champion_left[acct]
        elif role == "decision_maker":
            ended = w.decider_left[acct]
        user_id = (
            np.char.add(np.char.add(w.account_id[acct], "-U"), str(user_idx).zfill(3))
            if user_idx >= 0
            else np.full(len(acct), None, dtype=object)
        )
        parts.append(
            pd.DataFrame({"acct": acct, "role": role, "ended_at": ended, "user_id": user_id})
        )
    parts += _successors(w)
    people = pd.concat(parts, ignore_index=True).sort_values(["acct", "role"], kind="stable")
    people = _promotions_end_old_roles(people)
    acct = people["acct"].to_numpy()
    first, last = rng.choice(FIRST, len(people)), rng.choice(LAST, len(people))
    domain = accounts["email_domain"].to_numpy()[acct]
    email = np.char.add(
        np.char.add(np.char.add(np.char.add(first, "."), last), "@"), domain.astype(str)
    )
    started = w.created_at[acct] + rng.integers(0, 60, len(people)) * DAY
    successor = people["started_at"].notna().to_numpy()
    started[successor] = people["started_at"].to_numpy()[successor]
    return pd.DataFrame(
        {
            "contact_id": serial_ids("P", len(people), 6),
            "account_id": w.account_id[acct],
            "email": email,
            "role": people["role"].to_numpy(),
            "started_at": started.astype("datetime64[ns]"),
            "ended_at": people["ended_at"].to_numpy().astype("datetime64[ns]"),
            "title": pd.Series(people["role"].to_numpy()).map(TITLES).to_numpy(),
            "user_id": people["user_id"].to_numpy(),
        }
    )


def _successors(w: World) -> list[pd.DataFrame]:
    """A departed champion is often replaced by promoting power user 1; a decision maker by a hire
    (the world draws who and when: one to four months after the departure)."""
    out = []
    for role, back, user_idx in (
        ("champion", w.champion_back, 1),
        ("decision_maker", w.decider_back, -1),
    ):
        acct = np.nonzero(~np.isnat(back))[0]
        start = back[acct]
        keep = (start < w.end) & (start < w.alive_until[acct])
        acct, start = acct[keep], start[keep]
        user_id = (
            np.char.add(np.char.add(w.account_id[acct], "-U"), str(user_idx).zfill(3))
            if user_idx >= 0 and len(acct)
            else np.full(len(acct), None, dtype=object)
        )
        out.append(
            pd.DataFrame(
                {
                    "acct": acct,
                    "role": role,
                    "ended_at": np.full(len(acct), np.datetime64("NaT"), dtype="datetime64[D]"),
                    "user_id": user_id,
                    "started_at": start,
                }
            )
        )
    return out


def _promotions_end_old_roles(people: pd.DataFrame) -> pd.DataFrame:
    """A promoted user's previous contact row (e.g. power_user) ends the day the new role starts."""
    promoted = people["started_at"].notna() & people["user_id"].notna()
    if not promoted.any():
        return people
    when = people.loc[promoted].set_index("user_id")["started_at"]
    old_role = ~promoted & people["user_id"].isin(when.index)
    ended = people["ended_at"].to_numpy().copy()
    ended[old_role.to_numpy()] = people.loc[old_role, "user_id"].map(when).to_numpy()
    return people.assign(ended_at=ended)


def nps_table(w: World, contacts: pd.DataFrame) -> pd.DataFrame:
    """Quarterly survey waves; each current contact answers with some probability.

    The score follows the sentiment driver, plus a little of everything else (adoption, value,
    support friction, a relationship gap), as real answers do.
    """
    rng = w.rng
    waves = w.month_starts[1:-1:3]
    pos = pd.Index(w.account_id).get_indexer(contacts["account_id"])
    c = np.repeat(np.arange(len(contacts)), len(waves))
    wave = np.tile(waves, len(contacts))
    acct = pos[c]
    answered_at = wave + rng.integers(0, 28, len(c)) * DAY
    started = contacts["started_at"].to_numpy().astype("datetime64[D]")[c]
    ended = contacts["ended_at"].to_numpy().astype("datetime64[D]")[c]
    current = (started <= answered_at) & (np.isnat(ended) | (answered_at < ended))
    keep = current & (rng.random(len(c)) < RESPONSE_RATE) & (answered_at < w.alive_until[acct])
    keep &= answered_at < w.end
    c, acct, answered_at = c[keep], acct[keep], answered_at[keep]
    month = w.month_of(answered_at)
    mood = (
        2.0 * w.sentiment[acct, month]
        + NPS_SPILLOVER
        * (
            w.adoption[acct, month]
            + w.value[acct, month]
            - w.friction[acct, month]
            - relationship_gap(w, acct, answered_at)
        )
    )
    score = np.clip(np.round(8.1 + mood + rng.normal(0, 1.1, len(c))), 0, 10)
    return pd.DataFrame(
        {
            "response_id": serial_ids("R", len(c), 7),
            "account_id": w.account_id[acct],
            "contact_id": contacts["contact_id"].to_numpy()[c],
            "responded_at": answered_at.astype("datetime64[ns]"),
            "score": score.astype(np.float32),
            "comment": pd.array([None] * len(c), dtype="string"),
        }
    )
