"""Whether a scoring date lies within the data (:func:`churnml.snapshots.data_period`).

An ``as_of`` more than :data:`LATE_DAYS` days after the end of the data reads usage and ticket
windows that are empty, so every account looks inactive; an ``as_of`` before the data's first
sensible snapshot (the warm-up after the first recorded activity) reads windows with little or no
history. Both still score, with a warning in the result, the manifest and the CLI digest.
"""

from __future__ import annotations

import pandas as pd

LATE_DAYS = 31


def _warning(kind: str, message: str) -> dict:
    return {"kind": kind, "indicator": None, "count": None, "message": message}


def as_of_warnings(tables: dict, as_of) -> list[dict]:
    """``as_of_after_data`` / ``as_of_before_data`` warnings (kind, indicator, count, message).

    Examples
    --------
    >>> tables = {"contracts": pd.DataFrame({"start_date": pd.to_datetime(["2025-01-01"])}),
    ...           "usage": pd.DataFrame({"ts": pd.to_datetime(["2025-02-01", "2025-06-30"])})}
    >>> [w["kind"] for w in as_of_warnings(tables, "2025-09-01")]
    ['as_of_after_data']
    >>> as_of_warnings(tables, "2025-07-01")
    []
    """
    from churnml.snapshots import data_period

    try:
        start, end = data_period(tables)
    except (KeyError, ValueError):  # no dated rows: nothing to compare with
        return []
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is not None:
        as_of = as_of.tz_convert("UTC").tz_localize(None)
    late = (as_of - end).days
    if late > LATE_DAYS:
        return [
            _warning(
                "as_of_after_data",
                f"as_of {as_of.date()} is {late} days after the end of the data ({end.date()}, "
                f"the day after the latest activity): recent-activity windows are empty, so "
                f"accounts look inactive. Score at or before {end.date()}, or load newer data",
            )
        ]
    if as_of < start:
        return [
            _warning(
                "as_of_before_data",
                f"as_of {as_of.date()} is before the data's first sensible snapshot "
                f"({start.date()}, after the warm-up from the first recorded activity): "
                f"indicator windows have little or no history. Score at or after {start.date()}",
            )
        ]
    return []
