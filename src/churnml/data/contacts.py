"""Match contacts without an ``account_id`` to accounts by the domain of their email address.

``accounts.email_domain`` names each account's domain. A contact's domain matches exactly, or
after dropping leading sub-domains (``mail.acme.com`` -> ``acme.com``). A domain shared by several
accounts is ambiguous and matches none of them. The match statistics are kept in
``contacts.attrs["churnml_contact_match"]`` and reported by validation; the column
``account_match`` says how each contact got its account (``given``, ``email_domain``, ``unmatched``).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["email_domain", "match_contacts"]

_SUBDOMAIN_STEPS = 2
N_EXAMPLES = 3


def email_domain(values: pd.Series) -> pd.Series:
    """Lower-case domain of email addresses (``"Ann <ann@Acme.com>"`` -> ``"acme.com"``)."""
    text = values.astype("str").str.strip().str.lower()
    return text.str.extract(r"@([a-z0-9.\-]+?)\.?>?$", expand=False)


def _normalise_domains(values: pd.Series) -> pd.Series:
    text = values.astype("str").str.strip().str.lower()
    text = text.str.replace(r"^(?:https?://)?(?:www\.)?@?", "", regex=True).str.rstrip("/.")
    return text.where(text.ne(""))


def match_contacts(contacts: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Fill missing ``account_id`` of contacts from their email domain.

    Parameters
    ----------
    contacts : DataFrame
        Contract ``contacts`` table (``account_id`` and/or ``email``).
    accounts : DataFrame
        Contract ``accounts`` table; matching needs its ``email_domain`` column.

    Returns
    -------
    DataFrame
        A copy with ``account_id`` filled where the domain matched one account, an
        ``account_match`` column, and ``attrs["churnml_contact_match"]`` = dict of counts
        (needed, matched, unmatched, ambiguous) and examples.

    Examples
    --------
    >>> matched = match_contacts(tables["contacts"], tables["accounts"])  # doctest: +SKIP
    >>> matched.attrs["churnml_contact_match"]["matched"]  # doctest: +SKIP
    41
    """
    out = contacts.copy()
    if "account_id" not in out.columns:
        out["account_id"] = pd.Series(pd.NA, index=out.index, dtype="str")
    need = out["account_id"].isna()
    stats = {
        "total": len(out),
        "needed": int(need.sum()),
        "matched": 0,
        "unmatched": 0,
        "ambiguous": 0,
        "examples_matched": [],
        "examples_unmatched": [],
    }
    how = pd.Series("given", index=out.index, dtype="str")
    if need.any():
        matched_ids = pd.Series(pd.NA, index=out.index, dtype="str")
        ambiguous = pd.Series(False, index=out.index)
        if "email" in out.columns and "email_domain" in accounts.columns:
            owners = (
                pd.DataFrame(
                    {
                        "domain": _normalise_domains(accounts["email_domain"]),
                        "account_id": accounts["account_id"],
                    }
                )
                .dropna()
                .drop_duplicates()
            )
            counts = owners["domain"].value_counts()
            unique = owners[owners["domain"].map(counts).eq(1)].set_index("domain")["account_id"]
            shared = set(counts.index[counts.gt(1)])
            domain = email_domain(out.loc[need, "email"])
            for _ in range(_SUBDOMAIN_STEPS + 1):
                found = domain.map(unique)
                fill = found.notna() & matched_ids.loc[domain.index].isna()
                matched_ids.loc[fill[fill].index] = found[fill]
                ambiguous.loc[domain.index] |= (
                    domain.isin(shared) & matched_ids.loc[domain.index].isna()
                )
                domain = domain.str.replace(r"^[^.]+\.(?=[^.]+\.)", "", regex=True)
        hit = need & matched_ids.notna()
        out.loc[hit, "account_id"] = matched_ids[hit]
        how[hit] = "email_domain"
        how[need & ~hit] = "unmatched"
        label = "email" if "email" in out.columns else "contact_id"
        key = (
            out["contact_id"].astype("str")
            if "contact_id" in out.columns
            else out.index.astype("str")
        )
        sample = key + " (" + (out[label].astype("str") if label in out.columns else "") + ")"
        stats.update(
            matched=int(hit.sum()),
            unmatched=int((need & ~hit).sum()),
            ambiguous=int((need & ~hit & ambiguous).sum()),
            examples_matched=(sample[hit] + " -> " + out.loc[hit, "account_id"].astype("str"))
            .head(N_EXAMPLES)
            .tolist(),
            examples_unmatched=sample[need & ~hit].head(N_EXAMPLES).tolist(),
        )
    out["account_match"] = how
    out.attrs = {**contacts.attrs, "churnml_contact_match": stats}
    return out
