"""The synthetic world's NPS responses as a Delighted survey export, the way the Airbyte
Delighted source lands it: ``survey_responses`` (score 0-10, comment, epoch ``created_at``, and
the person properties the survey was sent with as JSON: company name, the CRM's account and
contact ids) and ``people`` (the respondents)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.vendors.ids import epoch_seconds

__all__ = ["survey_tables"]


def survey_tables(native: dict, ids, rng: np.random.Generator) -> dict:
    """``survey_responses`` and ``people`` of the world's NPS responses."""
    nps = native["nps"].reset_index(drop=True)
    contacts = native["contacts"].set_index(native["contacts"]["contact_id"].astype("str"))
    contact = nps["contact_id"].astype("str")
    person = pd.Series(pd.factorize(contact)[0] + 4_000_000, index=nps.index).astype(str)
    accounts = native["accounts"].set_index(native["accounts"]["account_id"].astype("str"))
    account = nps["account_id"].astype("str")
    crm = ids.crm_key.split("_")[0]
    properties = ('{"Company": "' + account.map(accounts["name"]) + '", "' + ids.crm_key
                  + '": "' + account.map(ids.account) + '", "' + crm + '_contact_id": "'
                  + contact.map(ids.contact) + '"}')
    created = epoch_seconds(nps["responded_at"])
    responses = pd.DataFrame({
        "id": (80_000_000 + np.arange(len(nps))).astype(str), "person": person,
        "survey_type": "nps", "score": pd.to_numeric(nps["score"]).round().astype("Int64"),
        "comment": nps["comment"].astype("object").where(nps["comment"].notna(), None),
        "permalink": "https://delighted.example/r/" + person, "created_at": created,
        "updated_at": created + rng.integers(0, 3_600, len(nps)),
        "person_properties": properties, "notes": "[]", "tags": "[]",
    })
    people = pd.DataFrame({"id": person, "email": contact.map(contacts["email"]),
                           "name": contact.map(contacts["title"])}).drop_duplicates("id")
    return {"survey_responses": responses, "people": people.assign(created_at=created.min())}
