"""The synthetic world's billing as Stripe objects, the way the Airbyte Stripe source lands them.

A transform of :func:`~churnml.data.synthetic.export.export_subscriptions` (one subscription per
continuous run of terms): customers (epoch ``created``, the CRM's account id in ``metadata``),
subscriptions (epoch ``start_date``, ``canceled_at``, ``ended_at``; status ``active`` or
``canceled``) and one subscription item each, whose ``price`` object (JSON) holds the per-seat
amount in cents (``unit_amount``, and exactly in ``unit_amount_decimal``) and the recurring
interval (1 or 3 months, or 1 to 3 years).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.vendors.ids import epoch_seconds, hex_ids

__all__ = ["stripe_tables"]


def stripe_tables(export: dict, ids, rng: np.random.Generator) -> dict:
    """Stripe tables of a subscription export (see the module)."""
    customers = export["customers"]
    subs = export["subscriptions"]
    customer = subs["customer_id"].astype("str").map(ids.stripe_customer)
    created = epoch_seconds(subs["started_at"])
    return {
        "customers": _customers(customers, ids),
        "subscriptions": pd.DataFrame({
            "id": subs["id"].to_numpy(), "object": "subscription", "customer": customer.to_numpy(),
            "status": np.where(subs["status"].eq("active"), "active", "canceled"),
            "created": created.to_numpy(), "start_date": created.to_numpy(),
            "billing_cycle_anchor": created.to_numpy(),
            "cancel_at_period_end": subs["churned"].to_numpy(),
            "canceled_at": epoch_seconds(subs["canceled_at"]).to_numpy(),
            "ended_at": epoch_seconds(subs["ended_at"]).to_numpy(),
            "collection_method": "send_invoice", "livemode": True, "metadata": "{}",
        }),
        "subscription_items": _items(subs, created, rng),
    }


def _customers(customers: pd.DataFrame, ids) -> pd.DataFrame:
    native = customers["customer_id"].astype("str")
    crm = native.map(ids.account)
    metadata = '{"' + ids.crm_key + '": "' + crm + '"}'
    return pd.DataFrame({
        "id": native.map(ids.stripe_customer).to_numpy(), "object": "customer",
        "name": customers["company_name"].to_numpy(),
        "email": ("billing@" + customers["website"].astype("str").str.lower()).to_numpy(),
        "created": epoch_seconds(customers["signup_date"]).to_numpy(),
        "currency": "usd", "delinquent": False, "metadata": metadata.to_numpy(),
    })


def _items(subs: pd.DataFrame, created: pd.Series, rng) -> pd.DataFrame:
    months = subs["contract_months"].astype(int)
    yearly = months.ge(12) & months.mod(12).eq(0)
    interval = np.where(yearly, "year", "month")
    count = np.where(yearly, months // 12, months)
    cents = subs["arr"].to_numpy() * 100.0 * months.to_numpy() / 12.0 / subs["quantity"].to_numpy()
    price_ids = hex_ids("price_", len(subs), rng, 14)
    text = pd.Series  # JSON objects written column-wise (ids and plan names hold no quotes)
    prices = ('{"id": "' + text(price_ids) + '", "object": "price", "currency": "usd", '
              '"nickname": "' + subs["plan_name"].astype("str").reset_index(drop=True)
              + '", "unit_amount": ' + text(np.rint(cents).astype(np.int64)).astype(str)
              + ', "unit_amount_decimal": "' + text(np.char.mod("%.10f", cents))
              + '", "recurring": {"interval": "' + text(interval) + '", "interval_count": '
              + text(count).astype(str) + "}}")
    return pd.DataFrame({
        "id": hex_ids("si_", len(subs), rng, 14), "object": "subscription_item",
        "subscription": subs["id"].to_numpy(), "quantity": subs["quantity"].astype(int).to_numpy(),
        "created": created.to_numpy(), "price": prices.to_numpy(),
    })
