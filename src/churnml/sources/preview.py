"""The first rows of each contract table a mapping gives, to check a mapping by eye before any
indicator is built (``churnml validate --mapping M --preview``)."""

from __future__ import annotations

from churnml.data.contract import TABLES

__all__ = ["preview_tables"]


def _origin(name: str, frame, mapping) -> str:
    table = mapping.tables.get(name) if mapping is not None else None
    if name == "contracts" and frame.attrs.get("churnml_terms"):
        return "renewal terms cut from subscriptions"
    if table is None:
        return f"read as {name}"
    if table.preset:
        return f"preset {table.preset}"
    kind, value = table.origin
    return f"{kind} {value.splitlines()[0][:60]}" if kind != "sql" else "sql"


def preview_tables(tables: dict, mapping=None, *, rows: int = 5, width: int = 120) -> str:
    """Each contract table's row count, origin and first ``rows`` rows, as text.

    Parameters
    ----------
    tables : dict of DataFrame or LazyTable
        Loaded contract tables (:func:`churnml.load_tables` or ``open_tables``: a lazy usage
        table shows its first rows without reading the rest).
    mapping : Mapping, optional
        The mapping they were loaded with (names each table's origin).
    rows : int
        Rows shown per table.
    width : int
        Line width; wider tables wrap their columns.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> print(preview_tables({"accounts": pd.DataFrame({"account_id": ["A1"]})}))
    accounts: 1 row (read as accounts)
      account_id
              A1
    """
    blocks = []
    for name in TABLES:
        frame = tables.get(name)
        if frame is None:
            continue
        shown = frame.head(rows)
        shown = shown.drop(columns=[c for c in ("account_match",) if c in shown.columns])
        text = shown.to_string(index=False, max_colwidth=28, line_width=width)
        plural = "row" if len(frame) == 1 else "rows"
        blocks.append(f"{name}: {len(frame):,} {plural} ({_origin(name, frame, mapping)})\n"
                      + "\n".join("  " + line for line in text.splitlines()))
    return "\n\n".join(blocks)
