"""The world's latent churn drivers: six separate causes per account, each with its own timing.

- **adoption** (usage; chronic): a monthly level, baseline + AR(1), minus slow declines that
  build over six months;
- **relationship** (contacts; acute, chronic without a sponsor): the gap a departed champion or
  decision maker leaves (opens within weeks, fades; a successor halves it), plus a standing gap
  where there is no executive sponsor;
- **support** (tickets; acute): the account's own defect load, baseline + AR(1) + escalation
  storms of three months that fade over three more;
- **value** (goals; chronic): value realised, baseline + slow AR(1) minus stalls of many months;
- **sentiment** (NPS; chronic): opinion beyond what the others explain, baseline + AR(1) minus
  souring episodes;
- **commercial** (contracts; acute, mostly unseen): budget pressure per account (seen through
  downgrades) and a budget cut or price increase at a renewal, which no table shows.

The drivers are drawn independently of each other; each table builder reads mainly its own
driver (with small, realistic spill-overs: a departed champion's colleagues use the product a
little less, NPS answers reflect a little of everything), and the renewal decision adds up their
effects (:mod:`churnml.data.synthetic.causes`).
"""

from __future__ import annotations

import numpy as np

DAY = np.timedelta64(1, "D")
MONTH_DAYS = 30.4375

#: (baseline sd, AR(1) persistence, innovation sd) of the continuous drivers
AR_PARAMS = {
    "adoption": (0.65, 0.85, 0.1),
    "support": (0.2, 0.7, 0.1),
    "value": (0.5, 0.9, 0.12),
    "sentiment": (0.4, 0.85, 0.15),
}
BURN_IN = 36  # episodes and departures start this many months before the window too


def _decline(t):
    """Adoption declines over six months, then recovers slowly."""
    return np.minimum((t + 1) / 6, 1) * 0.9 ** np.maximum(t - 5, 0)


def _storm(t):
    """An escalation storm: three months at full strength, then it fades over three more."""
    return np.select([t < 3, t < 4, t < 5, t < 6], [1.0, 0.7, 0.4, 0.2], 0.0)


def _stall(t):
    """Value realisation stalls over four months and stays low for long."""
    return np.minimum((t + 1) / 4, 1) * 0.95 ** np.maximum(t - 3, 0)


def _souring(t):
    """Opinion sours over three months and stays sour for a while."""
    return np.minimum((t + 1) / 3, 1) * 0.92 ** np.maximum(t - 2, 0)


#: episodes: (starts per account-year, (least, most) depth, effect by months since the start)
ADOPTION_DECLINE = (0.25, (1.0, 2.5), _decline)
SUPPORT_STORM = (0.2, (1.5, 3.0), _storm)
VALUE_STALL = (0.2, (1.0, 2.2), _stall)
SENTIMENT_SOURING = (0.2, (1.2, 2.5), _souring)
#: relationship: gap a departure leaves, the months it takes to open, its monthly decay, the
#: share a successor takes back
CHAMPION_GAP, DECIDER_GAP, GAP_BUILD, GAP_DECAY, SUCCESSOR_RELIEF = 2.6, 1.4, 1.0, 0.93, 0.5
NO_SPONSOR_GAP = 0.7
SPONSOR_SHARE = np.array([0.85, 0.5, 0.15])  # by segment code: enterprise, mid_market, smb


def ar1(rng, n: int, months: int, baseline_sd: float, phi: float, sd: float) -> np.ndarray:
    """(n, months) AR(1) paths around per-account baselines, started at the baseline.

    One matrix product: ``x[t] = sum_s phi**(t-s) eps[s] + baseline * phi**(t+1)`` with
    ``eps = noise + (1 - phi) * baseline``.
    """
    baseline = rng.normal(0.0, baseline_sd, n)
    eps = rng.normal(0.0, sd, (n, months)) + (1 - phi) * baseline[:, None]
    lag = np.arange(months)[None, :] - np.arange(months)[:, None]
    out = eps @ np.where(lag >= 0, phi ** np.maximum(lag, 0), 0.0)
    return out + baseline[:, None] * phi ** np.arange(1, months + 1)


def episodes(rng, n: int, months: int, rate: float, depth, kernel) -> np.ndarray:
    """(n, months) effect of episodes starting at random months (``rate`` per account-year), each
    of a random depth, shaped over the following months by ``kernel(months since start)``."""
    total = months + BURN_IN
    starts = (rng.random((n, total)) < rate / 12) * rng.uniform(*depth, (n, total))
    lag = np.arange(months)[None, :] + BURN_IN - np.arange(total)[:, None]
    return starts @ np.where(lag >= 0, kernel(np.maximum(lag, 0)), 0.0)


def departures(rng, n, rate, start, window_days, created_at):
    """At most one departure per account, at ``rate`` per account-year, uniform over the window
    and the ``BURN_IN`` months before it (so the share of recent departures does not drift),
    at least 90 days after the account started."""
    before = int(BURN_IN * MONTH_DAYS)
    when = start + (rng.integers(0, window_days + before, n) - before) * DAY
    share = rate * (window_days + before) / 365.25
    leaves = (rng.random(n) < share) & (when >= created_at + 90 * DAY)
    return np.where(leaves, when, np.datetime64("NaT"))


def successors(rng, left, share):
    """A successor's start, one to four months after a departure, for ``share`` of them."""
    start = left + rng.integers(30, 120, len(left)) * DAY
    return np.where(~np.isnat(left) & (rng.random(len(left)) < share), start, np.datetime64("NaT"))


def relationship_gap(w, acct: np.ndarray, when: np.ndarray) -> np.ndarray:
    """The relationship driver of accounts ``acct`` on dates ``when`` (higher = riskier)."""
    when = when.astype("datetime64[D]")
    gap = NO_SPONSOR_GAP * ~w.has_sponsor[acct]
    for size, left, back in (
        (CHAMPION_GAP, w.champion_left, w.champion_back),
        (DECIDER_GAP, w.decider_left, w.decider_back),
    ):
        months = (when - left[acct]) / DAY / MONTH_DAYS
        gone = ~np.isnat(left[acct]) & (months >= 0)
        relief = np.where(~np.isnat(back[acct]) & (back[acct] <= when), SUCCESSOR_RELIEF, 0.0)
        since = np.maximum(np.nan_to_num(months), 0)
        shape = -np.expm1(-since / GAP_BUILD) * GAP_DECAY**since  # builds over weeks, then fades
        gap = gap + np.where(gone, size * shape * (1 - relief), 0.0)
    return gap


def window_mean(matrix: np.ndarray, acct: np.ndarray, last: np.ndarray, months: int) -> np.ndarray:
    """Mean of ``matrix[acct]`` over the ``months`` months up to and including month ``last``
    (clipped to the simulated window)."""
    total = matrix.shape[1]
    cum = np.concatenate([np.zeros((len(matrix), 1)), np.cumsum(matrix, axis=1)], axis=1)
    hi = np.clip(last + 1, 1, total)
    lo = np.clip(hi - months, 0, hi - 1)
    return (cum[acct, hi] - cum[acct, lo]) / (hi - lo)
