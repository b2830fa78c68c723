"""What the native synthetic world looks like through a vendor set, for the preset round trips.

:func:`expected_tables` is the world's native tables with every id translated to the vendor
set's ids (the CRM's account and contact ids, Segment's user ids and event names), contacts
matched to accounts by email domain as loading does, a won renewal's ARR as the next term's (a CRM
records one amount), and the two things a vendor keeps coarser: Zendesk's good/bad satisfaction (CSAT 5 or 1) and fields a system
does not have (left out). :func:`canonical` puts a contract table in an order and form in which a
table read through a preset and the expected one can be compared, ids aside.
"""

from __future__ import annotations

import pandas as pd

from churnml.data.contacts import match_contacts
from churnml.data.synthetic.vendors.salesforce import renewed_arr
from churnml.data.synthetic.vendors.segment import EVENTS
from churnml.data.synthetic.vendors.zendesk import csat_as_rated

SLUGS = {k: v.lower().replace(" ", "_") for k, v in EVENTS.items()}
#: contract table -> columns compared (ids that only name rows are left out)
COMPARED = {
    "accounts": ["account_id", "name", "segment", "industry", "region", "created_at", "csm",
                 "email_domain", "touch_model"],
    "contracts": ["account_id", "start_date", "end_date", "arr", "seats", "outcome",
                  "outcome_date", "renewal_arr"],
    "contacts": ["account_id", "email", "role", "started_at", "ended_at", "title", "user_id"],
    "tickets": ["account_id", "opened_at", "closed_at", "priority", "csat", "escalated",
                "reopened", "category"],
    "usage": ["account_id", "user_id", "ts", "event", "quantity"],
    "nps": ["account_id", "contact_id", "responded_at", "score", "comment"],
    "goals": ["account_id", "created_at", "target", "due_at", "achieved", "achieved_at",
              "status"],
    "subscriptions": ["account_id", "start_date", "end_date", "canceled_at", "arr", "seats",
                      "term_months", "plan", "status"],
}


def expected_tables(native: dict, ids, *, drop: dict | None = None, roles_on_deals: bool = True
                    ) -> dict:
    """The native tables as the vendor set should give them back (see the module); with
    ``roles_on_deals`` (Salesforce: roles are opportunity contact roles) a contact that reaches
    no account has no role."""
    account = ids.account
    out = {name: native[name].copy() for name in COMPARED if name in native}
    for frame in out.values():
        frame["account_id"] = frame["account_id"].astype("object").map(account)
    contacts = out["contacts"]
    contacts["contact_id"] = contacts["contact_id"].astype("str").map(ids.contact)
    contacts["user_id"] = contacts["user_id"].astype("object").map(ids.segment_user)
    usage = out["usage"]
    usage["user_id"] = usage["user_id"].astype("str").map(ids.segment_user)
    usage["event"] = usage["event"].astype("str").map(SLUGS)
    out["nps"]["contact_id"] = out["nps"]["contact_id"].astype("str").map(ids.contact)
    matched = match_contacts(contacts, out["accounts"])
    if roles_on_deals:  # a contact that reaches no account holds no role on its opportunities
        matched = matched.assign(role=matched["role"].where(matched["account_id"].notna()))
    out["contacts"] = matched
    out["tickets"]["csat"] = csat_as_rated(out["tickets"]["csat"])
    terms = out["contracts"].sort_values(["account_id", "start_date"], kind="stable")
    out["contracts"] = terms.assign(renewal_arr=renewed_arr(terms))
    for name, columns in (drop or {}).items():
        out[name] = out[name].drop(columns=columns)
    return out


def canonical(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s compared columns, text folded (``How To`` = ``how_to``), usage summed per
    user, event and day, rows in a fixed order."""
    columns = [c for c in COMPARED[name] if c in frame.columns]
    out = frame[columns].copy()
    for column in columns:
        values = out[column]
        if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object or \
                isinstance(values.dtype, pd.StringDtype):
            text = values.astype("object").where(values.notna())
            out[column] = text.map(lambda v: str(v).lower().replace(" ", "_"), na_action="ignore")
        elif pd.api.types.is_bool_dtype(values):
            out[column] = values.astype("boolean")
        elif pd.api.types.is_numeric_dtype(values):
            out[column] = values.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.astype("datetime64[ns]")
    if name == "usage":
        out = out.groupby(["account_id", "user_id", "ts", "event"], as_index=False)["quantity"].sum()
    order = [c for c in columns if c in out.columns]
    return out.sort_values(order, kind="stable", na_position="first").reset_index(drop=True)


def assert_same_table(name: str, got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The compared columns of ``got`` equal ``expected``'s (money to a cent in a million)."""
    left, right = canonical(name, got), canonical(name, expected)
    assert list(left.columns) == list(right.columns), (name, list(left.columns), list(right.columns))
    pd.testing.assert_frame_equal(left, right, check_dtype=False, rtol=1e-6, obj=name)


def assert_same_features(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Every indicator of every (account, as_of) row equal, and the same rows and labels (the
    renewing contract's id aside)."""
    key = ["account_id", "as_of"]
    left = got.drop(columns="contract_id").sort_values(key).reset_index(drop=True)
    right = expected.drop(columns="contract_id").sort_values(key).reset_index(drop=True)
    assert sorted(left.columns) == sorted(right.columns)
    pd.testing.assert_frame_equal(left[right.columns], right, check_dtype=False,
                                  check_categorical=False, rtol=1e-6)
