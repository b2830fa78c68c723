"""Validate contract tables: one tidy report, and one error listing every fatal problem.

Fatal: a missing mandatory table (accounts, and contracts or subscriptions) or required column,
values that do not parse, duplicate primary keys, contracts or subscriptions ending before they
start, NPS scores outside 0-10, negative ARR or MRR. Warnings: orphan account keys, rows dated in
the future, mixed time zones in a raw column, mostly-empty curated columns, unknown category
values, duplicated usage rows, contacts matching no account, subscriptions without a term length
or with a closed status but no date, churn events that disagree with the billing. Info: the
email-domain match rate of contacts, the share of churn events near a billing end, which billing
table is used when both are given, and per missing optional column or table the indicators that
``build_features`` will skip.
"""

from __future__ import annotations

import pandas as pd

from churnml.data import billing_checks, checks
from churnml.data.contract import CONTRACT

__all__ = ["REPORT_COLUMNS", "DataQualityError", "format_report", "validate"]

REPORT_COLUMNS = ("table", "column", "check", "severity", "count", "examples", "message")
_SEVERITY_ORDER = {"fatal": 0, "warning": 1, "info": 2}


class DataQualityError(ValueError):
    """Fatal data problems; ``.report`` holds the full validation report."""

    def __init__(self, report: pd.DataFrame):
        self.report = report
        fatal = report[report["severity"] == "fatal"]
        lines = [f"{len(fatal)} fatal data problem{'s' if len(fatal) != 1 else ''}:"]
        for row in fatal.itertuples(index=False):
            column = f", column {row.column}" if row.column else ""
            lines.append(
                f"  - table {row.table}{column}: {row.message} [{row.check}, count {row.count}]"
            )
            if row.examples:
                lines.append(f"      examples: {row.examples}")
        super().__init__("\n".join(lines))


def _parsed(name, frame):
    if "churnml" in frame.attrs:
        return frame
    from churnml.data.parse import parse_table

    return parse_table(name, frame)


def validate(tables, *, raise_on_fatal: bool = True, now=None) -> pd.DataFrame:
    """Check contract tables and return a tidy report.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables, as from :func:`churnml.data.load.load_tables` (raw frames are parsed
        first, so unparseable values are found too).
    raise_on_fatal : bool
        Raise one :class:`DataQualityError` listing every fatal problem.
    now : date-like, optional
        Rows dated after ``now`` are reported; defaults to the current UTC time.

    Returns
    -------
    DataFrame
        table, column, check, severity (fatal / warning / info), count, examples, message;
        fatal rows first.

    Examples
    --------
    >>> report = validate(tables, raise_on_fatal=False)  # doctest: +SKIP
    >>> print(format_report(report))  # doctest: +SKIP
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    from churnml.sources.lazy import is_lazy

    lazy = {name: frame for name, frame in tables.items() if is_lazy(frame)}
    parsed = {name: _parsed(name, frame) for name, frame in tables.items()
              if name in CONTRACT and name not in lazy}
    contacts = parsed.get("contacts")
    if (
        contacts is not None
        and "accounts" in parsed
        and "churnml_contact_match" not in contacts.attrs
    ):
        from churnml.data.contacts import match_contacts

        parsed["contacts"] = match_contacts(contacts, parsed["accounts"])
    found = checks.missing_tables({**parsed, **lazy})
    for name, frame in lazy.items():  # large tables: checked in SQL where they lie
        found += checks.missing_columns(name, frame)
        from churnml.data.sql_checks import lazy_checks

        found += lazy_checks(frame, parsed.get("accounts"), now)
    for name, frame in parsed.items():
        found += checks.missing_columns(name, frame)
        found += checks.unparseable(name, frame)
        found += checks.mixed_timezones(name, frame)
        found += checks.duplicate_keys(name, frame)
        found += checks.missing_keys(name, frame)
    found += checks.contract_rules(parsed)
    found += billing_checks.subscription_rules(parsed)
    found += billing_checks.billing_choice(tables)
    found += billing_checks.churn_agreement(parsed)
    found += checks.orphans(parsed)
    found += checks.future_rows(parsed, now)
    found += checks.curated_columns(parsed)
    found += checks.duplicated_usage(parsed)
    found += checks.contact_matching(parsed)
    from churnml.data.keys import key_findings

    found += key_findings({**parsed, **lazy})
    found += checks.skipped_indicators({**parsed, **lazy})
    report = pd.DataFrame(found, columns=list(REPORT_COLUMNS))
    report["count"] = report["count"].astype("int64")
    order = report["severity"].map(_SEVERITY_ORDER)
    report = report.iloc[order.argsort(kind="stable")].reset_index(drop=True)
    report.attrs["now"] = str(now)
    if raise_on_fatal and (report["severity"] == "fatal").any():
        raise DataQualityError(report)
    return report


def format_report(report: pd.DataFrame, *, width: int = 60) -> str:
    """Render a validation report as an aligned text table with a one-line summary.

    Examples
    --------
    >>> print(format_report(validate(tables, raise_on_fatal=False)))  # doctest: +SKIP
    2 fatal, 1 warning, 1 info
    severity  table      column    check        count  message / examples
    ...
    """
    counts = report["severity"].value_counts()
    n_fatal, n_warn, n_info = (int(counts.get(k, 0)) for k in ("fatal", "warning", "info"))
    summary = (
        f"{n_fatal} fatal, {n_warn} warning{'s' if n_warn != 1 else ''}, {n_info} info"
        if len(report)
        else "0 fatal, 0 warnings: the tables meet the contract"
    )
    if not len(report):
        return summary

    def clip(text):
        text = str(text)
        return text if len(text) <= width else text[: width - 1] + "…"

    view = pd.DataFrame(
        {
            "severity": report["severity"].astype("str"),
            "table": report["table"].astype("str"),
            "column": report["column"].astype("str"),
            "check": report["check"].astype("str"),
            "count": report["count"].map("{:,}".format).astype("str"),
            "detail": report["message"].map(clip).astype("str"),
            "examples": report["examples"].map(clip).astype("str"),
        }
    )
    widths = {c: max(len(c), int(view[c].str.len().max())) for c in view.columns}
    header = "  ".join(c.ljust(widths[c]) for c in view.columns).rstrip()
    body = view["severity"].str.ljust(widths["severity"])
    for c in view.columns.drop("severity"):
        padded = view[c].str.rjust(widths[c]) if c == "count" else view[c].str.ljust(widths[c])
        body = body + "  " + padded
    return "\n".join([summary, "", header, *body.str.rstrip()])
