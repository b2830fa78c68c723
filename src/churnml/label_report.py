"""The label audit: what the labels of a spine look like before anything is trained on them.

Per ``as_of``: rows, resolved, churned, retained and unresolved snapshots and the base rate; over
all: the label definition and why it was chosen, the date range of the outcomes, and what was left
out (subscriptions or contracts that could not be used, snapshots of accounts that had already
churned). ``validate``, ``features`` and ``train`` print it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["MIN_CHURNED", "MIN_RESOLVED", "LabelAudit", "audit_tables", "label_audit"]

#: fewer resolved or churned rows than these make a weak model; the audit warns
MIN_RESOLVED = 200
MIN_CHURNED = 50
HOW_TO_GET_OUTCOMES = (
    "give the contracts an outcome column (renewed / churned / ...), or give subscriptions "
    "(start_date, end_date or canceled_at) so churnml derives the outcomes, or a churn_events "
    "table (account_id, churned_at) with label: window; outcomes must end before the data does"
)


@dataclass(frozen=True)
class LabelAudit:
    """What :func:`label_audit` found.

    Attributes
    ----------
    by_as_of : DataFrame
        as_of, rows, resolved, churned, retained, unresolved, base_rate.
    summary : dict
        label, label_reason, horizon_days, rows, resolved, churned, retained, unresolved,
        base_rate, outcomes_from, outcomes_to, observed_until.
    dropped : DataFrame
        table, count, why, examples: what was left out.
    warnings : list of str
        Too few resolved or churned rows.
    """

    by_as_of: pd.DataFrame
    summary: dict
    dropped: pd.DataFrame
    warnings: list = field(default_factory=list)

    def format(self, *, max_dates: int = 36) -> str:
        """The audit as printable text: a header, the per-as_of table, drops and warnings."""
        s = self.summary
        rate = "-" if pd.isna(s["base_rate"]) else f"{s['base_rate']:.1%}"
        lines = [
            f"Labels: {s['label']} ({s['label_reason']}); horizon {s['horizon_days']} days",
            f"  {s['rows']:,} snapshot rows: {s['resolved']:,} resolved ({s['churned']:,} churned, "
            f"{s['retained']:,} retained, base rate {rate}), {s['unresolved']:,} unresolved",
        ]
        if s["outcomes_from"]:
            lines.append(f"  outcomes from {s['outcomes_from']} to {s['outcomes_to']}; "
                         f"data observed until {s['observed_until']}")
        table = self.by_as_of.assign(as_of=self.by_as_of["as_of"].dt.strftime("%Y-%m-%d"))
        if len(table) > max_dates:
            table = pd.concat([table.head(max_dates // 2), table.tail(max_dates // 2)])
        if len(table):
            text = table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")
            lines += ["", *("  " + line for line in text.splitlines())]
        for row in self.dropped.itertuples(index=False):
            example = f" (e.g. {', '.join(map(str, row.examples))})" if row.examples else ""
            lines.append(f"  left out: {row.count:,} {row.table}: {row.why}{example}")
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def label_audit(spine: pd.DataFrame) -> LabelAudit:
    """Resolved / churned / retained / unresolved snapshots per ``as_of``, the base rate, the range
    of the outcomes and what was left out, for a spine or a feature frame built on one.

    Parameters
    ----------
    spine : DataFrame
        Output of :func:`churnml.make_spine` (or :func:`churnml.build_features`): ``as_of``,
        ``label`` and, for the date range, ``label_date``; its ``attrs`` give the label definition
        and the drops.

    Returns
    -------
    LabelAudit

    Examples
    --------
    >>> import churnml
    >>> tables = churnml.datasets.make_saas(n_accounts=100, months=12, seed=1)
    >>> audit = churnml.label_audit(churnml.make_spine(tables, start="2025-01-01"))
    >>> audit.summary["label"], audit.summary["rows"] > 0
    ('renewal', True)
    """
    for column in ("as_of", "label"):
        if column not in spine.columns:
            raise ValueError(f"label_audit: the spine has no {column!r} column; build it with make_spine")
    label = spine["label"]
    as_of = pd.to_datetime(spine["as_of"])
    counts = pd.DataFrame({"as_of": as_of, "resolved": label.notna(), "churned": label.eq(1).fillna(False),
                           "retained": label.eq(0).fillna(False)})
    by = counts.groupby("as_of").agg(rows=("resolved", "size"), resolved=("resolved", "sum"),
                                     churned=("churned", "sum"), retained=("retained", "sum"))
    by["unresolved"] = by["rows"] - by["resolved"]
    by["base_rate"] = (by["churned"] / by["resolved"].where(by["resolved"] > 0)).astype("float64")
    by = by.reset_index().astype({c: "int64" for c in ("rows", "resolved", "churned", "retained",
                                                        "unresolved")})
    attrs = spine.attrs
    resolved = spine[label.notna()]
    window = attrs.get("label") == "window"
    dates = pd.to_datetime(resolved["label_date"]) if "label_date" in resolved else pd.Series(dtype="datetime64[us]")
    first = pd.to_datetime(resolved["as_of"]).min() if window else dates.min()
    summary = {
        "label": attrs.get("label", "renewal"),
        "label_reason": attrs.get("label_reason", "given"),
        "horizon_days": attrs.get("horizon_days"),
        "rows": len(spine),
        "resolved": int(by["resolved"].sum()),
        "churned": int(by["churned"].sum()),
        "retained": int(by["retained"].sum()),
        "unresolved": int(by["unresolved"].sum()),
        "base_rate": float(by["churned"].sum() / by["resolved"].sum()) if by["resolved"].sum() else float("nan"),
        "outcomes_from": None if dates.dropna().empty else str(first.date()),
        "outcomes_to": None if dates.dropna().empty else str(dates.max().date()),
        "observed_until": attrs.get("observed_until"),
    }
    dropped = pd.DataFrame(attrs.get("label_drops", []), columns=["table", "count", "why", "examples"])
    return LabelAudit(by, summary, dropped, _warnings(summary))


def _warnings(summary: dict) -> list[str]:
    if summary["resolved"] == 0:
        return [f"no resolved labels among {summary['rows']:,} snapshot rows: nothing to train on; "
                + HOW_TO_GET_OUTCOMES]
    out = []
    if summary["resolved"] < MIN_RESOLVED:
        out.append(f"only {summary['resolved']} resolved snapshot rows (fewer than {MIN_RESOLVED}): "
                   "the model and its evaluation will be unreliable")
    if summary["churned"] < MIN_CHURNED:
        out.append(f"only {summary['churned']} churned snapshot rows (fewer than {MIN_CHURNED}): "
                   "the model and its evaluation will be unreliable")
    return out


def audit_tables(tables: dict, config=None) -> LabelAudit:
    """The label audit of the snapshots ``train`` would build from ``tables`` with ``config``
    (monthly snapshots over the data's period, the config's label and horizon).

    Examples
    --------
    >>> print(audit_tables(churnml.load_tables("data/")))  # doctest: +SKIP
    """
    from churnml.model.config import ModelConfig, load_config
    from churnml.snapshots import data_period, make_spine

    config = config if isinstance(config, ModelConfig) else load_config(config)
    first, last = data_period(tables)
    start = pd.Timestamp(config.training_start) if config.training_start else first
    end = pd.Timestamp(config.training_end) if config.training_end else last
    spine = make_spine(tables, start=start, end=max(start, end), cadence=config.cadence,
                       horizon_days=config.horizon_days, label=config.label,
                       downgrade_churn_share=config.downgrade_churn_share)
    return label_audit(spine)
