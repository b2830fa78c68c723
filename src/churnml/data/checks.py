"""The individual data-quality checks behind :func:`churnml.data.validate.validate`.

Each check takes parsed contract tables and returns a list of finding dicts (table, column,
check, severity, count, examples, message). Checks are vectorised over whole columns.
"""

from __future__ import annotations

import pandas as pd

from churnml.data.contract import (
    BILLING_TABLES,
    CONTRACT,
    MANDATORY_TABLES,
    SUBSCRIPTION_AMOUNTS,
    VOCABULARY,
)
from churnml.data.duplicates import duplicated_rows

N_EXAMPLES = 3

#: columns that date something that has already happened, so must not lie after ``now``
PAST_COLUMNS = {
    "accounts": ("created_at",),
    "contracts": ("outcome_date",),
    "subscriptions": ("canceled_at",),
    "churn_events": ("churned_at",),
    "usage": ("ts",),
    "contacts": ("started_at", "ended_at"),
    "tickets": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "goals": ("created_at", "achieved_at"),
}
#: curated columns a CSM team fills by hand; mostly empty means the data is not being kept
CURATED = {
    "accounts": ("segment", "csm", "industry", "region", "email_domain"),
    "contracts": ("seats", "outcome"),
    "contacts": ("role",),
    "tickets": ("priority",),
}
MOSTLY_EMPTY_SHARE = 0.5


def finding(table, column, check, severity, count, examples, message) -> dict:
    """One row of the validation report."""
    return {
        "table": table,
        "column": column,
        "check": check,
        "severity": severity,
        "count": int(count),
        "examples": "; ".join(str(e) for e in examples),
        "message": message,
    }


def row_labels(frame: pd.DataFrame, mask: pd.Series, table: str, columns=()) -> list[str]:
    """Example rows as ``key=value (col=value, ...)`` strings for the first few rows in ``mask``."""
    rows = frame.loc[mask].head(N_EXAMPLES)
    key = [k for k in CONTRACT[table].key if k in frame.columns]
    if not key and "account_id" in frame.columns:
        columns = ("account_id", *columns)
    shown = list(dict.fromkeys(c for c in columns if c in frame.columns and c not in key))
    labels = []
    for pos in range(len(rows)):
        ident = ", ".join(f"{k}={rows[k].iloc[pos]}" for k in key) or f"row {rows.index[pos]}"
        extra = ", ".join(f"{c}={rows[c].iloc[pos]}" for c in shown)
        labels.append(f"{ident} ({extra})" if extra else ident)
    return labels


def missing_tables(tables) -> list[dict]:
    out = [
        finding(name, "", "missing_table", "fatal", 1, [f"tables given: {sorted(tables)}"],
                f"mandatory table {name} is missing")
        for name in MANDATORY_TABLES
        if name not in tables
    ]  # fmt: skip
    if not any(name in tables for name in BILLING_TABLES):
        out.append(
            finding("|".join(BILLING_TABLES), "", "missing_table", "fatal", 1,
                    [f"tables given: {sorted(tables)}"],
                    "a billing table is missing: give contracts (renewal terms) or subscriptions")
        )  # fmt: skip
    return out


def missing_columns(name, frame) -> list[dict]:
    spec = CONTRACT[name]
    out = [
        finding(name, column, "missing_column", "fatal", 1, [f"columns present: {list(frame.columns)}"],
                f"required column {column} is missing from table {name}")
        for column in spec.required
        if column not in frame.columns
    ]  # fmt: skip
    if name == "subscriptions" and not any(c in frame.columns for c in SUBSCRIPTION_AMOUNTS):
        out.append(
            finding(name, "mrr|arr", "missing_column", "fatal", 1,
                    [f"columns present: {list(frame.columns)}"],
                    "subscriptions need mrr or arr (the recurring revenue of each subscription)")
        )  # fmt: skip
    if name == "contacts" and "account_id" not in frame.columns and "email" not in frame.columns:
        out.append(
            finding(name, "account_id|email", "missing_column", "fatal", 1,
                    [f"columns present: {list(frame.columns)}"],
                    "contacts need account_id or email (to match by email domain)")
        )  # fmt: skip
    return out


def unparseable(name, frame) -> list[dict]:
    info = frame.attrs.get("churnml", {})
    return [
        finding(name, p["column"], "unparseable", "fatal", p["count"], p["examples"],
                f"{p['count']} values of {name}.{p['column']} do not parse as {p['kind']}")
        for p in info.get("unparseable", [])
    ]  # fmt: skip


def mixed_timezones(name, frame) -> list[dict]:
    info = frame.attrs.get("churnml", {})
    return [
        finding(name, m["column"], "mixed_timezones", "warning", m["zoned"] + m["naive"], m["examples"],
                f"{name}.{m['column']} mixes {m['zoned']} values with a UTC offset and {m['naive']} "
                "without; naive ones were read in the mapping's timezone (default UTC)")
        for m in info.get("mixed_timezones", [])
    ]  # fmt: skip


def duplicate_keys(name, frame) -> list[dict]:
    key = [k for k in CONTRACT[name].key if k in frame.columns]
    if not key:
        return []
    present = frame[key].notna().all(axis=1)
    dup = frame[key].duplicated(keep=False) & present
    if not dup.any():
        return []
    n = int(frame.loc[dup, key].duplicated().sum())
    return [
        finding(
            name,
            ",".join(key),
            "duplicate_key",
            "fatal",
            n,
            row_labels(frame, dup, name),
            f"{n} duplicate values of the primary key {','.join(key)} in table {name}",
        )
    ]


def missing_keys(name, frame) -> list[dict]:
    spec = CONTRACT[name]
    out = []
    for column, kind in spec.required.items():
        if column not in frame.columns or (
            kind != "string" and column not in ("start_date", "end_date", "churned_at")
        ):
            continue
        if name == "contacts" and column == "account_id":
            continue
        bad = frame[column].isna()
        if bad.any():
            out.append(
                finding(name, column, "missing_value", "warning", bad.sum(),
                        row_labels(frame, bad, name, CONTRACT[name].required),
                        f"{int(bad.sum())} rows of {name} have no {column}; they are ignored")
            )  # fmt: skip
    return out


def contract_rules(tables) -> list[dict]:
    out = []
    contracts = tables.get("contracts")
    if contracts is not None and {"start_date", "end_date"} <= set(contracts.columns):
        bad = contracts["end_date"] < contracts["start_date"]
        if bad.any():
            out.append(
                finding("contracts", "end_date", "end_before_start", "fatal", bad.sum(),
                        row_labels(contracts, bad, "contracts", ("start_date", "end_date")),
                        f"{int(bad.sum())} contracts end before they start")
            )  # fmt: skip
    for column in ("arr", "renewal_arr"):
        if contracts is not None and column in contracts.columns:
            bad = pd.to_numeric(contracts[column], errors="coerce") < 0
            if bad.any():
                out.append(
                    finding("contracts", column, "negative_arr", "fatal", bad.sum(),
                            row_labels(contracts, bad, "contracts", (column,)),
                            f"{int(bad.sum())} contracts have negative {column}")
                )  # fmt: skip
    nps = tables.get("nps")
    if nps is not None and "score" in nps.columns:
        score = pd.to_numeric(nps["score"], errors="coerce")
        bad = (score < 0) | (score > 10)
        if bad.any():
            out.append(
                finding("nps", "score", "score_out_of_range", "fatal", bad.sum(),
                        row_labels(nps, bad, "nps", ("account_id", "score")),
                        f"{int(bad.sum())} NPS scores lie outside 0-10")
            )  # fmt: skip
    return out


def orphans(tables) -> list[dict]:
    accounts = tables.get("accounts")
    if accounts is None or "account_id" not in accounts.columns:
        return []
    known = pd.Index(accounts["account_id"].dropna().unique())
    out = []
    for name, frame in tables.items():
        if name in ("accounts",) or name not in CONTRACT or "account_id" not in frame.columns:
            continue
        ids = frame["account_id"]
        bad = ids.notna() & ~ids.isin(known)
        if bad.any():
            out.append(
                finding(name, "account_id", "orphan_key", "warning", bad.sum(),
                        row_labels(frame, bad, name, ("account_id",)),
                        f"{int(bad.sum())} rows of {name} name an account_id not in accounts")
            )  # fmt: skip
    return out


def future_rows(tables, now: pd.Timestamp) -> list[dict]:
    out = []
    for name, columns in PAST_COLUMNS.items():
        frame = tables.get(name)
        if frame is None:
            continue
        for column in columns:
            if column not in frame.columns or not pd.api.types.is_datetime64_any_dtype(
                frame[column]
            ):
                continue
            bad = frame[column] > now
            if bad.any():
                out.append(
                    finding(name, column, "future_date", "warning", bad.sum(),
                            row_labels(frame, bad, name, (column,)),
                            f"{int(bad.sum())} rows of {name} have {column} after {now:%Y-%m-%d %H:%M}")
                )  # fmt: skip
    return out


def curated_columns(tables) -> list[dict]:
    out = []
    for name, columns in CURATED.items():
        frame = tables.get(name)
        if frame is None or not len(frame):
            continue
        for column in columns:
            if column not in frame.columns:
                continue
            empty = frame[column].isna()
            share = float(empty.mean())
            if share > MOSTLY_EMPTY_SHARE:
                out.append(
                    finding(name, column, "mostly_empty", "warning", empty.sum(), row_labels(frame, empty, name),
                            f"{name}.{column} is empty in {share:.0%} of rows ({int(empty.sum())} of {len(frame)})")
                )  # fmt: skip
    for (name, column), allowed in VOCABULARY.items():
        frame = tables.get(name)
        if frame is None or column not in frame.columns:
            continue
        values = frame[column].astype("str").str.strip().str.lower()
        bad = frame[column].notna() & ~values.isin(allowed)
        if bad.any():
            out.append(
                finding(name, column, "unknown_value", "warning", bad.sum(),
                        row_labels(frame, bad, name, (column,)),
                        f"{int(bad.sum())} values of {name}.{column} are not one of {', '.join(allowed)}")
            )  # fmt: skip
    return out


def duplicated_usage(tables) -> list[dict]:
    usage = tables.get("usage")
    if usage is None or not len(usage):
        return []
    columns = [
        c for c in ("account_id", "user_id", "ts", "event", "quantity") if c in usage.columns
    ]
    dup = pd.Series(duplicated_rows(usage, columns), index=usage.index)  # exact, via row hashes
    if not dup.any():
        return []
    return [
        finding("usage", ",".join(columns), "duplicate_rows", "warning", dup.sum(),
                row_labels(usage, dup, "usage", ("account_id", "user_id", "ts", "event")),
                f"{int(dup.sum())} usage rows repeat an earlier row exactly; they are counted twice")
    ]  # fmt: skip


def contact_matching(tables) -> list[dict]:
    contacts = tables.get("contacts")
    stats = None if contacts is None else contacts.attrs.get("churnml_contact_match")
    if not stats or not stats.get("needed"):
        return []
    rate = stats["matched"] / stats["needed"]
    out = [
        finding("contacts", "account_id", "matched_by_email_domain", "info", stats["matched"],
                stats["examples_matched"],
                f"{stats['matched']} of {stats['needed']} contacts without account_id matched by email domain "
                f"(match rate {rate:.0%})")
    ]  # fmt: skip
    if stats["unmatched"]:
        out.append(
            finding("contacts", "account_id", "contact_unmatched", "warning", stats["unmatched"],
                    stats["examples_unmatched"],
                    f"{stats['unmatched']} contacts match no account by email domain "
                    f"({stats['ambiguous']} because their domain is shared by several accounts)")
        )  # fmt: skip
    return out


def skipped_indicators(tables, catalog=None) -> list[dict]:
    """One info row per missing optional column (or table) that skips indicators, naming them:
    what ``build_features`` will skip, said before any feature is built."""
    from churnml.features.catalog import load_catalog
    from churnml.features.requirements import skip_groups
    from churnml.features.requirements import skipped_indicators as skipped

    present = {name: frame for name, frame in tables.items() if name in CONTRACT}
    groups = skip_groups(skipped(catalog or load_catalog(), present))
    return [
        finding(row.table, row.column, "indicators_skipped", "info", row.count,
                row.indicators.split(", "),
                f"{row.cause}: {row.count} indicator{'s' if row.count != 1 else ''} will be skipped")
        for row in groups.itertuples(index=False)
    ]  # fmt: skip
