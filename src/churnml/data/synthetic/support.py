"""Support tickets (from the account's defect load) and success-plan goals (from value realised)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.world import DAY, TICKET_RATE, World, serial_ids, sigmoid

CATEGORIES = np.array(["bug", "how_to", "billing", "integration", "performance", "access"])
PRIORITIES = np.array(["low", "normal", "high", "urgent"])
RESOLUTION_FACTOR = np.array([1.5, 1.0, 0.8, 0.5])
GOAL_TARGETS = np.array([10.0, 25.0, 50.0, 100.0])


def tickets_table(w: World) -> pd.DataFrame:
    """Tickets from the support driver: more of them, more severe, more often bugs, escalated,
    reopened, slower to resolve and less satisfied as the account's defect load rises. Tickets
    come from the people who use the product, so their number also follows adoption (tickets per
    active user measure friction, not adoption)."""
    rng = w.rng
    months = w.month_starts[:-1]
    alive = (months[None, :] < w.alive_until[:, None]) & (months[None, :] >= w.created_at[:, None])
    users = np.sqrt(w.n_users[:, None] / 10) * sigmoid(-0.7 + 1.1 * w.adoption) / sigmoid(-0.7)
    rate = TICKET_RATE[w.segment, None] * users * np.exp(1.2 * w.friction)
    counts = rng.poisson(rate * alive)
    acct, month = np.nonzero(counts)
    acct, month = np.repeat(acct, counts[acct, month]), np.repeat(month, counts[acct, month])
    length = (w.month_starts[month + 1] - w.month_starts[month]) / DAY
    opened = w.month_starts[month].astype("datetime64[m]") + (
        rng.random(len(acct)) * length * 1440
    ).astype("timedelta64[m]")
    keep = opened < w.alive_until[acct]
    acct, month, opened = acct[keep], month[keep], opened[keep]
    f = w.friction[acct, month]
    n = len(acct)
    severe = sigmoid(-2.1 + 0.8 * f)
    u = rng.random(n)
    priority = np.select(
        [u < 0.3 * severe, u < severe, u < severe + 0.5 * (1 - severe)], [3, 2, 1], 0
    )
    resolution = rng.exponential(1.5 + 3.0 * sigmoid(f)) * RESOLUTION_FACTOR[priority]
    closed = opened + (resolution * 1440).astype("timedelta64[m]")
    closed = np.where(closed < w.end.astype("datetime64[m]"), closed, np.datetime64("NaT"))
    csat = np.clip(np.round(4.0 - 0.7 * f + rng.normal(0, 0.9, n)), 1, 5)
    csat = np.where((rng.random(n) < 0.5) & ~np.isnat(closed), csat, np.nan)
    # defects: a bug far more often when the defect load is high
    category = np.where(rng.random(n) < sigmoid(-1.6 + 0.9 * f), 0, rng.integers(1, 6, n))
    return pd.DataFrame(
        {
            "ticket_id": serial_ids("T", n, 7),
            "account_id": w.account_id[acct],
            "opened_at": opened.astype("datetime64[ns]"),
            "closed_at": closed.astype("datetime64[ns]"),
            "priority": pd.Categorical.from_codes(priority, PRIORITIES),
            "csat": csat.astype(np.float32),
            "escalated": rng.random(n) < sigmoid(-3.7 + 0.8 * f + 1.2 * (priority >= 2)),
            "reopened": rng.random(n) < sigmoid(-3.0 + 0.5 * f),
            "category": pd.Categorical(CATEGORIES[category]),
        }
    )


def goals_table(w: World) -> pd.DataFrame:
    """Yearly success plans of two or three goals, achieved fully, partially or missed, as the
    value driver (and a little adoption) at the due date says.

    Plans follow the account's anniversary whatever its contract length, so goal counts do
    not give away monthly billing; a churned account starts no new plan.
    """
    rng = w.rng
    year = 365
    first = np.maximum(0, np.ceil((w.start - year * DAY - w.created_at) / DAY / year)).astype(int)
    last = np.floor((w.end - DAY - w.created_at) / DAY / year).astype(int)
    n_plans = np.maximum(last - first + 1, 0)
    plan_acct = np.repeat(np.arange(w.n), n_plans)
    plan_no = np.repeat(first, n_plans) + (
        np.arange(len(plan_acct)) - np.repeat(np.cumsum(n_plans) - n_plans, n_plans)
    )
    plan_start = w.created_at[plan_acct] + plan_no * year * DAY
    per_plan = np.where(w.segment[plan_acct] == 0, 3, 2)
    acct = np.repeat(plan_acct, per_plan)
    created = np.repeat(plan_start, per_plan) + rng.integers(0, 30, len(acct)) * DAY
    due = created + rng.integers(90, 300, len(acct)) * DAY
    keep = (created < w.end) & (created < w.alive_until[acct])
    acct, created, due = acct[keep], created[keep], due[keep]
    n = len(acct)
    month = w.month_of(due)
    drive = 1.6 * w.value[acct, month] + 0.1 * w.adoption[acct, month]
    progress = np.clip(sigmoid(1.0 + drive + rng.normal(0, 0.3, n)) * 1.3, 0, 1)
    target = rng.choice(GOAL_TARGETS, n)
    full = progress >= 1
    assessed = np.where(full, due - rng.integers(0, 45, n) * DAY, due)
    assessed = np.maximum(assessed, created + DAY)
    known = (assessed < w.end) & (assessed < w.alive_until[acct])
    status = np.select([~known, full, progress >= 0.3], ["open", "achieved", "partial"], "missed")
    return pd.DataFrame(
        {
            "goal_id": serial_ids("G", n, 6),
            "account_id": w.account_id[acct],
            "created_at": created.astype("datetime64[ns]"),
            "target": target,
            "due_at": due.astype("datetime64[ns]"),
            "achieved": np.where(known, np.round(progress * target, 1), np.nan),
            "achieved_at": np.where(known, assessed, np.datetime64("NaT")).astype("datetime64[ns]"),
            "status": status,
        }
    )
