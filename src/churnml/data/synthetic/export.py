"""The synthetic world as a foreign billing export, the shape most companies' data has.

A transform of :func:`~churnml.data.synthetic.make_saas`'s tables (it reads only the native tables
and the oracle): customers under other column names; one subscription per continuous run of
renewal terms, a new one on each expansion or downgrade, open ones without an end date, MRR and
ARR, seats, plan, billing interval, status and a churn flag, and for churned ones a Stripe-like
``canceled_at`` some days before the scheduled end; a separate churn-events table (customer,
churn date, reason code, feedback); product events keyed by subscription; support tickets without
the reopened / category / escalated fields; NPS responses and people under other names; no goals.
:data:`MAPPING` maps it onto the contract without cutting any term in SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MAPPING", "export_subscriptions", "make_saas_export", "write_export"]

PLANS = {"enterprise": "Enterprise", "mid_market": "Business", "smb": "Starter"}
TIERS = {"enterprise": "Enterprise", "mid_market": "Mid Market", "smb": "SMB"}
INTERVALS = {1: "monthly", 3: "quarterly", 12: "annual"}
REASONS = {
    "price": "Too expensive for what we use",
    "budget_cut": "Budget was cut this year",
    "product_fit": "Missing features we need",
    "champion_left": "Our main user left the company",
    "competitor": "Moved to another vendor",
    "low_usage": "The team stopped using it",
}

#: the mapping of this export onto the contract (``generate --export subscriptions`` writes it
#: next to the files as ``mapping.yaml``, with ``source: .``)
MAPPING = """\
# churnml mapping for a subscription billing export (churnml generate --export subscriptions).
# Subscriptions are given as they are: churnml cuts the renewal terms itself, on billing
# anniversaries, so a churned term ends on its scheduled renewal date, never on the churn date.
tables:
  accounts:
    table: customers
    columns: {account_id: customer_id, name: company_name, segment: tier, industry: vertical,
              region: geo, created_at: signup_date, csm: account_owner, email_domain: website,
              touch_model: coverage_model}
  subscriptions:            # the file subscriptions.parquet, columns renamed
    columns: {subscription_id: id, account_id: customer_id, start_date: started_at,
              end_date: ended_at, canceled_at: canceled_at, mrr: mrr, arr: arr, seats: quantity,
              plan: plan_name, billing_period: interval, term_months: contract_months,
              status: status, auto_renew: auto_renew}
  churn_events:
    columns: {account_id: customer_id, churned_at: churn_date, reason: reason_code,
              comment: feedback}
  usage:                    # product events are keyed by subscription: join back to the account
    sql: |
      SELECT s.customer_id AS account_id, e.occurred_at AS ts, e.user_login AS user_id,
             e.feature AS event, e.event_count AS quantity
      FROM product_events e JOIN subscriptions s ON s.id = e.subscription_id
  tickets:
    table: support_tickets
    columns: {ticket_id: id, account_id: org_id, opened_at: created_at, closed_at: solved_at,
              priority: severity, csat: satisfaction}
  nps:
    table: nps_responses
    columns: {response_id: id, account_id: customer_id, contact_id: person_id,
              responded_at: submitted_at, score: rating, comment: feedback}
  contacts:
    table: people
    columns: {contact_id: person_id, account_id: customer_id, email: email, role: persona,
              started_at: since, ended_at: until, title: job_title, user_id: login}
"""


def _runs(contracts: pd.DataFrame) -> pd.DataFrame:
    """Contract terms with the number of their subscription (a new one after each ARR change)."""
    c = contracts.sort_values(["account_id", "start_date"], kind="stable").reset_index(drop=True)
    changed = c["outcome"].astype("str").isin(["expanded", "downgraded"])
    first = c["account_id"].ne(c["account_id"].shift())
    after_change = changed.shift(fill_value=False) & ~first
    return c.assign(run=(first | after_change).cumsum() - 1)


def _subscriptions(native: dict, rng: np.random.Generator) -> pd.DataFrame:
    c = _runs(native["contracts"])
    grouped = c.groupby("run", sort=True)
    head, tail = grouped.head(1).set_index("run"), grouped.tail(1).set_index("run")
    months = np.rint((head["end_date"] - head["start_date"]).dt.days / 30.4375).astype(int)
    outcome = tail["outcome"].astype("str")
    churned, active = outcome.eq("churned"), outcome.eq("open")
    # Stripe: the cancellation is requested during the last term and takes effect at its end
    hours = pd.to_timedelta(rng.integers(9 * 60, 18 * 60, len(tail)), unit="min")
    before_end = tail["end_date"] - pd.Timedelta(hours=1)
    canceled = (tail["outcome_date"] + hours).clip(upper=before_end).where(churned)
    segment = native["accounts"].set_index("account_id")["segment"].astype("str")
    seg = tail["account_id"].map(segment).fillna("smb")
    arr = tail["arr"].to_numpy()
    return pd.DataFrame(
        {
            "id": np.char.add("sub_", np.char.zfill(np.arange(len(tail)).astype(str), 6)),
            "customer_id": tail["account_id"].to_numpy(),
            "plan_name": seg.map(PLANS).to_numpy(),
            "interval": months.map(INTERVALS).fillna("multi_year").to_numpy(),
            "contract_months": months.to_numpy(),
            "quantity": tail["seats"].to_numpy(),
            "mrr": np.round(arr / 12.0, 2),
            "arr": arr,
            "currency": "usd",
            "status": np.where(active, "active", np.where(churned, "canceled", "ended")),
            "started_at": head["start_date"].to_numpy(),
            "canceled_at": canceled.to_numpy(),
            "ended_at": tail["end_date"].where(~active).to_numpy(),
            "churned": churned.to_numpy(),
            "auto_renew": True,
        }
    ), tail["outcome_date"].where(churned).to_numpy()


def _churn_events(subs: pd.DataFrame, decided, rng: np.random.Generator, noise_rate: float):
    """One event per churned subscription, dated the day the customer decided (the world's
    decision date, the day of the cancellation or the day after); ``noise_rate`` of them are
    missing (churn the team never logged)."""
    churned = subs["churned"].to_numpy()
    logged = churned & (rng.random(len(subs)) >= noise_rate)
    reason = rng.choice(list(REASONS), int(logged.sum()))
    return pd.DataFrame(
        {
            "customer_id": subs.loc[logged, "customer_id"].to_numpy(),
            "churn_date": pd.to_datetime(decided[logged]).normalize(),
            "reason_code": reason,
            "feedback": pd.Series(reason).map(REASONS).to_numpy(),
        }
    )


def _product_events(usage: pd.DataFrame, subs: pd.DataFrame) -> pd.DataFrame:
    """Usage keyed by the subscription running at each event (the first one before any starts)."""
    from churnml.features.sources import account_codes

    accounts = pd.Index(pd.unique(subs["customer_id"]))
    left = pd.DataFrame({"acct": account_codes(usage["account_id"], accounts),
                         "ts": usage["ts"].to_numpy(), "_row": np.arange(len(usage))})
    right = pd.DataFrame({"acct": accounts.get_indexer(subs["customer_id"]).astype("int32"),
                          "ts": subs["started_at"].to_numpy(), "sub": np.arange(len(subs))})
    right = right.sort_values("ts")
    joined = pd.merge_asof(left.sort_values("ts"), right, on="ts", by="acct", direction="backward")
    first = right.groupby("acct")["sub"].first()
    sub = joined["sub"].fillna(joined["acct"].map(first)).to_numpy()
    order = joined["_row"].to_numpy()
    code = np.full(len(usage), -1, dtype=np.int64)
    code[order] = np.nan_to_num(sub, nan=-1).astype(np.int64)
    keep = code >= 0  # usage of accounts without a subscription has no key in such an export
    return pd.DataFrame(
        {
            "subscription_id": pd.Categorical.from_codes(code[keep], subs["id"].to_numpy()),
            "occurred_at": usage["ts"].to_numpy()[keep],
            "user_login": usage["user_id"].to_numpy()[keep] if "user_id" in usage else None,
            "feature": usage["event"].to_numpy()[keep],
            "event_count": usage["quantity"].to_numpy()[keep],
        }
    )


def export_subscriptions(native: dict, *, seed: int = 0, noise_rate: float = 0.02) -> dict:
    """Rewrite :func:`make_saas` tables as a subscription billing export (see the module doc).

    Parameters
    ----------
    native : dict of DataFrame
        Output of :func:`churnml.data.synthetic.make_saas`.
    seed : int
        Seed of the export's own draws (cancellation times, churn reasons, unlogged churn).
    noise_rate : float
        Share of churned subscriptions without a churn event.

    Returns
    -------
    dict of DataFrame
        customers, subscriptions, churn_events, product_events, support_tickets, nps_responses,
        people, and the world's oracle and oracle_terms unchanged; map them with :data:`MAPPING`.

    Examples
    --------
    >>> from churnml.data.synthetic import make_saas
    >>> export = export_subscriptions(make_saas(n_accounts=40, months=6, seed=1))
    >>> sorted(export)[:3]
    ['churn_events', 'customers', 'nps_responses']
    """
    rng = np.random.default_rng(seed)
    subs, decided = _subscriptions(native, rng)
    accounts = native["accounts"]
    tickets = native["tickets"]
    return {
        "customers": pd.DataFrame({
            "customer_id": accounts["account_id"], "company_name": accounts["name"],
            "tier": accounts["segment"].astype("str").map(TIERS), "vertical": accounts["industry"],
            "geo": accounts["region"], "signup_date": accounts["created_at"],
            "account_owner": accounts["csm"], "website": accounts["email_domain"],
            "coverage_model": accounts["touch_model"]}),
        "subscriptions": subs,
        "churn_events": _churn_events(subs, decided, rng, noise_rate),
        "product_events": _product_events(native["usage"], subs),
        "support_tickets": pd.DataFrame({
            "id": tickets["ticket_id"], "org_id": tickets["account_id"],
            "created_at": tickets["opened_at"], "solved_at": tickets["closed_at"],
            "severity": tickets["priority"].astype("str").str.capitalize(),
            "satisfaction": tickets["csat"]}),
        "nps_responses": native["nps"].rename(columns={
            "response_id": "id", "account_id": "customer_id", "contact_id": "person_id",
            "responded_at": "submitted_at", "score": "rating", "comment": "feedback"}),
        "people": native["contacts"].rename(columns={
            "contact_id": "person_id", "account_id": "customer_id", "role": "persona",
            "started_at": "since", "ended_at": "until", "title": "job_title", "user_id": "login"}),
        "oracle": native["oracle"],
        "oracle_terms": native["oracle_terms"],
    }


def make_saas_export(n_accounts: int = 2000, months: int = 24, seed: int = 0, **kwargs) -> dict:
    """:func:`make_saas` (same arguments) written as a subscription export
    (:func:`export_subscriptions`)."""
    from churnml.data.synthetic.generate import make_saas

    native = make_saas(n_accounts=n_accounts, months=months, seed=seed, **kwargs)
    return export_subscriptions(native, seed=seed, noise_rate=kwargs.get("noise_rate", 0.02))


def write_export(native: dict, folder, *, seed: int = 0) -> int:
    """Write :func:`export_subscriptions` of ``native`` as Parquet files plus ``mapping.yaml``
    (with ``source: .``) into ``folder``; print what was written (``churnml generate --export``)."""
    from pathlib import Path

    from churnml.data.atomic import atomic_path
    from churnml.data.load import write_tables

    export = export_subscriptions(native, seed=seed)
    paths = write_tables(export, folder)
    for name, path in paths.items():
        print(f"{name:<16} {len(export[name]):>12,} rows  {path}")
    mapping = Path(folder) / "mapping.yaml"
    with atomic_path(mapping) as tmp:
        tmp.write_text("source: .\n" + MAPPING, encoding="utf-8")
    print(f"{'mapping':<16} {'':>12}       {mapping}")
    return 0
