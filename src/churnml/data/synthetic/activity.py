"""Product usage as user-day rows: onboarding ramp, weekly rhythm, holiday dips, feature breadth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.world import DAY, World, sigmoid

FEATURES = np.array(["dashboard", "reports", "search", "alerts", "integrations", "automation",
                     "api", "admin_console"])


def day_weights(w: World) -> np.ndarray:
    """Relative activity per calendar day: quiet weekends and a late-December dip."""
    days = np.arange(w.start, w.end, DAY)
    weekday = (days.astype("int64") + 3) % 7  # 0 = Monday
    weights = np.where(weekday >= 5, 0.2, 1.0)
    month_day = pd.DatetimeIndex(days)
    holiday = ((month_day.month == 12) & (month_day.day >= 20)) | (
        (month_day.month == 1) & (month_day.day <= 2))
    return np.where(holiday, weights * 0.3, weights)


def user_frame(w: World) -> pd.DataFrame:
    """One row per user: account position, user index within the account, engagement."""
    acct = np.repeat(np.arange(w.n), w.n_users)
    idx = np.arange(len(acct)) - np.repeat(np.cumsum(w.n_users) - w.n_users, w.n_users)
    return pd.DataFrame({
        "acct": acct,
        "idx": idx,
        "user_id": np.char.add(np.char.add(w.account_id[acct], "-U"),
                               np.char.zfill(idx.astype(str), 3)),
        # the champion (user 0) and power users (1, 2) are the most engaged
        "engagement": w.rng.normal(0.0, 0.8, len(acct)) + np.select([idx == 0, idx <= 2], [1.0, 1.3], 0.0),
    })


def usage_table(w: World, users: pd.DataFrame) -> pd.DataFrame:
    rng = w.rng
    acct, eng = users["acct"].to_numpy(), users["engagement"].to_numpy()
    months = w.month_starts[:-1]
    since_created = (months[None, :] - w.created_at[acct, None]) / DAY
    ramp = np.clip((since_created + 30) / 90, 0, 1)  # three months of onboarding
    alive = (months[None, :] < w.alive_until[acct, None]) & (since_created > -30)
    q = sigmoid(-1.1 + 1.1 * w.health[acct] + eng[:, None]) * ramp * alive
    q = np.clip(q * w.usage_scale, 0, 0.97)
    active_days = rng.binomial(22, q)
    user_pos, month = np.nonzero(active_days)
    counts = active_days[user_pos, month]
    user_pos, month = np.repeat(user_pos, counts), np.repeat(month, counts)

    weights = day_weights(w)
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    first = ((w.month_starts - w.start) / DAY).astype(int)
    lo, hi = cum[first[month]], cum[first[month + 1]]
    day = np.searchsorted(cum, lo + rng.random(len(month)) * (hi - lo), side="right") - 1
    key = np.sort(user_pos.astype(np.int64) * len(weights) + day)
    key = key[np.concatenate([[True], key[1:] != key[:-1]])]  # one row per user-day
    user_pos, day = key // len(weights), key % len(weights)
    acct_pos = acct[user_pos]
    ts = w.start + day * DAY
    keep = ts < w.alive_until[acct_pos]
    # a departed champion stops logging in
    champion = users["idx"].to_numpy()[user_pos] == 0
    left = w.champion_left[acct_pos]
    keep &= ~(champion & ~np.isnat(left) & (ts >= left))
    user_pos, acct_pos, ts = user_pos[keep], acct_pos[keep], ts[keep]

    h = w.health[acct_pos, w.month_of(ts)] + eng[user_pos]
    feature = np.minimum(rng.exponential(0.8 + 2.2 * sigmoid(h)).astype(int), len(FEATURES) - 1)
    quantity = 1 + rng.poisson(2 + 6 * sigmoid(h))
    return pd.DataFrame({
        "account_id": pd.Categorical.from_codes(acct_pos, w.account_id),
        "user_id": pd.Categorical.from_codes(user_pos, users["user_id"].to_numpy()),
        "ts": ts.astype("datetime64[ns]"),
        "event": pd.Categorical.from_codes(feature, FEATURES),
        "quantity": quantity.astype(np.float32),
    })
