"""Product usage as user-day rows: onboarding ramp, weekly rhythm, holiday dips, feature breadth."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from churnml.data.synthetic.drivers import relationship_gap
from churnml.data.synthetic.world import DAY, World, sigmoid

FEATURES = np.array(
    [
        "dashboard",
        "reports",
        "search",
        "alerts",
        "integrations",
        "automation",
        "api",
        "admin_console",
    ]
)


def day_weights(w: World) -> np.ndarray:
    """Relative activity per calendar day: quiet weekends and a late-December dip."""
    days = np.arange(w.start, w.end, DAY)
    weekday = (days.astype("int64") + 3) % 7  # 0 = Monday
    weights = np.where(weekday >= 5, 0.2, 1.0)
    month_day = pd.DatetimeIndex(days)
    holiday = ((month_day.month == 12) & (month_day.day >= 20)) | (
        (month_day.month == 1) & (month_day.day <= 2)
    )
    return np.where(holiday, weights * 0.3, weights)


def user_frame(w: World) -> pd.DataFrame:
    """One row per user: account position, user index within the account, engagement."""
    acct = np.repeat(np.arange(w.n), w.n_users)
    idx = np.arange(len(acct)) - np.repeat(np.cumsum(w.n_users) - w.n_users, w.n_users)
    return pd.DataFrame(
        {
            "acct": acct,
            "idx": idx,
            "user_id": np.char.add(
                np.char.add(w.account_id[acct], "-U"), np.char.zfill(idx.astype(str), 3)
            ),
            # the champion (user 0) and power users (1, 2) are the most engaged
            "engagement": w.rng.normal(0.0, 0.8, len(acct))
            + np.select([idx == 0, idx <= 2], [0.3, 1.3], 0.0),
        }
    )


SPILLOVER = 0.05  # adoption lost per unit of relationship gap (colleagues of a departed champion)
FADING = 0.35  # activity of a champion in the two months before they leave
CHUNK_ROWS = 4_000_000  # user-days drawn per batch: bounds the temporary arrays


def usage_table(w: World, users: pd.DataFrame) -> pd.DataFrame:
    """User-day rows: active days per user-month from adoption, then days, features and counts.

    Adoption drives how often users come back, how many features they use and how much they do;
    a departed champion's colleagues come back a little less (``SPILLOVER`` per unit of the
    relationship gap); a champion about to leave already uses it less in the last two months
    (``FADING``), and their logins stop when they go.

    Users are processed in consecutive batches of about ``CHUNK_ROWS`` active days so the
    temporary arrays stay small at 20,000 accounts; the batches depend only on the data, so
    the output is the same for a seed whatever the machine.
    """
    rng = w.rng
    acct, eng = users["acct"].to_numpy(), users["engagement"].to_numpy()
    months = w.month_starts[:-1]
    since_created = (months[None, :] - w.created_at[acct, None]) / DAY
    ramp = np.clip((since_created + 30) / 90, 0, 1)  # three months of onboarding
    alive = (months[None, :] < w.alive_until[acct, None]) & (since_created > -30)
    mid = months + np.timedelta64(15, "D")
    gap = relationship_gap(w, np.repeat(np.arange(w.n), len(mid)), np.tile(mid, w.n))
    level = w.adoption - SPILLOVER * gap.reshape(w.n, len(mid))
    q = sigmoid(-0.7 + 1.1 * level[acct] + eng[:, None]) * ramp * alive
    leaving = (users["idx"].to_numpy() == 0)[:, None] & (
        (w.champion_left[acct, None] - months[None, :]) / DAY <= 60
    )  # NaT compares False: champions who stay
    q = np.where(leaving, q * FADING, q)
    active_days = rng.binomial(22, np.clip(q * w.usage_scale, 0, 0.97)).astype(np.int32)
    del since_created, ramp, alive, q, level, leaving

    weights = day_weights(w)
    n_days = len(weights)
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    first = ((w.month_starts - w.start) / DAY).astype(np.int64)
    month_of_day = (np.searchsorted(first, np.arange(n_days), side="right") - 1).astype(np.int32)
    alive_day = ((w.alive_until - w.start) / DAY).astype(np.int64)
    left = w.champion_left
    left_day = np.where(np.isnat(left), n_days, (left - w.start) / DAY).astype(np.int64)
    is_champion = users["idx"].to_numpy() == 0

    per_user = active_days.sum(axis=1, dtype=np.int64)
    bounds = np.searchsorted(np.cumsum(per_user), np.arange(CHUNK_ROWS, per_user.sum(), CHUNK_ROWS))
    edges = np.unique(np.concatenate([[0], bounds + 1, [len(users)]]))
    parts = []
    for lo_user, hi_user in pairwise(edges):
        days = active_days[lo_user:hi_user]
        user_pos, month = np.nonzero(days)
        counts = days[user_pos, month]
        user_pos = np.repeat(user_pos.astype(np.int32) + np.int32(lo_user), counts)
        month = np.repeat(month.astype(np.int32), counts)
        lo, hi = cum[first[month]], cum[first[month + 1]]
        day = np.searchsorted(cum, lo + rng.random(len(month)) * (hi - lo), side="right") - 1
        del lo, hi, month
        key = np.sort(user_pos.astype(np.int64) * n_days + day)
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]  # one row per user-day
        user_pos, day = (key // n_days).astype(np.int32), (key % n_days).astype(np.int32)
        del key
        acct_pos = acct[user_pos]
        keep = day < alive_day[acct_pos]
        keep &= ~(is_champion[user_pos] & (day >= left_day[acct_pos]))  # a departed champion stops
        user_pos, acct_pos, day = user_pos[keep], acct_pos[keep], day[keep]

        h = w.adoption[acct_pos, month_of_day[day]] + eng[user_pos]
        breadth = sigmoid(h)
        feature = np.minimum(
            rng.exponential(0.8 + 2.2 * breadth).astype(np.int8), len(FEATURES) - 1
        )
        quantity = (1 + rng.poisson(2 + 6 * breadth)).astype(np.float32)
        parts.append((acct_pos.astype(np.int32), user_pos, day, feature, quantity))
        del h, breadth
    acct_pos, user_pos, day, feature, quantity = (np.concatenate(p) for p in zip(*parts))
    del parts
    return pd.DataFrame(
        {
            "account_id": pd.Categorical.from_codes(acct_pos, w.account_id),
            "user_id": pd.Categorical.from_codes(user_pos, users["user_id"].to_numpy()),
            "ts": (w.start.astype("datetime64[ns]") + day.astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "event": pd.Categorical.from_codes(feature, FEATURES),
            "quantity": quantity,
        }
    )
