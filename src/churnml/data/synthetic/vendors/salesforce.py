"""The synthetic world as Salesforce objects, the way the Fivetran connector lands them.

Accounts (with the custom fields segment_c, region_c and touch_model_c, and two deleted
duplicates), their owners (the CSMs) as users, one Contract per renewal term (EndDate the last day
of the term), one renewal opportunity per term pointing at its contract (stage Closed Won, Closed
Lost or an open stage; type Renewal, Existing Customer - Upgrade or - Downgrade; a few deleted
duplicates), a won New Customer opportunity for each account's first contract, line items whose
quantity is the seats sold, contacts (custom fields left_company_date_c and product_user_id_c) with
their roles on the account's latest opportunity (plus an older role on an earlier one), and cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.vendors.ids import salesforce_ids, utc

__all__ = ["ROLES", "renewed_arr", "salesforce_tables"]

#: churnml role -> the opportunity contact roles written for it (drawn evenly)
ROLES = {
    "champion": ("Champion", "Influencer"),
    "decision_maker": ("Decision Maker", "Economic Buyer"),
    "executive_sponsor": ("Executive Sponsor",),
    "power_user": ("Evaluator",),
    "user": ("Business User",),
    "admin": ("Technical Buyer",),
}
PRIORITIES = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Critical"}
RENEWAL_TYPES = {"renewed": "Renewal", "expanded": "Existing Customer - Upgrade",
                 "downgraded": "Existing Customer - Downgrade"}
OPEN_STAGES = np.array(["Qualification", "Proposal/Price Quote", "Negotiation/Review"])
DAY = pd.Timedelta(days=1)


def _date(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values)).dt.date


def salesforce_tables(native: dict, ids, rng: np.random.Generator) -> dict:
    """Salesforce objects of :func:`~churnml.data.synthetic.make_saas` tables (see the module)."""
    users = _users(native["accounts"])
    accounts = _accounts(native["accounts"], ids, users, rng)
    terms = _terms(native["contracts"], ids)
    contracts = _contracts(terms)
    opportunities, sold = _opportunities(terms, native["accounts"], rng)
    contacts = _contacts(native["contacts"], ids)
    return {
        "account": accounts,
        "user": users,
        "contract": contracts,
        "opportunity": opportunities,
        "opportunity_line_item": _line_items(sold),
        "contact": contacts,
        "opportunity_contact_role": _contact_roles(native, ids, opportunities, rng),
        "case": _cases(native["tickets"], ids, rng),
    }


def _users(accounts: pd.DataFrame) -> pd.DataFrame:
    names = np.sort(accounts["csm"].dropna().astype("str").unique())
    first_last = pd.Series(names).str.lower().str.replace(" ", ".", regex=False)
    return pd.DataFrame({
        "id": salesforce_ids("005", len(names)), "name": names,
        "email": first_last + "@vendor.example", "title": "Customer Success Manager",
        "is_active": True,
    })


def _accounts(accounts, ids, users, rng) -> pd.DataFrame:
    owner = pd.Series(users["id"].to_numpy(), index=users["name"])
    out = pd.DataFrame({
        "id": ids.account.loc[accounts["account_id"].astype("str")].to_numpy(),
        "name": accounts["name"].to_numpy(),
        "type": "Customer - Direct",
        "industry": accounts["industry"].astype("str").str.title().to_numpy(),
        "website": ("https://www." + accounts["email_domain"].astype("str")).to_numpy(),
        "owner_id": accounts["csm"].astype("str").map(owner).to_numpy(),
        "created_date": utc(accounts["created_at"]).to_numpy(),
        "is_deleted": False,
        "segment_c": accounts["segment"].astype("str").map(
            {"enterprise": "Enterprise", "mid_market": "Mid-Market", "smb": "SMB"}).to_numpy(),
        "region_c": accounts["region"].astype("str").to_numpy(),
        "touch_model_c": accounts["touch_model"].astype("str").to_numpy(),
    })
    deleted = out.sample(n=min(2, len(out)), random_state=rng.integers(2**31)).assign(
        id=salesforce_ids("001", min(2, len(out)), offset=10**7), is_deleted=True)
    return pd.concat([out, deleted], ignore_index=True)


def _terms(contracts: pd.DataFrame, ids) -> pd.DataFrame:
    """Native terms in account order with their Salesforce ids, position and the next term."""
    terms = contracts.sort_values(["account_id", "start_date"], kind="stable").reset_index(drop=True)
    terms = terms.assign(sf_account=ids.account.loc[terms["account_id"].astype("str")].to_numpy(),
                         sf_contract=salesforce_ids("800", len(terms)),
                         outcome=terms["outcome"].astype("str"))
    group = terms.groupby("account_id", sort=False)
    return terms.assign(first=group.cumcount().eq(0),
                        next_seats=group["seats"].shift(-1).fillna(terms["seats"]),
                        renewal_arr=renewed_arr(terms))


def renewed_arr(terms: pd.DataFrame) -> pd.Series:
    """The ARR a won renewal booked: the next term's ARR (the world rounds its ``renewal_arr``
    apart from it; a CRM records one amount), else ``renewal_arr``."""
    following = terms.groupby("account_id", sort=False)["arr"].shift(-1)
    return following.where(terms["renewal_arr"].notna()).fillna(terms["renewal_arr"])


def _contracts(terms: pd.DataFrame) -> pd.DataFrame:
    months = np.rint((terms["end_date"] - terms["start_date"]).dt.days / 30.4375).astype(int)
    return pd.DataFrame({
        "id": terms["sf_contract"], "account_id": terms["sf_account"],
        "contract_number": np.char.zfill(np.arange(1, len(terms) + 1).astype(str), 8),
        "start_date": _date(terms["start_date"]), "end_date": _date(terms["end_date"] - DAY),
        "contract_term": months, "status": "Activated", "is_deleted": False,
    })


def _opportunities(terms: pd.DataFrame, accounts: pd.DataFrame, rng):
    """Renewal opportunities (one per term), won New Customer ones, and the won deals with the
    seats they sold (for line items)."""
    name = accounts.set_index(accounts["account_id"].astype("str"))["name"]
    company = terms["account_id"].astype("str").map(name)
    outcome = terms["outcome"]
    won = outcome.isin(list(RENEWAL_TYPES))
    closed = won | outcome.eq("churned")
    stage = np.where(won, "Closed Won", np.where(closed, "Closed Lost",
                                                  rng.choice(OPEN_STAGES, len(terms))))
    renewal = pd.DataFrame({
        "id": salesforce_ids("006", len(terms)), "account_id": terms["sf_account"],
        "contract_id": terms["sf_contract"],
        "name": company + " - Renewal " + terms["end_date"].dt.year.astype(str),
        "type": outcome.map(RENEWAL_TYPES).fillna("Renewal"),
        "stage_name": stage, "is_closed": closed, "is_won": won,
        "amount": np.where(won, terms["renewal_arr"], terms["arr"]),
        "close_date": _date(terms["outcome_date"].where(closed, terms["end_date"] - DAY)),
        "created_date": utc(terms["end_date"] - 120 * DAY),
        "probability": np.where(won, 100, np.where(closed, 0, 60)),
        "is_deleted": False,
    })
    first = terms[terms["first"]]
    new = pd.DataFrame({
        "id": salesforce_ids("006", len(first), offset=10**6), "account_id": first["sf_account"],
        "contract_id": first["sf_contract"], "name": company[first.index] + " - New Business",
        "type": "New Customer", "stage_name": "Closed Won", "is_closed": True, "is_won": True,
        "amount": first["arr"], "close_date": _date(first["start_date"] - 14 * DAY),
        "created_date": utc(first["start_date"] - 75 * DAY), "probability": 100,
        "is_deleted": False,
    })
    ghosts = renewal.sample(frac=0.02, random_state=rng.integers(2**31))
    ghosts = ghosts.assign(id=salesforce_ids("006", len(ghosts), offset=2 * 10**6),
                           is_deleted=True, stage_name="Closed Lost", is_won=False)
    sold = pd.concat([pd.DataFrame({"id": new["id"].to_numpy(), "seats": first["seats"].to_numpy(),
                                    "amount": new["amount"].to_numpy()}),
                      pd.DataFrame({"id": renewal["id"][won].to_numpy(),
                                    "seats": terms["next_seats"][won].to_numpy(),
                                    "amount": renewal["amount"][won].to_numpy()})])
    return pd.concat([new, renewal, ghosts], ignore_index=True), sold


def _line_items(sold: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "id": salesforce_ids("00k", len(sold)), "opportunity_id": sold["id"].to_numpy(),
        "name": "Platform seats", "quantity": sold["seats"].to_numpy(),
        "unit_price": (sold["amount"] / sold["seats"]).to_numpy(),
        "total_price": sold["amount"].to_numpy(), "is_deleted": False,
    })


def _contacts(contacts: pd.DataFrame, ids) -> pd.DataFrame:
    local = contacts["email"].astype("str").str.split("@").str[0].str.split(".")
    first, last = local.str[0].str.title(), local.str[-1].str.title()
    account = contacts["account_id"].astype("object")
    product = contacts["user_id"].astype("object")
    return pd.DataFrame({
        "id": ids.contact.loc[contacts["contact_id"].astype("str")].to_numpy(),
        "account_id": account.map(ids.account).to_numpy(),
        "first_name": first.to_numpy(), "last_name": last.to_numpy(),
        "name": (first + " " + last).to_numpy(), "email": contacts["email"].to_numpy(),
        "title": contacts["title"].to_numpy(),
        "created_date": utc(contacts["started_at"]).to_numpy(),
        "is_deleted": False,
        "left_company_date_c": _date(contacts["ended_at"]).to_numpy(),
        "product_user_id_c": product.map(ids.segment_user).to_numpy(),
    })


def _contact_roles(native, ids, opportunities, rng) -> pd.DataFrame:
    """Each contact's role on its account's latest opportunity; some also hold an older role on
    the account's earliest one (the preset takes the latest)."""
    contacts = native["contacts"]
    account = contacts["account_id"].astype("object")
    by_domain = native["accounts"].set_index(
        native["accounts"]["email_domain"].astype("str").str.lower())["account_id"]
    domain = contacts["email"].astype("str").str.split("@").str[-1].str.lower()
    account = account.fillna(domain.map(by_domain)).map(ids.account)
    live = opportunities[~opportunities["is_deleted"]].sort_values(["close_date", "id"])
    latest = live.groupby("account_id")["id"].last()
    earliest = live.groupby("account_id")["id"].first()
    role = contacts["role"].astype("str")
    first, last = ({r: v[i] for r, v in ROLES.items()} for i in (0, -1))
    written = np.where(rng.random(len(role)) < 0.5, role.map(first), role.map(last))
    created = utc(contacts["started_at"]) + pd.Timedelta(hours=2)
    current = pd.DataFrame({
        "contact_id": ids.contact.loc[contacts["contact_id"].astype("str")].to_numpy(),
        "opportunity_id": account.map(latest).to_numpy(), "role": written,
        "is_primary": role.eq("decision_maker").to_numpy(), "created_date": created.to_numpy(),
        "is_deleted": False,
    })
    older = current.assign(opportunity_id=account.map(earliest).to_numpy(), role="Business User",
                           is_primary=False, created_date=(created - 30 * DAY).to_numpy())
    older = older[(rng.random(len(older)) < 0.1) & older["opportunity_id"].ne(current["opportunity_id"])]
    out = pd.concat([current, older], ignore_index=True).dropna(subset=["opportunity_id"])
    return out.assign(id=salesforce_ids("00K", len(out)))


def _cases(tickets: pd.DataFrame, ids, rng) -> pd.DataFrame:
    closed = tickets["closed_at"].notna()
    return pd.DataFrame({
        "id": salesforce_ids("500", len(tickets)),
        "account_id": tickets["account_id"].astype("str").map(ids.account).to_numpy(),
        "case_number": np.char.zfill(np.arange(1, len(tickets) + 1).astype(str), 8),
        "created_date": utc(tickets["opened_at"]).to_numpy(),
        "closed_date": utc(tickets["closed_at"]).to_numpy(),
        "is_closed": closed.to_numpy(),
        "status": np.where(closed, "Closed", rng.choice(["New", "Working"], len(tickets))),
        "priority": tickets["priority"].astype("str").map(PRIORITIES).to_numpy(),
        "is_escalated": tickets["escalated"].astype(bool).to_numpy(),
        "type": tickets["category"].astype("str").str.replace("_", " ").str.title().to_numpy(),
        "origin": rng.choice(["Email", "Web", "Phone"], len(tickets)),
        "is_deleted": False,
    })
