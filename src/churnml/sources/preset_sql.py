"""Compose a preset table's ``SELECT`` with the mapping's options and column overrides.

A mapping that uses a preset may set its options and override or add contract columns::

    tables:
      accounts:
        preset: salesforce
        columns: {segment: segment_c}                       # a column of the main table
      subscriptions:
        preset: stripe
        columns: {account_id: customers.metadata.salesforce_account_id}  # JSON field of a joined table
      contracts:
        preset: salesforce
        options: {lost_stages: [Closed Lost, Closed Lost - Churn]}

An override names a column of the preset's main table (``segment_c``), a column of another raw
table the preset reads (``customers.email``), or a field of a JSON column (``table.column.key``).
Everything the user gives becomes a quoted identifier or a string literal checked to hold no
quote, so a mapping cannot inject SQL through a preset; the composed statement is still checked
and run like any mapping SQL (:mod:`churnml.data.confine`).
"""

from __future__ import annotations

import re

from churnml.data.contract import CONTRACT
from churnml.errors import ChurnmlError

__all__ = ["compose", "override_expression", "quote", "render_option"]

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
_RAW = re.compile(r"\[\[\s*([a-z_][a-z0-9_]*)\s*\]\]")
_BAD_NAME = re.compile(r'[\x00-\x1f".]')
_BAD_WORD = re.compile(r"[\x00-\x1f'\\]")


def quote(name: str, where: str) -> str:
    """``name`` as a quoted SQL identifier; refused when it holds a quote, a dot or a control
    character.

    Examples
    --------
    >>> quote("Churn_Reason__c", "mapping tables.accounts.columns")
    '"Churn_Reason__c"'
    """
    if not isinstance(name, str) or not name or _BAD_NAME.search(name):
        raise ChurnmlError(f"{where}: {name!r} is not a column or table name",
                           hint="names hold no quote, dot or control character")
    return f'"{name}"'


def _literal(word, where: str) -> str:
    if not isinstance(word, str | int | float) or isinstance(word, bool):
        raise ChurnmlError(f"{where}: expected a word, but got {word!r}")
    text = str(word)
    if _BAD_WORD.search(text) or len(text) > 200:
        raise ChurnmlError(f"{where}: {text!r} is refused (no quote, backslash or control "
                           "character, at most 200 characters)")
    return f"'{text}'"


def render_option(option, value, where: str) -> str:
    """SQL text of an option value: a literal list, a ``VALUES`` table or a quoted column.

    Examples
    --------
    >>> from churnml.sources.preset_spec import Option
    >>> render_option(Option("lost", "values", [], ""), ["Closed Lost"], "here")
    "'Closed Lost'"
    """
    if option.kind == "column":
        return quote(value, where)
    if option.kind == "values":
        if not isinstance(value, list | tuple):
            raise ChurnmlError(f"{where}: expected a list such as [Closed Lost], but got {value!r}")
        return ", ".join(_literal(v, where) for v in value) or "NULL"
    if not isinstance(value, dict):
        raise ChurnmlError(f"{where}: expected a mapping such as {{Influencer: champion}}, but got "
                           f"{value!r}")
    rows = [f"({_literal(k, where)}, {_literal(v, where)})" for k, v in value.items()]
    return f"(VALUES {', '.join(rows) or '(NULL, NULL)'})"


def override_expression(table, path: str, where: str) -> str:
    """SQL expression of a column override: ``col``, ``table.col`` or ``table.col.json_key``."""
    parts = path.split(".") if isinstance(path, str) else [path]
    if len(parts) == 1:
        return f"{quote(table.main, where)}.{quote(parts[0], where)}"
    if parts[0] not in table.reads:
        raise ChurnmlError(
            f"{where}: {path!r} names table {parts[0]!r}, which this preset table does not read",
            hint=f"name a column of {table.main} (segment_c), or table.column with a table of "
            f"{sorted(table.reads)}",
        )
    column = f"{quote(parts[0], where)}.{quote(parts[1], where)}"
    if len(parts) == 2:
        return column
    if len(parts) == 3:
        return f"CAST({column} AS JSON) ->> {_literal(parts[2], where)}"
    raise ChurnmlError(f"{where}: {path!r} has too many parts; use column, table.column or "
                       "table.column.json_key")


def compose(table, *, options=None, columns=None, schema=None, where: str | None = None) -> str:
    """The preset table's ``SELECT`` with options and column overrides applied.

    Parameters
    ----------
    table : PresetTable
    options : dict, optional
        Option name -> value; unset options keep the preset's default.
    columns : dict, optional
        Contract column -> override path (see the module doc); adds or replaces columns.
    schema : str, optional
        Schema of the raw tables (``zendesk`` for ``zendesk.ticket``): each ingestion tool
        usually lands its tables in a schema of its own; a sub-folder of a source folder is one.
    where : str, optional
        What is composed, for messages (default ``mapping tables.<name>``).

    Returns
    -------
    str
        One ``SELECT`` statement (with ``WITH`` when the preset needs it).
    """
    where = where or f"mapping tables.{table.name}"
    options, columns = dict(options or {}), dict(columns or {})
    unknown = sorted(set(options) - set(table.options))
    if unknown:
        raise ChurnmlError(f"{where}.options: unknown {unknown}; preset {table.preset} "
                           f"{table.name} has {sorted(table.options) or 'none'}")
    known = CONTRACT[table.name].columns
    bad = sorted(set(columns) - set(known))
    if bad:
        raise ChurnmlError(f"{where}.columns: {bad} are not columns of the contract table "
                           f"{table.name} ({sorted(known)})")
    rendered = {
        name: render_option(opt, options.get(name, opt.default), f"{where}.options.{name}")
        for name, opt in table.options.items()
    }
    prefix = "" if schema is None else quote(schema, f"{where}.schema") + "."
    rendered.update({f"[[{raw}]]": f'{prefix}"{raw}"' for raw in table.reads})
    exprs = dict(table.columns)
    for column, path in columns.items():
        expr = override_expression(table, path, f"{where}.columns.{column}")
        exprs[column] = f"SUM({expr})" if column in table.aggregates else expr
    return _statement(table, exprs, rendered)


def _fill(text: str, rendered: dict) -> str:
    text = _RAW.sub(lambda m: rendered[f"[[{m.group(1)}]]"], text)
    return _PLACEHOLDER.sub(lambda m: rendered[m.group(1)], text)


def _statement(table, exprs: dict, rendered: dict) -> str:
    order = [c for c in CONTRACT[table.name].columns if c in exprs]
    select = ",\n       ".join(f"{_fill(exprs[c], rendered)} AS \"{c}\"" for c in order)
    parts = []
    if table.with_:
        ctes = ",\n".join(f'"{name}" AS (\n{_fill(body.strip(), rendered)}\n)'
                          for name, body in table.with_.items())
        parts.append(f"WITH {ctes}")
    parts.append(f"SELECT {select}")
    parts.append(f"FROM {_fill(table.frm.strip(), rendered)}")
    if table.where:
        parts.append(f"WHERE {_fill(table.where.strip(), rendered)}")
    grouped = [str(i + 1) for i, c in enumerate(order) if c not in table.aggregates]
    if table.aggregates:
        parts.append(f"GROUP BY {', '.join(grouped)}")
    return "\n".join(parts)
