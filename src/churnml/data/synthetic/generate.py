"""``make_saas``: every contract table plus the oracle, from one seeded latent world."""

from __future__ import annotations

import pandas as pd

from churnml.data.synthetic.activity import usage_table, user_frame
from churnml.data.synthetic.contracts import accounts_table, contract_terms
from churnml.data.synthetic.noise import inject_noise
from churnml.data.synthetic.people import contacts_table, nps_table
from churnml.data.synthetic.support import goals_table, tickets_table
from churnml.data.synthetic.world import build_world

LIMITS = {"n_accounts": (1, 1_000_000), "months": (3, 120)}


def make_saas(
    n_accounts: int = 2000,
    months: int = 24,
    seed: int = 0,
    *,
    churn_rate: float = 0.12,
    noise_rate: float = 0.02,
    start: str = "2024-07-01",
    usage_scale: float = 1.0,
) -> dict[str, pd.DataFrame]:
    """Synthetic B2B SaaS customer base: seven contract tables, ``oracle`` and ``oracle_terms``.

    Six separate latent drivers per account (adoption, relationship, support friction, value
    realisation, sentiment, commercial pressure; :mod:`churnml.data.synthetic.drivers`) each move
    their own signals (usage, contacts, tickets, goals, NPS, contracts) with their own timing,
    and the renewal outcome drawn at each term's end adds up their effects plus noise
    (:mod:`churnml.data.synthetic.causes`), so indicators lead the outcome and the true cause
    of every churn is known. Some churn comes without warning (budget cuts or price increases
    the data does not show) and some unhealthy accounts renew.

    Parameters
    ----------
    n_accounts, months, seed : int
        Size, simulated months (from ``start``) and random seed; equal seeds give equal tables.
    churn_rate : float
        Mean churn probability of the renewals that fall inside the window (about 8–15%).
    noise_rate : float
        Share of data-quality noise: contacts without account_id (matched by email domain or
        not at all), missing segments, duplicated usage rows, orphan tickets. The exact counts
        are in ``tables["oracle"].attrs["noise"]``.
    start : str
        First day of the simulated window; contracts started before it give tenure.
    usage_scale : float
        Multiplies each user's chance of being active on a day (more usage rows).

    Returns
    -------
    dict of DataFrame
        accounts, contracts, usage, contacts, tickets, nps, goals, oracle (contract_id,
        account_id, end_date, churn_probability, outcome, log_odds, base_log_odds, one
        ``contribution_<driver>`` per driver, noise, primary_driver; the numbers are NaN for
        terms not decided inside the window) and oracle_terms (every term the world
        drew, also those a churn cut off: account_id, start_date, end_date, decided_at,
        churn_probability, reached), from which the true probability of churn within any window
        follows (:func:`churnml.data.synthetic.oracle.window_probability`).

    Examples
    --------
    >>> from churnml.datasets import make_saas
    >>> tables = make_saas(n_accounts=50, months=6, seed=1)
    >>> sorted(tables)[:3]
    ['accounts', 'contacts', 'contracts']
    """
    for name, value in {"n_accounts": n_accounts, "months": months}.items():
        lo, hi = LIMITS[name]
        if not lo <= int(value) <= hi:
            raise ValueError(f"{name} must be between {lo} and {hi}, but got {name}={value}")
    for name, value in {"churn_rate": churn_rate, "noise_rate": noise_rate}.items():
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), but got {name}={value}")
    if usage_scale <= 0:
        raise ValueError(f"usage_scale must be positive, but got usage_scale={usage_scale}")

    world = build_world(int(n_accounts), int(months), seed, start, usage_scale)
    accounts = accounts_table(world)
    contracts, oracle, oracle_terms = contract_terms(world, churn_rate)
    contacts = contacts_table(world, accounts)
    tables = {
        "accounts": accounts,
        "contracts": contracts,
        "usage": usage_table(world, user_frame(world)),
        "contacts": contacts,
        "tickets": tickets_table(world),
        "nps": nps_table(world, contacts),
        "goals": goals_table(world),
    }
    end = pd.Timestamp(world.end)
    tables["goals"] = tables["goals"][tables["goals"]["created_at"] < end].reset_index(drop=True)
    oracle.attrs["noise"] = inject_noise(tables, world.rng, noise_rate)
    for name in ("contracts", "contacts"):
        for col in ("outcome", "role", "title", "email"):
            if col in tables[name]:
                tables[name][col] = tables[name][col].astype("string")
    tables["oracle"] = oracle
    return {name: frame.reset_index(drop=True) for name, frame in tables.items()} | {
        "oracle": oracle,
        "oracle_terms": oracle_terms,
    }
