"""Accounts, contract terms and renewal outcomes drawn from the churn drivers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic import causes
from churnml.data.synthetic.drivers import window_mean
from churnml.data.synthetic.world import (
    DAY,
    MONTH_DAYS,
    PRICE_PER_SEAT,
    SEGMENTS,
    World,
    serial_ids,
    sigmoid,
)

WORDS_A = np.array(
    [
        "North",
        "Blue",
        "Bright",
        "Iron",
        "Silver",
        "Cedar",
        "Quant",
        "Nova",
        "Apex",
        "Summit",
        "Harbor",
        "Pixel",
        "Vector",
        "Granite",
        "Lumen",
        "Orbit",
        "Maple",
    ]
)
WORDS_B = np.array(
    [
        "Labs",
        "Systems",
        "Logistics",
        "Health",
        "Foods",
        "Analytics",
        "Media",
        "Robotics",
        "Energy",
        "Capital",
        "Works",
        "Retail",
        "Bio",
        "Cloud",
        "Freight",
    ]
)
INDUSTRIES = np.array(["software", "healthcare", "retail", "finance", "manufacturing", "media"])
REGIONS = np.array(["NA", "EMEA", "APAC", "LATAM"])
CSMS = np.array(
    [
        "Ana Ortiz",
        "Ben Okafor",
        "Chloe Martin",
        "Dev Patel",
        "Eva Novak",
        "Farah Haddad",
        "Gus Lindqvist",
        "Hana Sato",
    ]
)


def accounts_table(w: World) -> pd.DataFrame:
    rng = w.rng
    name = np.char.add(np.char.add(rng.choice(WORDS_A, w.n), " "), rng.choice(WORDS_B, w.n))
    domain = np.char.add(
        np.char.add(np.char.lower(np.char.replace(name, " ", "")), w.account_id), ".com"
    )
    touch = np.select(
        [w.segment == 0, w.segment == 1],
        ["high", np.where(rng.random(w.n) < 0.3, "high", "low")],
        np.where(rng.random(w.n) < 0.8, "tech", "low"),
    )
    return pd.DataFrame(
        {
            "account_id": w.account_id,
            "name": name,
            "segment": pd.Categorical(SEGMENTS[w.segment], categories=SEGMENTS),
            "industry": pd.Categorical(rng.choice(INDUSTRIES, w.n)),
            "region": pd.Categorical(rng.choice(REGIONS, w.n, p=[0.5, 0.3, 0.15, 0.05])),
            "created_at": w.created_at.astype("datetime64[ns]"),
            "csm": rng.choice(CSMS, w.n),
            "email_domain": domain,
            "touch_model": pd.Categorical(touch),
        }
    )


def contract_terms(w: World, churn_rate: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Chained terms per account from creation to the end of the window; outcomes at each end.

    Returns the contracts, the oracle (per contract: true probability, its drivers'
    contributions, primary driver) and the oracle terms (every term the world drew).
    """
    rng = w.rng
    span = (w.end - w.created_at) / DAY
    n_terms = np.ceil(span / (w.term_months * MONTH_DAYS)).astype(int)
    acct = np.repeat(np.arange(w.n), n_terms)
    k = np.arange(len(acct)) - np.repeat(np.cumsum(n_terms) - n_terms, n_terms)
    length = w.term_months[acct] * MONTH_DAYS
    start = w.created_at[acct] + np.round(k * length).astype(int) * DAY
    end = w.created_at[acct] + np.round((k + 1) * length).astype(int) * DAY
    keep = end > w.start - 365 * DAY
    acct, k, start, end = acct[keep], k[keep], start[keep], end[keep]

    in_window = (end >= w.start) & (end < w.end)
    monthly = w.term_months[acct] == 1
    effects = causes.driver_effects(w, acct, end, rng.random(len(acct)) < causes.SHOCK_SHARE)
    contrib = causes.contributions(effects, in_window)
    noise = rng.normal(0.0, causes.NOISE_SD, len(acct))
    pressure = contrib.fillna(0.0).sum(axis=1).to_numpy() + noise
    base = _intercept((pressure + causes.MONTHLY_OFFSET * monthly)[in_window], churn_rate)
    base = base + causes.MONTHLY_OFFSET * monthly
    p_churn = np.where(in_window, sigmoid(base + pressure), 0.0)
    # seat and price changes are decided about once a year: a monthly term rarely changes ARR;
    # budget pressure shows as downgrades, good adoption as expansions
    years = w.term_months[acct] / 12
    use = window_mean(w.adoption, acct, np.searchsorted(w.month_starts, end) - 2, 3)
    p_down = sigmoid(-2.6 + 2.0 * w.budget[acct] - 0.5 * use) * np.minimum(years, 1)
    p_up = sigmoid(-1.5 + 0.8 * use - 0.6 * w.budget[acct]) * np.minimum(years, 1)
    u = rng.random(len(acct))
    outcome = np.select(
        [
            end >= w.end,
            u < p_churn,
            u < p_churn + (1 - p_churn) * p_down,
            u < p_churn + (1 - p_churn) * (p_down + p_up),
        ],
        ["open", "churned", "downgraded", "expanded"],
        "renewed",
    )
    # nothing after an account's churned term
    churned = outcome == "churned"
    before = pd.Series(churned).groupby(acct).cumsum().to_numpy() - churned
    alive = before == 0
    drawn = (acct, start, end, np.where(in_window, p_churn, 0.0), alive)
    acct, k, start, end = acct[alive], k[alive], start[alive], end[alive]
    outcome, p_churn, in_window = outcome[alive], p_churn[alive], in_window[alive]
    base, noise, contrib = base[alive], noise[alive], contrib[alive].reset_index(drop=True)

    step = np.select(
        [outcome == "expanded", outcome == "downgraded"],
        [rng.uniform(1.15, 1.5, len(acct)), rng.uniform(0.5, 0.85, len(acct))],
        rng.uniform(1.0, 1.06, len(acct)) ** years[alive],  # yearly list-price uplift
    )
    growth = pd.Series(step).groupby(acct).cumprod().to_numpy()
    arr = np.round(w.arr0[acct] * growth / step, -1)
    renewal_arr = np.where(np.isin(outcome, ["open", "churned"]), np.nan, np.round(arr * step, -1))
    resolved = outcome != "open"
    contracts = pd.DataFrame(
        {
            "contract_id": serial_ids("C", len(acct), 6),
            "account_id": w.account_id[acct],
            "start_date": start.astype("datetime64[ns]"),
            "end_date": end.astype("datetime64[ns]"),
            "arr": arr,
            "seats": np.maximum(3, np.round(arr / PRICE_PER_SEAT[w.segment[acct]])),
            "outcome": outcome,
            "outcome_date": np.where(
                resolved, end - rng.integers(0, 20, len(acct)) * DAY, np.datetime64("NaT")
            ).astype("datetime64[ns]"),
            "renewal_arr": renewal_arr,
        }
    )
    oracle = _oracle(contracts, outcome, in_window, p_churn, base, contrib, noise)
    churn_end = pd.Series(np.where(outcome == "churned", end, w.end)).groupby(acct).min()
    w.alive_until = np.full(w.n, w.end)
    w.alive_until[churn_end.index.to_numpy()] = churn_end.to_numpy()
    return contracts, oracle, _oracle_terms(w, drawn, contracts["outcome_date"].to_numpy())


def _oracle_terms(w: World, drawn, decided: np.ndarray) -> pd.DataFrame:
    """Every term the world drew a churn probability for, also those an earlier churn cut off
    (``reached`` False; their decision date is taken 10 days before the end, the mean notice).

    The probability of churning within any window after ``as_of`` follows from these
    (:func:`churnml.data.synthetic.oracle.window_probability`).
    """
    acct, start, end, p, reached = drawn
    decided_at = (end - 10 * DAY).astype("datetime64[ns]")
    decided_at[reached] = decided.astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "account_id": w.account_id[acct],
            "start_date": start.astype("datetime64[ns]"),
            "end_date": end.astype("datetime64[ns]"),
            "decided_at": decided_at,
            "churn_probability": p,
            "reached": reached,
        }
    )


def _oracle(contracts, outcome, in_window, p_churn, base, contrib, noise) -> pd.DataFrame:
    """Per contract: the true churn probability of a term decided inside the window and how the
    drivers make it up: ``sigmoid(base + sum of the contribution_* + noise)``; NaN elsewhere."""
    frame = pd.DataFrame(
        {
            "contract_id": contracts["contract_id"],
            "account_id": contracts["account_id"],
            "end_date": contracts["end_date"],
            "churn_probability": np.where(in_window, p_churn, np.nan),
            "outcome": outcome,
            "log_odds": np.where(in_window, base + contrib.sum(axis=1).to_numpy() + noise, np.nan),
            "base_log_odds": np.where(in_window, base, np.nan),
        }
    )
    for name in causes.DRIVERS:
        frame[f"contribution_{name}"] = contrib[name].to_numpy()
    frame["noise"] = np.where(in_window, noise, np.nan)
    frame["primary_driver"] = pd.array(causes.primary_driver(contrib), dtype="string")
    return frame


def _intercept(pressure: np.ndarray, rate: float) -> float:
    """Intercept that makes the mean churn probability equal ``rate`` (bisection)."""
    if not len(pressure):  # no renewal inside the window
        return 0.0
    lo, hi = -12.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if sigmoid(mid + pressure).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
