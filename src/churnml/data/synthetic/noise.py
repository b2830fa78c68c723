"""Data-quality noise real exports have, injected at a known rate so validation can be checked.

Returns the noisy tables and the exact count of each kind of noise injected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.world import serial_ids


def inject_noise(tables: dict, rng: np.random.Generator, rate: float) -> dict[str, int]:
    """Mutate ``tables`` in place; return {kind: count}."""
    counts = {}
    contacts = tables["contacts"]
    n = len(contacts)
    picks = rng.permutation(n)
    by_domain = picks[: round(rate * n)]
    unmatched = picks[len(by_domain) : len(by_domain) + round(rate * n / 4)]
    account_id = contacts["account_id"].to_numpy(dtype=object, copy=True)
    account_id[np.concatenate([by_domain, unmatched])] = None
    email = contacts["email"].to_numpy().copy()
    if len(unmatched):  # a private address: no account's domain
        email[unmatched] = np.char.add(
            np.char.partition(email[unmatched].astype(str), "@")[:, 0], "@gmail.com"
        )
    contacts["account_id"] = pd.array(account_id, dtype="string")
    contacts["email"] = email
    counts["contacts_matched_by_domain"] = len(by_domain)
    counts["contacts_unmatched"] = len(unmatched)

    accounts = tables["accounts"]
    blank = rng.choice(len(accounts), round(rate * len(accounts)), replace=False)
    segment = accounts["segment"].copy()
    segment.iloc[blank] = np.nan
    accounts["segment"] = segment
    counts["accounts_missing_segment"] = len(blank)

    usage = tables["usage"]
    dup = rng.choice(len(usage), round(rate * 0.05 * len(usage)), replace=False)
    tables["usage"] = pd.concat([usage, usage.iloc[np.sort(dup)]], ignore_index=True)
    counts["usage_duplicate_rows"] = len(dup)

    tickets = tables["tickets"]
    orphan = rng.choice(len(tickets), round(rate * 0.2 * len(tickets)), replace=False)
    ids = tickets["account_id"].to_numpy(dtype=object, copy=True)
    ids[orphan] = serial_ids("X", len(orphan), 5, first=0)
    tickets["account_id"] = ids.astype(str)
    counts["tickets_orphan_account"] = len(orphan)
    return counts
