"""The synthetic world as HubSpot objects, the way the Fivetran connector lands them.

Companies (custom properties property_segment, property_region, property_touch_model), owners
(the CSMs), deals associated with their company: a won new-business deal for each company's first
term and one renewal deal per term, which sells the next term when won (deal type
existingbusiness, upsell or downsell), is lost when the company churned, or is still open; each
deal carries the dates of the term it sells in the custom properties property_contract_start_date
and property_contract_end_date and its seats in property_seats. Contacts (buying role, custom
properties property_left_company_date and property_product_user_id) and tickets with their
company association.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.vendors.ids import utc
from churnml.data.synthetic.vendors.salesforce import renewed_arr

__all__ = ["ROLES", "hubspot_tables"]

#: churnml role -> HubSpot buying role (hs_buying_role)
ROLES = {"champion": "CHAMPION", "decision_maker": "DECISION_MAKER",
         "executive_sponsor": "EXECUTIVE_SPONSOR", "power_user": "INFLUENCER",
         "user": "END_USER", "admin": "END_USER"}
PRIORITIES = {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "URGENT"}
#: the world's ticket categories as HubSpot's own; the others as options a portal added
CATEGORIES = {"bug": "PRODUCT_ISSUE", "billing": "BILLING_ISSUE", "how_to": "GENERAL_INQUIRY"}
DEAL_TYPES = {"renewed": "existingbusiness", "expanded": "upsell", "downgraded": "downsell"}
STAGES = pd.DataFrame({
    "stage_id": ["appointmentscheduled", "contractsent", "closedwon", "closedlost"],
    "label": ["Appointment scheduled", "Contract sent", "Closed won", "Closed lost"],
    "pipeline_id": "default", "display_order": [0, 1, 2, 3], "probability": [0.2, 0.9, 1.0, 0.0],
    "is_closed": [False, False, True, True], "closed_won": [False, False, True, False],
    "active": True,
})
DAY = pd.Timedelta(days=1)


def hubspot_tables(native: dict, ids, rng: np.random.Generator) -> dict:
    """HubSpot objects of :func:`~churnml.data.synthetic.make_saas` tables (see the module)."""
    owners = _owners(native["accounts"])
    deals = _deals(native["contracts"], native["accounts"], ids, rng)
    tickets = native["tickets"]
    ticket_ids = (7_000_000 + 13 * np.arange(len(tickets))).astype(str)
    return {
        "company": _companies(native["accounts"], ids, owners),
        "owner": owners,
        "deal": deals.drop(columns="company_id"),
        "deal_company": pd.DataFrame({"deal_id": deals["deal_id"], "company_id": deals["company_id"],
                                      "type_id": 5, "category": "HUBSPOT_DEFINED"}),
        "deal_pipeline_stage": STAGES.copy(),
        "contact": _contacts(native["contacts"], ids),
        "ticket": _tickets(tickets, ticket_ids, rng),
        "ticket_company": pd.DataFrame({
            "ticket_id": ticket_ids,
            "company_id": tickets["account_id"].astype("str").map(ids.account).to_numpy(),
            "category": "HUBSPOT_DEFINED"}),
    }


def _owners(accounts: pd.DataFrame) -> pd.DataFrame:
    names = pd.Series(np.sort(accounts["csm"].dropna().astype("str").unique()))
    parts = names.str.split(" ", n=1)
    return pd.DataFrame({"owner_id": (40_000 + np.arange(len(names))).astype(str),
                         "first_name": parts.str[0], "last_name": parts.str[1],
                         "email": names.str.lower().str.replace(" ", ".") + "@vendor.example",
                         "type": "PERSON"})


def _companies(accounts, ids, owners) -> pd.DataFrame:
    owner = pd.Series(owners["owner_id"].to_numpy(),
                      index=owners["first_name"] + " " + owners["last_name"])
    return pd.DataFrame({
        "id": ids.account.loc[accounts["account_id"].astype("str")].to_numpy(),
        "property_name": accounts["name"].to_numpy(),
        "property_industry": accounts["industry"].astype("str").str.upper().to_numpy(),
        "property_domain": accounts["email_domain"].to_numpy(),
        "property_createdate": utc(accounts["created_at"]).to_numpy(),
        "property_hubspot_owner_id": accounts["csm"].astype("str").map(owner).to_numpy(),
        "is_deleted": False,
        "property_segment": accounts["segment"].astype("str").to_numpy(),
        "property_region": accounts["region"].astype("str").to_numpy(),
        "property_touch_model": accounts["touch_model"].astype("str").to_numpy(),
    })


def _deals(contracts, accounts, ids, rng) -> pd.DataFrame:
    terms = contracts.sort_values(["account_id", "start_date"], kind="stable").reset_index(drop=True)
    terms["renewal_arr"] = renewed_arr(terms)
    group = terms.groupby("account_id", sort=False)
    outcome = terms["outcome"].astype("str")
    won, lost = outcome.isin(list(DEAL_TYPES)), outcome.eq("churned")
    length = terms["end_date"] - terms["start_date"]
    next_end = group["end_date"].shift(-1).fillna(terms["end_date"] + length)
    company = terms["account_id"].astype("str").map(ids.account)
    name = terms["account_id"].astype("str").map(
        accounts.set_index(accounts["account_id"].astype("str"))["name"])
    renewal = pd.DataFrame({
        "company_id": company,
        "deal_pipeline_stage_id": np.where(won, "closedwon", np.where(lost, "closedlost",
                                                                    "contractsent")),
        "property_dealname": name + " renewal " + terms["end_date"].dt.year.astype(str),
        "property_dealtype": outcome.map(DEAL_TYPES).fillna("existingbusiness"),
        "property_amount": np.where(won, terms["renewal_arr"], terms["arr"]),
        "property_closedate": utc(terms["outcome_date"].where(won | lost, terms["end_date"])),
        "property_createdate": utc(terms["end_date"] - 100 * DAY),
        "property_contract_start_date": utc(terms["end_date"]),
        "property_contract_end_date": utc(next_end),
        "property_seats": group["seats"].shift(-1).fillna(terms["seats"]),
    })
    first = terms[group.cumcount().eq(0).to_numpy()]
    new = pd.DataFrame({
        "company_id": company[first.index], "deal_pipeline_stage_id": "closedwon",
        "property_dealname": name[first.index] + " new business",
        "property_dealtype": "newbusiness", "property_amount": first["arr"],
        "property_closedate": utc(first["start_date"] - 10 * DAY),
        "property_createdate": utc(first["start_date"] - 60 * DAY),
        "property_contract_start_date": utc(first["start_date"]),
        "property_contract_end_date": utc(first["end_date"]),
        "property_seats": first["seats"],
    })
    deals = pd.concat([new, renewal], ignore_index=True)
    return deals.assign(deal_id=(3_000_000_000 + 17 * np.arange(len(deals))).astype(str),
                        deal_pipeline_id="default", is_deleted=False)


def _contacts(contacts: pd.DataFrame, ids) -> pd.DataFrame:
    local = contacts["email"].astype("str").str.split("@").str[0].str.split(".")
    return pd.DataFrame({
        "id": ids.contact.loc[contacts["contact_id"].astype("str")].to_numpy(),
        "property_email": contacts["email"].to_numpy(),
        "property_firstname": local.str[0].str.title().to_numpy(),
        "property_lastname": local.str[-1].str.title().to_numpy(),
        "property_jobtitle": contacts["title"].to_numpy(),
        "property_createdate": utc(contacts["started_at"]).to_numpy(),
        "property_associatedcompanyid": contacts["account_id"].astype("object").map(
            ids.account).to_numpy(),
        "property_hs_buying_role": contacts["role"].astype("str").map(ROLES).to_numpy(),
        "property_left_company_date": utc(contacts["ended_at"]).to_numpy(),
        "property_product_user_id": contacts["user_id"].astype("object").map(
            ids.segment_user).to_numpy(),
        "_fivetran_deleted": False,
    })


def _tickets(tickets: pd.DataFrame, ticket_ids, rng) -> pd.DataFrame:
    closed = tickets["closed_at"].notna()
    return pd.DataFrame({
        "id": ticket_ids,
        "property_subject": "Question about " + tickets["category"].astype("str"),
        "property_createdate": utc(tickets["opened_at"]).to_numpy(),
        "property_closed_date": utc(tickets["closed_at"]).to_numpy(),
        "property_hs_pipeline": "0",
        "property_hs_pipeline_stage": np.where(closed, "4", rng.choice(["1", "2", "3"],
                                                                        len(tickets))),
        "property_hs_ticket_priority": tickets["priority"].astype("str").map(PRIORITIES).to_numpy(),
        "property_hs_ticket_category": tickets["category"].astype("str").map(
            lambda c: CATEGORIES.get(c, c.upper())).to_numpy(),
        "is_deleted": False,
    })
