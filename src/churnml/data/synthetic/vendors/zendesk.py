"""The synthetic world's support tickets as Zendesk Support tables, the way the Fivetran
connector lands them.

Organizations (the CRM's account id in ``external_id``), tickets (status solved or closed when the
world closed them, a few deleted ones), the status history in ``ticket_field_history`` (a reopened
ticket is solved, opened again and solved at its close), satisfaction ratings good (a CSAT of 4 or
5), bad (1 or 2) or offered without an answer (3), and tags (``escalated``, the category, noise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.vendors.ids import utc

__all__ = ["csat_as_rated", "zendesk_tables"]

TYPES = {"bug": "problem", "performance": "incident", "access": "incident", "billing": "question",
         "how_to": "question", "integration": "task"}


def csat_as_rated(csat: pd.Series) -> pd.Series:
    """The CSAT Zendesk's good/bad rating keeps: 5 for good (4 or 5), 1 for bad (1 or 2), missing
    for 3 (offered, not answered) — what the zendesk preset reads back."""
    values = pd.to_numeric(csat, errors="coerce")
    return pd.Series(np.select([values >= 4, values <= 2], [5.0, 1.0], np.nan),
                     index=csat.index).where(values.notna())


def zendesk_tables(native: dict, ids, rng: np.random.Generator) -> dict:
    """Zendesk tables of :func:`~churnml.data.synthetic.make_saas` tables (see the module)."""
    tickets = native["tickets"].reset_index(drop=True)
    ticket_id = 10_000 + np.arange(len(tickets))
    return {
        "organization": _organizations(native["accounts"], ids),
        "ticket": _tickets(tickets, ticket_id, ids, native["usage"]["ts"].max(), rng),
        "ticket_field_history": _history(tickets, ticket_id),
        "satisfaction_rating": _ratings(tickets, ticket_id),
        "ticket_tag": _tags(tickets, ticket_id, rng),
    }


def _organizations(accounts: pd.DataFrame, ids) -> pd.DataFrame:
    native = accounts["account_id"].astype("str")
    return pd.DataFrame({
        "id": native.map(ids.zendesk_organization).to_numpy(), "name": accounts["name"].to_numpy(),
        "external_id": native.map(ids.account).to_numpy(),
        "created_at": utc(accounts["created_at"]).to_numpy(), "details": None,
        "shared_tickets": False, "shared_comments": False,
    })


def _tickets(tickets, ticket_id, ids, data_end, rng) -> pd.DataFrame:
    closed = tickets["closed_at"].notna()
    archived = closed & (tickets["closed_at"] + pd.Timedelta(days=4) < data_end)
    status = np.where(archived, "closed", np.where(closed, "solved",
                                                   rng.choice(["open", "pending"], len(tickets))))
    out = pd.DataFrame({
        "id": ticket_id,
        "organization_id": tickets["account_id"].astype("str").map(ids.zendesk_organization),
        "requester_id": 900_000 + rng.integers(0, 5_000, len(tickets)),
        "created_at": utc(tickets["opened_at"]), "updated_at": utc(tickets["closed_at"]
                                                                   .fillna(tickets["opened_at"])),
        "status": status, "priority": tickets["priority"].astype("str"),
        "type": tickets["category"].astype("str").map(TYPES),
        "subject": "About " + tickets["category"].astype("str").str.replace("_", " "),
        "via_channel": rng.choice(["email", "web", "api"], len(tickets)),
        "is_public": True,
    })
    spam = out.sample(frac=0.01, random_state=rng.integers(2**31))
    spam = spam.assign(id=5_000_000 + np.arange(len(spam)), status="deleted")
    return pd.concat([out, spam], ignore_index=True)


def _history(tickets, ticket_id) -> pd.DataFrame:
    opened, closed = tickets["opened_at"], tickets["closed_at"]
    reopened = tickets["reopened"].astype(bool)
    first_solve = opened + (closed.fillna(opened + pd.Timedelta(days=2)) - opened) / 3
    rows = [
        (np.ones(len(tickets), bool), opened, "new"),
        (reopened, first_solve, "solved"),
        (reopened, first_solve + pd.Timedelta(hours=6), "open"),
        (closed.notna(), closed, "solved"),
    ]
    parts = [pd.DataFrame({"ticket_id": ticket_id[mask], "field_name": "status",
                           "updated": utc(when[mask]).to_numpy(), "value": value})
             for mask, when, value in rows]
    priority = pd.DataFrame({"ticket_id": ticket_id, "field_name": "priority",
                             "updated": utc(opened).to_numpy(),
                             "value": tickets["priority"].astype("str").to_numpy()})
    return pd.concat([*parts, priority], ignore_index=True).assign(user_id=None)


def _ratings(tickets, ticket_id) -> pd.DataFrame:
    csat = pd.to_numeric(tickets["csat"], errors="coerce")
    rated = csat.notna().to_numpy()
    when = tickets["closed_at"].fillna(tickets["opened_at"]) + pd.Timedelta(hours=3)
    score = np.select([csat >= 4, csat <= 2], ["good", "bad"], "offered")[rated]
    return pd.DataFrame({
        "id": 77_000 + np.arange(int(rated.sum())), "ticket_id": ticket_id[rated],
        "score": score, "created_at": utc(when[rated]).to_numpy(),
        "comment": np.where(score == "bad", "Took too long", None), "reason": None,
    })


def _tags(tickets, ticket_id, rng) -> pd.DataFrame:
    escalated = tickets["escalated"].astype(bool).to_numpy()
    noise = rng.random(len(tickets)) < 0.2
    return pd.concat([
        pd.DataFrame({"ticket_id": ticket_id[escalated], "tag": "escalated"}),
        pd.DataFrame({"ticket_id": ticket_id, "tag": tickets["category"].astype("str").to_numpy()}),
        pd.DataFrame({"ticket_id": ticket_id[noise], "tag": "vip"}),
    ], ignore_index=True)
