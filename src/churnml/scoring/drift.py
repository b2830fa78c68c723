"""Scoring checks its data against what the model was trained on, before anything is written.

The model carries a data profile of its training data (:func:`churnml.model.profile.data_profile`
in ``training_info_["data_profile"]``). :func:`check_scoring_data` measures the scoring data the
same way over the accounts scored at ``as_of`` and compares:

- **refused** — a family the model relies on (at least :data:`RELIED_ON_GAIN` of its gain, and
  it covered at least :data:`MIN_COVERAGE` of the training snapshots) is empty now: no scored
  account has a row in its table (a missing or empty usage export);
- **refused** — an activity table of such a family ends more than :data:`STALE_DAYS` days (beyond
  the largest gap seen in training) before ``as_of``: the data ends long before the scoring date;
- **warned** — milder drift: a family's coverage fell below half of training's, fewer accounts
  with recent usage, a table later than usual, a table of training missing, an empty family the
  model hardly uses.

A refusal raises :class:`~churnml.errors.ChurnmlError` unless ``force=True`` (``churnml score
--force``); warnings (and forced refusals) are returned for the run manifest and issued as
``UserWarning``. Models trained before profiles existed are not checked.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import pandas as pd

from churnml.errors import ChurnmlError
from churnml.model.profile import RECENT_DAYS

#: a family with at least this share of the model's gain is one the model relies on
RELIED_ON_GAIN = 0.02
#: ... when it covered at least this share of the training snapshots
MIN_COVERAGE = 0.2
#: coverage below this fraction of training's is a warning
COVERAGE_RATIO = 0.5
#: refuse when a relied-on table ends this many days beyond training's largest gap before as_of
STALE_DAYS = 31
#: warn when it is this many days late
LATE_DAYS = 7


@dataclass(frozen=True)
class DataCheck:
    """One finding of the comparison: ``severity`` is ``"refuse"`` or ``"warn"``."""

    kind: str
    severity: str
    subject: str
    message: str
    forced: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _relied_on(info: dict) -> bool:
    importance = info.get("importance")
    relied = importance is None or importance >= RELIED_ON_GAIN
    return relied and (info.get("coverage") or 0.0) >= MIN_COVERAGE


def _family_checks(profile: dict, current: dict, as_of) -> list[DataCheck]:
    out = []
    for family, info in profile.get("families", {}).items():
        table, before = info["table"], info.get("coverage") or 0.0
        now = current["families"].get(family, {}).get("coverage", 0.0)
        gain = info.get("importance")
        share = "" if gain is None else f"; the model takes {gain:.0%} of its gain from it"
        if now == 0 and before > 0:
            severity = "refuse" if _relied_on(info) else "warn"
            message = (
                f"the {family} family is empty: none of the {current['rows']} accounts scored at "
                f"{as_of:%Y-%m-%d} has a row in table {table!r} before that date (in training "
                f"{before:.0%} of snapshots had one{share})"
            )
            out.append(DataCheck("family_empty", severity, family, message))
        elif now < COVERAGE_RATIO * before:
            message = (
                f"the {family} family covers {now:.0%} of the {current['rows']} scored accounts "
                f"(rows in table {table!r}); in training {before:.0%}"
            )
            out.append(DataCheck("coverage_drop", "warn", family, message))
    return out


def _days(value: float) -> str:
    return f"{value:.0f} day" + ("" if round(value) == 1 else "s")


def _date_checks(profile: dict, current: dict, tables: dict, as_of) -> list[DataCheck]:
    from churnml.model.profile import last_before

    out = []
    relied = {i["table"]: _relied_on(i) for i in profile.get("families", {}).values()}
    for table, trained_gap in profile.get("gaps", {}).items():
        gap = current["gaps"].get(table)
        if gap is None or trained_gap is None:
            continue  # no rows before as_of: the family check speaks for it
        where = (
            f"table {table!r} ends on {last_before(tables.get(table), table, as_of)}, "
            f"{_days(gap)} before as_of {as_of:%Y-%m-%d} (in training at most {_days(trained_gap)})"
        )
        if gap > trained_gap + STALE_DAYS:
            severity = "refuse" if relied.get(table, False) else "warn"
            out.append(DataCheck("data_ends_early", severity, table, where))
        elif gap > trained_gap + LATE_DAYS:
            out.append(DataCheck("data_late", "warn", table, where))
    return out


def _other_checks(profile: dict, current: dict) -> list[DataCheck]:
    out = []
    family_tables = {i["table"] for i in profile.get("families", {}).values()}
    for table in profile.get("tables", {}):
        if table not in current["tables"] and table not in family_tables:
            message = f"table {table!r} was present in training but is missing now"
            out.append(DataCheck("table_missing", "warn", table, message))
    before, now = profile.get("usage_recent_share"), current.get("usage_recent_share")
    if before and now is not None and 0 < now < COVERAGE_RATIO * before:
        message = (
            f"{now:.0%} of the scored accounts used the product in the last {RECENT_DAYS} days; "
            f"in training {before:.0%} of snapshots"
        )
        out.append(DataCheck("usage_recent_drop", "warn", "usage", message))
    return out


def compare_with_training(profile: dict, current: dict, tables: dict, as_of) -> list[DataCheck]:
    """Every finding of ``current`` (a :func:`~churnml.model.profile.measure`) against ``profile``."""
    as_of = pd.Timestamp(as_of)
    return [
        *_family_checks(profile, current, as_of),
        *_date_checks(profile, current, tables, as_of),
        *_other_checks(profile, current),
    ]


def check_scoring_data(model, tables: dict, features: pd.DataFrame, as_of, *, force=False) -> list:
    """Compare the scoring data with the model's training profile; refuse or warn.

    Parameters
    ----------
    model : ChurnModel
        With ``training_info_["data_profile"]`` (no profile: nothing is checked).
    tables : dict of str to DataFrame
        The scoring tables.
    features : DataFrame
        The population at ``as_of`` (account_id, as_of).
    as_of : date-like
    force : bool
        Score despite refusals (they are returned with ``forced=True``).

    Returns
    -------
    list of dict
        The findings (kind, severity, subject, message, forced), for the manifest.

    Raises
    ------
    ChurnmlError
        On a refusal, unless ``force``.
    """
    from churnml.model.profile import measure

    profile = (getattr(model, "training_info_", None) or {}).get("data_profile")
    if not profile:
        return []
    families = {f: i["table"] for f, i in profile.get("families", {}).items()}
    current = measure(tables, features[["account_id", "as_of"]], families)
    checks = compare_with_training(profile, current, tables, as_of)
    refused = [c for c in checks if c.severity == "refuse"]
    if refused and not force:
        raise ChurnmlError(
            "scoring refused, the data differ from what the model was trained on: "
            + "; ".join(c.message for c in refused),
            hint="check the export of the table(s) named; to score anyway, churnml score --force "
            "(run_score(..., force=True))",
        )
    checks = [DataCheck(**{**c.to_dict(), "forced": c.severity == "refuse"}) for c in checks]
    for check in checks:
        note = " (scored anyway: --force)" if check.forced else ""
        warnings.warn(f"scoring: {check.message}{note}", UserWarning, stacklevel=2)
    return [c.to_dict() for c in checks]
