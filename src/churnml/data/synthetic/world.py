"""The latent world: accounts, their six churn drivers, and the departures that move them.

Every account has separate latent drivers (:mod:`churnml.data.synthetic.drivers`): adoption,
relationship, support friction, value realisation, sentiment and commercial pressure. Each moves
its own observable signals (usage, contacts, tickets, goals, NPS, contracts), and the renewal
decision adds up their effects (:mod:`churnml.data.synthetic.causes`), so the true cause of every
churn is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnml.data.synthetic import drivers as d

DAY = d.DAY
MONTH_DAYS = d.MONTH_DAYS

SEGMENTS = np.array(["enterprise", "mid_market", "smb"])
SEGMENT_SHARE = (0.15, 0.35, 0.50)
ARR_MEDIAN = np.array([150_000.0, 40_000.0, 8_000.0])
PRICE_PER_SEAT = np.array([1_200.0, 800.0, 600.0])
TICKET_RATE = np.array([0.65, 0.35, 0.15])  # tickets per account-month at neutral friction
SPONSOR_SHARE = d.SPONSOR_SHARE
MONTHLY_SHARE = 0.25  # share of smb accounts billed month to month
CHAMPION_LEAVES, DECIDER_LEAVES = 0.2, 0.1  # departures per account-year
CHAMPION_REPLACED, DECIDER_REPLACED = 0.6, 0.7  # share of departures with a successor


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
    adoption: np.ndarray  # (n, M) higher = more use and breadth
    friction: np.ndarray  # (n, M) support driver: higher = more defects and escalations
    value: np.ndarray  # (n, M) higher = goals met
    sentiment: np.ndarray  # (n, M) higher = happier than the rest explains
    budget: np.ndarray  # (n,) commercial pressure: higher = more downgrades and churn
    has_sponsor: np.ndarray  # (n,) bool
    champion_left: np.ndarray  # datetime64[D], NaT when the champion stays
    champion_back: np.ndarray  # the successor's start, NaT when none
    decider_left: np.ndarray
    decider_back: np.ndarray
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
        [np.where(rng.random(n) < MONTHLY_SHARE, 1, 12), np.full(n, 12)],
        rng.choice([12, 24, 36], size=n, p=[0.6, 0.25, 0.15]),
    )
    seats = np.maximum(3, np.round(arr0 / PRICE_PER_SEAT[segment]))
    n_users = np.clip(np.round(seats * rng.uniform(0.5, 0.9, n)), 2, 400).astype(np.int32)

    drawn = _draw_drivers(rng, n, months, segment, start, window_days, created_at)
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
        **drawn,
        usage_scale=usage_scale,
    )


def _draw_drivers(rng, n, months, segment, start, window_days, created_at) -> dict:
    """The six drivers, drawn independently of each other (see :mod:`.drivers`)."""
    paths = {name: d.ar1(rng, n, months, *params) for name, params in d.AR_PARAMS.items()}
    champion_left = d.departures(rng, n, CHAMPION_LEAVES, start, window_days, created_at)
    decider_left = d.departures(rng, n, DECIDER_LEAVES, start, window_days, created_at)
    return {
        "adoption": paths["adoption"] - d.episodes(rng, n, months, *d.ADOPTION_DECLINE),
        "friction": paths["support"] + d.episodes(rng, n, months, *d.SUPPORT_STORM),
        "value": paths["value"] - d.episodes(rng, n, months, *d.VALUE_STALL),
        "sentiment": paths["sentiment"] - d.episodes(rng, n, months, *d.SENTIMENT_SOURING),
        "budget": rng.normal(0.0, 0.5, n),
        "has_sponsor": rng.random(n) < SPONSOR_SHARE[segment],
        "champion_left": champion_left,
        "champion_back": d.successors(rng, champion_left, CHAMPION_REPLACED),
        "decider_left": decider_left,
        "decider_back": d.successors(rng, decider_left, DECIDER_REPLACED),
    }
