"""Tables no preset reads that look like a contract table (``success_plan_goals`` -> goals).

A raw table looks like contract table ``C`` when each required column of ``C`` has a column of
the same name, one ending in ``_<name>`` (``crm_account_id`` for ``account_id``), or, for the
key ``<thing>_id``, a column ``id`` in a table whose name holds the thing (``id`` of
``success_plan_goals`` for ``goal_id``); a contract table with a single required column (accounts,
contacts) also needs its name in the table's. ``churnml init`` offers such a table, commented, as
a TODO: a name is a hint, not a proof.
"""

from __future__ import annotations

from churnml.data.contract import CONTRACT

__all__ = ["looks_like"]


def _find(column: str, columns, table: str) -> str | None:
    if column in columns:
        return column
    ending = [c for c in columns if c.lower().endswith(f"_{column}")]
    if len(ending) == 1:
        return ending[0]
    thing = column.removesuffix("_id")
    if column.endswith("_id") and "id" in columns and thing in table.lower():
        return "id"
    return None


def looks_like(table: str, columns, chosen) -> list[tuple[str, dict]]:
    """``(contract table, renames)`` for each contract table not yet mapped that ``table`` fits.

    Examples
    --------
    >>> looks_like("success_plan_goals", ["id", "crm_account_id", "created_at", "target"], {})
    [('goals', {'goal_id': 'id', 'account_id': 'crm_account_id'})]
    """
    found = []
    stem = table.rpartition(".")[2].lower()
    for name, spec in CONTRACT.items():
        if name in chosen or len(spec.required) < 2 and name.rstrip("s") not in stem:
            continue  # a lone key column (accounts, contacts) is no evidence without the name
        renames = {}
        for column in spec.required:
            raw = _find(column, columns, table.rpartition(".")[2])
            if raw is None:
                break
            if raw != column:
                renames[column] = raw
        else:
            found.append((name, renames))
    return found
