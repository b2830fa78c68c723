"""Keys across systems: how each table's customer key reaches the CRM's ``account_id``.

A company's billing, support and product-analytics systems each know the customer by their own
id. A mapping says, per table, how that id reaches the account (``account_key:``), in one of three
ways::

    keys:                                   # the key map: one row per (system, external id)
      table: account_keys                   # file: / table: / sql:, like a contract table
      columns: {system: source, external_id: ext_id, account_id: crm_id}
    tables:
      usage:
        account_key: {column: group_id}               # the column holds the CRM account id
      subscriptions:
        account_key: {column: customer, system: stripe}  # through the key map, system "stripe"
      tickets:
        account_key: {email: requester_email}         # the email's domain (accounts.email_domain)

``{column: X}`` is the same as ``columns: {account_id: X}``. Through the key map, an external id
listed for several accounts is ambiguous and reaches none. By email, the domain matches
``accounts.email_domain`` exactly or after dropping sub-domains, as contacts are matched
(:func:`churnml.data.contacts.match_contacts`). A row that reaches no account keeps an empty
``account_id``; ``validate`` reports per table the share of rows that reached an account and
examples of those that did not (:func:`key_findings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

__all__ = ["ATTRS_KEY", "AccountKey", "KeyMap", "key_findings", "resolve_keys"]

#: ``frame.attrs`` entry recording how a table's account keys were resolved
ATTRS_KEY = "churnml_account_key"
KEYMAP_COLUMNS = ("system", "external_id", "account_id")
N_EXAMPLES = 3


@dataclass(frozen=True)
class AccountKey:
    """``account_key:`` of one table: ``column`` (with ``system``: through the key map) or
    ``email``."""

    table: str
    column: str | None = None
    system: str | None = None
    email: str | None = None

    def __post_init__(self):
        where = f"mapping tables.{self.table}.account_key"
        given = {k: getattr(self, k) for k in ("column", "system", "email")
                 if getattr(self, k) is not None}
        bad = {k: v for k, v in given.items() if not isinstance(v, str) or not v.strip()}
        if bad:
            raise ValueError(f"{where}: values must be non-empty strings, but got {bad!r}")
        if (self.column is None) == (self.email is None):
            raise ValueError(f"{where}: give either column (optionally with system) or email, "
                             f"but got {given!r}")
        if self.system is not None and self.column is None:
            raise ValueError(f"{where}: system goes with column (the column holding that "
                             f"system's id), but got {given!r}")

    @property
    def source_column(self) -> str:
        return self.column or self.email

    @property
    def how(self) -> str:
        if self.email is not None:
            return f"email domain of {self.email}"
        if self.system is not None:
            return f"key map, system {self.system!r}, from {self.column}"
        return f"column {self.column}"


@dataclass(frozen=True)
class KeyMap:
    """``keys:``: where the key map is read from and its column names."""

    file: str | None = None
    table: str | None = None
    sql: str | None = None
    columns: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self):
        origins = [k for k in ("file", "table", "sql") if getattr(self, k) is not None]
        if len(origins) != 1:
            raise ValueError(f"mapping keys: give one of file, table or sql, but got {origins}")
        columns = dict(self.columns or {})
        unknown = [c for c in columns if c not in KEYMAP_COLUMNS]
        if unknown:
            raise ValueError(f"mapping keys.columns: keys must be {list(KEYMAP_COLUMNS)}, but "
                             f"got {unknown}")
        if self.sql is not None:
            from churnml.data.confine import check_select

            check_select(self.sql, "mapping keys.sql")
        object.__setattr__(self, "columns", MappingProxyType(columns))

    @property
    def origin(self) -> tuple[str, str]:
        kind = next(k for k in ("sql", "file", "table") if getattr(self, k) is not None)
        return kind, getattr(self, kind)


def key_lookup(keymap: pd.DataFrame, system: str) -> pd.Series:
    """external_id -> account_id of one system; ids listed for several accounts left out."""
    rows = keymap.loc[keymap["system"].astype("string").eq(system).fillna(False),
                      ["external_id", "account_id"]].dropna().astype(str).drop_duplicates()
    counts = rows["external_id"].value_counts()
    rows = rows[rows["external_id"].map(counts).eq(1)]
    return rows.set_index("external_id")["account_id"]


def resolve_keys(frame: pd.DataFrame, key: AccountKey, keymap, accounts) -> pd.DataFrame:
    """``frame`` with ``account_id`` from its key (see the module docstring) and the
    :data:`ATTRS_KEY` record."""
    out = frame.copy(deep=False)
    raw = out[key.source_column]
    if key.system is not None:
        found = raw.astype("string").map(key_lookup(keymap, key.system))
        out["account_id"] = found.astype("str").where(found.notna())
    elif key.email is not None:
        from churnml.data.contacts import match_contacts

        matched = match_contacts(pd.DataFrame({"email": raw.to_numpy()}), accounts)
        out["account_id"] = matched["account_id"].to_numpy()
    out.attrs = {**frame.attrs, ATTRS_KEY: {"how": key.how, "column": key.source_column}}
    return out


def _finding(table, how, total, reached, examples):
    from churnml.data.checks import finding

    share = reached / total if total else 1.0
    out = [finding(table, "account_id", "account_key_match", "info", reached, [],
                   f"{reached:,} of {total:,} {table} rows reached an account by {how} "
                   f"({share:.1%})")]
    if reached < total:
        out.append(finding(table, "account_id", "account_key_unmatched", "warning",
                           total - reached, examples,
                           f"{total - reached:,} {table} rows reached no account by {how}; "
                           "they are left out of every indicator"))
    return out


def key_findings(tables: dict) -> list[dict]:
    """Per table with an ``account_key``: the share of rows that reached an account, and
    examples of those that did not (pandas tables here, lazy ones in SQL)."""
    from churnml.sources.lazy import is_lazy

    accounts = tables.get("accounts")
    if accounts is None or "account_id" not in accounts:
        return []
    known = pd.Index(accounts["account_id"].dropna().astype(str).unique())
    out = []
    for name, frame in tables.items():
        info = getattr(frame, "attrs", {}).get(ATTRS_KEY)
        if not info or name == "accounts":
            continue
        if is_lazy(frame):
            from churnml.data.sql_checks import key_reach

            total, reached, examples = key_reach(frame, known)
        else:
            ids = frame["account_id"]
            hit = ids.notna() & ids.astype("string").isin(known).fillna(False)
            total, reached = len(frame), int(hit.sum())
            raw = frame.loc[~hit, info["column"]].head(N_EXAMPLES) if info["column"] in frame \
                else pd.Series([], dtype=object)
            examples = [f"{info['column']}={v}" for v in raw]
        out += _finding(name, info["how"], total, reached, examples)
    return out
