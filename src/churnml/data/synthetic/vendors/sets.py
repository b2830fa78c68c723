"""The synthetic world as the raw tables of the systems a customer-success team's data live in.

A *vendor set* is one CRM (Salesforce or HubSpot) with Stripe billing, Zendesk support, Segment
product analytics and a Delighted NPS survey, every table under its system's own name, ids, types
and quirks (see each module), plus the success-plan goals as a plain export and the world's
oracle keyed by the CRM's account ids. It is a transform of
:func:`~churnml.data.synthetic.make_saas`'s native tables, so the presets
(:mod:`churnml.sources`) can be checked to map it back onto the same contract tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.vendors.ids import vendor_ids

__all__ = ["SYSTEMS", "VENDOR_SETS", "export_vendors", "success_goals"]

#: vendor set -> its CRM
VENDOR_SETS = {"salesforce": "salesforce", "hubspot": "hubspot"}
#: the schemas of a set besides its CRM's: billing, support, product analytics, NPS survey
SYSTEMS = ("stripe", "zendesk", "segment", "delighted")


def export_vendors(native: dict, crm: str = "salesforce", *, seed: int = 0,
                   tracks: bool = True) -> dict:
    """Rewrite :func:`~churnml.data.synthetic.make_saas` tables as a vendor set.

    Parameters
    ----------
    native : dict of DataFrame
        The world's native tables (with ``oracle`` and ``oracle_terms``).
    crm : {"salesforce", "hubspot"}
        The CRM that owns the account ids.
    seed : int
        Seed of the export's own draws (ids, times of day, quirks).
    tracks : bool
        Include Segment's ``tracks`` (one row per event; writers stream them instead).

    Returns
    -------
    dict of DataFrame
        ``schema.table`` -> table for every system of the set, each in the schema its ingestion
        tool would land it in (``salesforce.account``, ``stripe.subscriptions``,
        ``zendesk.ticket``, ``segment.tracks``, ``delighted.survey_responses``, ...), plus
        ``success_plan_goals``, ``oracle`` and ``oracle_terms``.

    Examples
    --------
    >>> from churnml.data.synthetic import make_saas
    >>> raw = export_vendors(make_saas(n_accounts=30, months=6, seed=1), tracks=False)
    >>> sorted(name for name in raw if name.startswith("zendesk."))[:2]
    ['zendesk.organization', 'zendesk.satisfaction_rating']
    """
    from churnml.data.synthetic.export import export_subscriptions
    from churnml.data.synthetic.vendors.hubspot import hubspot_tables
    from churnml.data.synthetic.vendors.salesforce import salesforce_tables
    from churnml.data.synthetic.vendors.segment import segment_tables
    from churnml.data.synthetic.vendors.stripe import stripe_tables
    from churnml.data.synthetic.vendors.survey import survey_tables
    from churnml.data.synthetic.vendors.zendesk import zendesk_tables

    if crm not in VENDOR_SETS:
        raise ValueError(f"crm must be one of {sorted(VENDOR_SETS)}, but got {crm!r}")
    ids = vendor_ids(native, crm, seed)
    rng = np.random.default_rng([seed, 5])
    crm_tables = (salesforce_tables if crm == "salesforce" else hubspot_tables)(native, ids, rng)
    systems = {
        crm: crm_tables,
        "stripe": stripe_tables(export_subscriptions(native, seed=seed), ids, rng),
        "zendesk": zendesk_tables(native, ids, rng),
        "segment": segment_tables(native, ids, rng, seed, tracks=tracks),
        "delighted": survey_tables(native, ids, rng),
    }
    out = {f"{schema}.{name}": frame for schema, tables in systems.items()
           for name, frame in tables.items()}
    out["success_plan_goals"] = success_goals(native["goals"], ids)
    for name in ("oracle", "oracle_terms"):
        if name in native:
            out[name] = _rekeyed(native[name], ids)
    return out


def success_goals(goals: pd.DataFrame, ids) -> pd.DataFrame:
    """Goals as a success-plan tool exports them: keyed by the CRM's account id."""
    return goals.rename(columns={"goal_id": "id", "account_id": "crm_account_id"}).assign(
        crm_account_id=goals["account_id"].astype("str").map(ids.account).to_numpy())


def _rekeyed(frame: pd.DataFrame, ids) -> pd.DataFrame:
    return frame.assign(account_id=frame["account_id"].astype("str").map(ids.account).to_numpy())
