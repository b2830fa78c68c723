"""The latent world: accounts, their monthly health, and the departures that move it.

Health is an AR(1) process per account around its own baseline, hit by persistent shocks when a
champion or decision maker leaves. Everything observable (usage, tickets, NPS, goals, renewal
outcomes) is drawn from it, so the indicators lead the outcome the way they do in real books.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D")
MONTH_DAYS = 30.4375

SEGMENTS = np.array(["enterprise", "mid_market", "smb"])
SEGMENT_SHARE = (0.15, 0.35, 0.50)
ARR_MEDIAN = np.array([150_000.0, 40_000.0, 8_000.0])
PRICE_PER_SEAT = np.array([1_200.0, 800.0, 600.0])
TICKET_RATE = np.array([1.1, 0.6, 0.25])  # tickets per account-month at neutral health
SPONSOR_SHARE = np.array([0.85, 0.5, 0.15])

PHI = 0.8  # monthly persistence of health
CHAMPION_SHOCK, DECIDER_SHOCK, SHOCK_DECAY = -1.3, -0.7, 0.88


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def serial_ids(prefix: str, n: int, width: int, first: int = 1) -> np.ndarray:
    """``prefix`` + zero-padded serial numbers (``A00001``...); empty when ``n`` is 0."""
    if n == 0:
        return np.array([], dtype=str)
    return np.char.add(prefix, np.char.zfill(np.arange(first, first + n).astype(str), width))


@dataclass
class World:
    """Arrays shared by the table builders (index = account position)."""

    rng: np.random.Generator
    start: np.datetime64
    end: np.datetime64
    month_starts: np.ndarray  # (M + 1,) datetime64[D], the last one is `end`
    account_id: np.ndarray
    segment: np.ndarray  # int codes into SEGMENTS
    created_at: np.ndarray  # datetime64[D]
    arr0: np.ndarray
    term_months: np.ndarray
    n_users: np.ndarray
    health: np.ndarray  # (n, M)
    champion_left: np.ndarray  # datetime64[D], NaT when the champion stays
    decider_left: np.ndarray
    budget_cut: np.ndarray  # bool: churn pressure the data does not show
    usage_scale: float
    alive_until: np.ndarray | None = None  # filled by the contracts step

    @property
    def n(self) -> int:
        return len(self.account_id)

    @property
    def months(self) -> int:
        return len(self.month_starts) - 1

    def month_of(self, dates: np.ndarray) -> np.ndarray:
        """Index of the simulated month holding each date (clipped to the window)."""
        idx = np.searchsorted(self.month_starts, dates.astype("datetime64[D]"), side="right") - 1
        return np.clip(idx, 0, self.months - 1)


def build_world(n_accounts, months, seed, start, usage_scale) -> World:
    rng = np.random.default_rng(seed)
    start = np.datetime64(pd.Timestamp(start).date(), "D")
    month_starts = np.array(
        [
            np.datetime64((pd.Timestamp(start) + pd.DateOffset(months=k)).date(), "D")
            for k in range(months + 1)
        ]
    )
    end = month_starts[-1]
    n = n_accounts
    segment = rng.choice(3, size=n, p=SEGMENT_SHARE)
    existing = rng.random(n) < 0.7
    window_days = int((end - start) / DAY)
    age = np.where(
        existing,
        -rng.integers(30, 4 * 365, n),
        rng.integers(0, max(1, int(window_days * 0.6)), n),
    )
    created_at = start + age * DAY
    arr0 = np.round(ARR_MEDIAN[segment] * rng.lognormal(0.0, 0.45, n), -2)
    term_months = np.select(
        [segment == 2, segment == 1],
        [np.where(rng.random(n) < 0.3, 1, 12), np.full(n, 12)],
        rng.choice([12, 24, 36], size=n, p=[0.6, 0.25, 0.15]),
    )
    seats = np.maximum(3, np.round(arr0 / PRICE_PER_SEAT[segment]))
    n_users = np.clip(np.round(seats * rng.uniform(0.5, 0.9, n)), 2, 400).astype(np.int32)

    baseline = rng.normal(0.0, 0.8, n)
    eps = rng.normal(0.0, 0.45, (n, months)) + (1 - PHI) * baseline[:, None]
    # AR(1) started at the baseline, as one matrix product: ar[t] = sum_s PHI**(t-s) eps[s] + ...
    lag = np.arange(months)[None, :] - np.arange(months)[:, None]
    ar = eps @ np.where(lag >= 0, PHI ** np.maximum(lag, 0), 0.0)
    ar += baseline[:, None] * PHI ** np.arange(1, months + 1)

    champion_left = _departures(rng, n, 0.28, start, window_days, created_at)
    decider_left = _departures(rng, n, 0.12, start, window_days, created_at)
    health = ar + _shock(champion_left, month_starts, CHAMPION_SHOCK)
    health += _shock(decider_left, month_starts, DECIDER_SHOCK)
    return World(
        rng=rng,
        start=start,
        end=end,
        month_starts=month_starts,
        account_id=serial_ids("A", n, 5),
        segment=segment,
        created_at=created_at,
        arr0=arr0,
        term_months=term_months,
        n_users=n_users,
        health=health,
        champion_left=champion_left,
        decider_left=decider_left,
        budget_cut=rng.random(n) < 0.04,
        usage_scale=usage_scale,
    )


def _departures(rng, n, share, start, window_days, created_at):
    """Departure dates inside the window, at least 90 days after the account started."""
    when = start + rng.integers(0, window_days, n) * DAY
    leaves = (rng.random(n) < share) & (when >= created_at + 90 * DAY)
    return np.where(leaves, when, np.datetime64("NaT"))


def _shock(left, month_starts, size):
    """Persistent, slowly decaying health drop from the month after a departure."""
    months = month_starts[:-1]
    since = (months[None, :] - left[:, None]) / DAY / MONTH_DAYS
    since = np.where(np.isnan(since), -1.0, since)
    return np.where(since > 0, size * SHOCK_DECAY ** np.maximum(since - 1, 0), 0.0)
