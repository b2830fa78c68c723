"""The data-quality checks of a lazy (large) table, run in SQL where the table lies.

The same findings as :mod:`churnml.data.checks` makes for a pandas usage table — rows without an
account, orphan accounts, rows dated in the future, exact duplicate rows — each one grouped
query on the table's DuckDB connection, with a count and a few example rows. Values that do not
parse cannot occur: a table stays lazy only when its columns have types SQL parses exactly
(:func:`churnml.sources.lazy.usage_types_ok`); otherwise it is read through pandas and checked
there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.checks import N_EXAMPLES, finding
from churnml.features.shapes import q

__all__ = ["lazy_checks"]


def _examples(con, select: str, where: str, columns, params=()) -> list[str]:
    shown = [c for c in columns]
    rows = con.execute(f"SELECT {', '.join(q(c) for c in shown)} FROM ({select}) WHERE {where} "
                       f"LIMIT {N_EXAMPLES}", list(params)).fetchall()
    return [", ".join(f"{c}={v}" for c, v in zip(shown, row)) for row in rows]


def _count(con, select: str, where: str, params=()) -> int:
    return int(con.execute(f"SELECT COUNT(*) FROM ({select}) WHERE {where}",
                           list(params)).fetchall()[0][0])


def lazy_checks(table, accounts: pd.DataFrame | None, now: pd.Timestamp) -> list[dict]:
    """Findings for one :class:`~churnml.sources.lazy.LazyTable` (see the module docstring)."""
    con, select, name, cols = table.con, table.select, table.name, list(table.columns)
    shown = [c for c in ("account_id", "user_id", "ts", "event") if c in cols]
    checks = []  # (column, check, where, params, message): counted together in one pass
    if "account_id" in cols:
        checks.append(("account_id", "missing_value", '"account_id" IS NULL', (),
                       "rows of {name} have no account_id; they are ignored"))
    known = None
    if "account_id" in cols and accounts is not None and "account_id" in accounts.columns:
        known = pd.DataFrame({"name": accounts["account_id"].dropna().astype(str).unique()})
        checks.append(("account_id", "orphan_key",
                       ('"account_id" IS NOT NULL AND "account_id" NOT IN '
                        '(SELECT "name" FROM "churnml_known_accounts")'), (),
                       "rows of {name} name an account_id not in accounts"))
    if "ts" in cols:
        checks.append(("ts", "future_date", '"ts" > ?', (now.to_pydatetime(),),
                       f"rows of {{name}} have ts after {now:%Y-%m-%d %H:%M}"))
    out = []
    if known is not None:
        con.register("churnml_known_accounts", known)
    try:
        counts = _counts(con, select, [(where, params) for _, _, where, params, _ in checks])
        for (column, check, where, params, message), n in zip(checks, counts):
            if n:
                out.append(finding(name, column, check, "warning", n,
                                   _examples(con, select, where, shown, params),
                                   f"{n} " + message.format(name=name)))
    finally:
        if known is not None:
            con.unregister("churnml_known_accounts")
    out += _duplicates(table)
    return out


def _counts(con, select: str, conditions) -> list[int]:
    """Rows of ``select`` meeting each ``(where, params)`` condition, in one pass."""
    if not conditions:
        return []
    parts = ", ".join(f"COUNT(*) FILTER (WHERE {where})" for where, _ in conditions)
    params = [p for _, ps in conditions for p in ps]
    return [int(n) for n in con.execute(f"SELECT {parts} FROM ({select})", params).fetchall()[0]]


def _duplicates(table) -> list[dict]:
    """Rows that repeat an earlier row exactly (all contract columns).

    Grouping every row by its five columns cost most of ``churnml score``'s data load on the demo
    (1.2 s of 1.7 s for 6.9M rows, ``benchmarks/cli.py``). Each row is hashed by DuckDB instead
    (one 64-bit ``hash`` of the columns: 8 bytes a row reach Python), the hashes are sorted by
    NumPy, and only the rows whose hash repeats — the duplicates and rare collisions — are grouped
    by their columns, which decides exactly: the same count and examples in about a third of the
    time. DuckDB's ``hash`` gives -0.0 and 0.0, and every NaN, one value, as grouping does.
    """
    cols = [c for c in ("account_id", "user_id", "ts", "event", "quantity") if c in table.columns]
    if not cols:
        return []
    keys = ", ".join(q(c) for c in cols)
    repeated = _repeated_hashes(table.con, f"SELECT hash({keys}) AS h FROM ({table.select})")
    if not len(repeated):
        return []
    shown = [c for c in ("account_id", "user_id", "ts", "event") if c in cols]
    table.con.register("churnml_repeated_hashes", pd.DataFrame({"h": repeated}))
    try:  # one pass: the count over every repeated row, beside a few of them
        grouped = (f"SELECT {keys}, COUNT(*) AS \"n\" FROM ({table.select}) "
                   f"WHERE hash({keys}) IN (SELECT h FROM churnml_repeated_hashes) "
                   "GROUP BY ALL HAVING COUNT(*) > 1")
        rows = table.con.execute(
            f"SELECT {', '.join(q(c) for c in shown)}, SUM(\"n\" - 1) OVER () FROM ({grouped}) "
            f"LIMIT {N_EXAMPLES}").fetchall()
    finally:
        table.con.unregister("churnml_repeated_hashes")
    if not rows:
        return []
    n = rows[0][-1]
    examples = [", ".join(f"{c}={v}" for c, v in zip(shown, row)) for row in rows]
    return [finding(table.name, ",".join(cols), "duplicate_rows", "warning", int(n), examples,
                    f"{int(n)} {table.name} rows repeat an earlier row exactly; they are counted "
                    "twice")]


def _repeated_hashes(con, select: str) -> np.ndarray:
    """The distinct values of ``select``'s one column ``h`` that occur more than once."""
    hashes = con.execute(select).fetchnumpy()["h"]
    hashes = np.asarray(hashes)  # a masked array only if some hash were NULL: never
    hashes.sort()
    return np.unique(hashes[1:][hashes[1:] == hashes[:-1]])


def key_reach(table, known: pd.Index) -> tuple[int, int, list[str]]:
    """(rows, rows whose account_id is a known account, examples of raw keys that are not)."""
    con = table.con
    con.register("churnml_known_accounts", pd.DataFrame({"name": known.astype(object)}))
    try:
        missed = ('"account_id" IS NULL OR "account_id" NOT IN '
                  '(SELECT "name" FROM "churnml_known_accounts")')
        total = int(con.execute(f"SELECT COUNT(*) FROM ({table.select})").fetchall()[0][0])
        n = _count(con, table.select, missed)
        raw = "churnml_key" if "churnml_key" in table.select else "account_id"
        rows = con.execute(f'SELECT DISTINCT {q(raw)} FROM ({table.select}) WHERE {missed} '
                           f"LIMIT {N_EXAMPLES}").fetchall()
    finally:
        con.unregister("churnml_known_accounts")
    column = table.attrs.get("churnml_account_key", {}).get("column", raw)
    return total, total - n, [f"{column}={r[0]}" for r in rows]
