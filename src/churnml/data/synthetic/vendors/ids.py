"""The ids each system gives the synthetic world's accounts, people and users.

One CRM (Salesforce or HubSpot) owns the account id; billing (Stripe), support (Zendesk), product
analytics (Segment) and the survey tool have their own ids and carry the CRM's account id in their
standard cross-reference place (a customer's metadata, an organization's external id, a group
trait, a person property). :func:`vendor_ids` draws them all once, in a fixed order, so every
table of an export agrees and a test can translate the world's native ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["CRMS", "VendorIds", "digits", "epoch_seconds", "hex_ids", "salesforce_ids", "utc",
           "vendor_ids"]

#: the CRM of a vendor set -> the name of its account id where other systems carry it
CRMS = {"salesforce": "salesforce_account_id", "hubspot": "hubspot_company_id"}
_ALPHABET = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def digits(values: np.ndarray, base: int, width: int, upper: bool = False) -> np.ndarray:
    """Non-negative integers written in ``base`` (up to 36) with ``width`` digits, as strings."""
    values = np.asarray(values, dtype=np.int64)
    powers = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
    alphabet = np.frombuffer(bytes(_ALPHABET).upper(), dtype=np.uint8) if upper else _ALPHABET
    chars = alphabet[(values[:, None] // powers) % base]
    return np.ascontiguousarray(chars).view(f"S{width}").ravel().astype(str)


def salesforce_ids(prefix: str, n: int, offset: int = 0) -> np.ndarray:
    """18-character Salesforce-style record ids: a 3-character key prefix, a pod, a serial."""
    serial = np.arange(offset, offset + n, dtype=np.int64) + 36**6
    return np.char.add(np.char.add(f"{prefix}8d", digits(serial, 36, 10, upper=True)), "AAQ")


def hex_ids(prefix: str, n: int, rng: np.random.Generator, width: int = 14) -> np.ndarray:
    """``prefix`` + ``width`` (at most 15) random hexadecimal digits, all distinct."""
    raw = pd.unique(rng.integers(0, 16**width, size=n + n // 8 + 8, dtype=np.int64))[:n]
    if len(raw) < n:
        raise RuntimeError("could not draw distinct ids")
    return np.char.add(prefix, digits(raw, 16, width))


def utc(values) -> pd.Series:
    """Naive UTC timestamps as zone-aware UTC (what warehouse loaders write)."""
    return pd.to_datetime(pd.Series(values)).dt.tz_localize("UTC")


def epoch_seconds(values) -> pd.Series:
    """Naive UTC timestamps as epoch seconds (``Int64``, missing stays missing)."""
    stamps = pd.to_datetime(pd.Series(values))
    seconds = (stamps - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    return seconds.astype("Int64")


@dataclass(frozen=True)
class VendorIds:
    """Per-system ids of the world's accounts (indexed by the native ``account_id``) and users."""

    crm: str
    account: pd.Series  # native account_id -> the CRM's account id
    stripe_customer: pd.Series
    zendesk_organization: pd.Series
    segment_group: pd.Series
    segment_user: pd.Series  # native usage user_id -> Segment user id
    contact: pd.Series  # native contact_id -> the CRM's contact id

    @property
    def crm_key(self) -> str:
        """Where other systems keep the CRM's account id (``salesforce_account_id``, ...)."""
        return CRMS[self.crm]


def vendor_ids(native: dict, crm: str = "salesforce", seed: int = 0) -> VendorIds:
    """Draw every system's ids for ``native`` (:func:`~churnml.data.synthetic.make_saas` tables).

    Examples
    --------
    >>> from churnml.data.synthetic import make_saas
    >>> ids = vendor_ids(make_saas(n_accounts=20, months=6, seed=1))
    >>> ids.account.iloc[0][:3], ids.stripe_customer.iloc[0][:4]
    ('001', 'cus_')
    """
    if crm not in CRMS:
        raise ValueError(f"crm must be one of {sorted(CRMS)}, but got {crm!r}")
    rng = np.random.default_rng([seed, 31])
    native_accounts = native["accounts"]["account_id"].astype("str").to_numpy()
    n = len(native_accounts)
    users = pd.unique(pd.Series(native["usage"]["user_id"].astype("str").unique()))
    users = np.union1d(users, native["contacts"]["user_id"].dropna().astype("str").unique())
    contacts = native["contacts"]["contact_id"].astype("str").to_numpy()
    if crm == "salesforce":
        account, contact = salesforce_ids("001", n), salesforce_ids("003", len(contacts))
    else:
        account = (9_100_000_000 + 7 * np.arange(n)).astype(str)
        contact = (51 + 3 * np.arange(len(contacts))).astype(str)
    index = pd.Index(native_accounts, name="account_id")
    return VendorIds(
        crm=crm,
        account=pd.Series(account, index=index),
        stripe_customer=pd.Series(hex_ids("cus_", n, rng, 14), index=index),
        zendesk_organization=pd.Series(360_000_000_000 + 11 * np.arange(n), index=index),
        segment_group=pd.Series(hex_ids("ws_", n, rng, 12), index=index),
        segment_user=pd.Series(hex_ids("usr_", len(users), rng, 12), index=pd.Index(users)),
        contact=pd.Series(contact, index=pd.Index(contacts, name="contact_id")),
    )
