"""The Customer 360 data contract: the tables, their keys, columns and types.

Every loader maps a company's data onto these tables and every builder reads only
these names. Timestamps are normalised to UTC and stored tz-naive (``datetime64``);
``account_id`` and every other key is a string.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Column kinds used by the contract; validation parses each column to its kind.
KINDS = ("string", "timestamp", "float", "int", "bool")


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its primary key, required and optional columns (name -> kind)."""

    name: str
    key: tuple[str, ...]
    required: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)
    #: the column that dates a row (used for point-in-time cut-offs and "dated in the future")
    event_time: str | None = None
    mandatory: bool = False

    @property
    def columns(self) -> dict[str, str]:
        return {**self.required, **self.optional}


CONTRACT: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "accounts",
            key=("account_id",),
            required={"account_id": "string"},
            optional={
                "name": "string",
                "segment": "string",
                "industry": "string",
                "region": "string",
                "created_at": "timestamp",
                "csm": "string",
                "email_domain": "string",
                "touch_model": "string",
            },
            event_time="created_at",
            mandatory=True,
        ),
        TableSpec(
            "contracts",
            key=("contract_id",),
            required={
                "contract_id": "string",
                "account_id": "string",
                "start_date": "timestamp",
                "end_date": "timestamp",
                "arr": "float",
            },
            optional={
                "seats": "float",
                "outcome": "string",
                "outcome_date": "timestamp",
                "renewal_arr": "float",
            },
            event_time="start_date",
        ),
        TableSpec(
            "subscriptions",
            key=("subscription_id",),
            required={
                "subscription_id": "string",
                "account_id": "string",
                "start_date": "timestamp",
            },
            optional={  # mrr or arr is required too (checked by validation)
                "mrr": "float",
                "arr": "float",
                "end_date": "timestamp",
                "canceled_at": "timestamp",
                "seats": "float",
                "plan": "string",
                "billing_period": "string",
                "term_months": "int",
                "status": "string",
                "auto_renew": "bool",
            },
            event_time="start_date",
        ),
        TableSpec(
            "churn_events",
            key=(),
            required={"account_id": "string", "churned_at": "timestamp"},
            optional={"reason": "string", "comment": "string", "subscription_id": "string"},
            event_time="churned_at",
        ),
        TableSpec(
            "usage",
            key=(),
            required={"account_id": "string", "ts": "timestamp"},
            optional={"user_id": "string", "event": "string", "quantity": "float"},
            event_time="ts",
        ),
        TableSpec(
            "contacts",
            key=("contact_id",),
            required={"contact_id": "string"},
            optional={
                "account_id": "string",
                "email": "string",
                "role": "string",
                "started_at": "timestamp",
                "ended_at": "timestamp",
                "title": "string",
                "user_id": "string",
            },
            event_time="started_at",
        ),
        TableSpec(
            "tickets",
            key=("ticket_id",),
            required={"ticket_id": "string", "account_id": "string", "opened_at": "timestamp"},
            optional={
                "closed_at": "timestamp",
                "priority": "string",
                "csat": "float",
                "escalated": "bool",
                "reopened": "bool",
                "category": "string",
            },
            event_time="opened_at",
        ),
        TableSpec(
            "nps",
            key=("response_id",),
            required={"account_id": "string", "responded_at": "timestamp", "score": "float"},
            optional={"response_id": "string", "contact_id": "string", "comment": "string"},
            event_time="responded_at",
        ),
        TableSpec(
            "goals",
            key=("goal_id",),
            required={
                "goal_id": "string",
                "account_id": "string",
                "created_at": "timestamp",
                "target": "float",
            },
            optional={
                "due_at": "timestamp",
                "achieved": "float",
                "achieved_at": "timestamp",
                "status": "string",
            },
            event_time="created_at",
        ),
    )
}

TABLES: tuple[str, ...] = tuple(CONTRACT)
MANDATORY_TABLES: tuple[str, ...] = tuple(n for n, s in CONTRACT.items() if s.mandatory)
#: one of these is mandatory too: pre-cut renewal terms, or billing subscriptions that churnml cuts
#: into renewal terms itself (:mod:`churnml.data.subscriptions`); contracts win when both are given
BILLING_TABLES: tuple[str, ...] = ("contracts", "subscriptions")
#: of a subscriptions table, one of these is required
SUBSCRIPTION_AMOUNTS: tuple[str, ...] = ("arr", "mrr")

#: Allowed values of the curated categorical columns.
OUTCOMES = ("renewed", "churned", "downgraded", "expanded", "open")
ROLES = ("champion", "decision_maker", "power_user", "user", "admin", "executive_sponsor")
SEGMENTS = ("enterprise", "mid_market", "smb")
PRIORITIES = ("low", "normal", "high", "urgent")
#: billing periods of a subscription -> months per term (``multi_year`` needs ``term_months``)
BILLING_PERIODS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12, "multi_year": None}
#: (table, column) -> its allowed values: loading normalises the spelling to them ("Mid Market" ->
#: "mid_market") and validation reports values outside them
VOCABULARY = {
    ("contracts", "outcome"): OUTCOMES,
    ("contacts", "role"): ROLES,
    ("accounts", "segment"): SEGMENTS,
    ("tickets", "priority"): PRIORITIES,
    ("subscriptions", "billing_period"): tuple(BILLING_PERIODS),
}
