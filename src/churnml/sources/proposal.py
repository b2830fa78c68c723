"""What ``churnml init`` proposes for a recognised preset table, and what it leaves to a human.

- **Keys across systems**: a table from another system than the accounts' must reach the
  accounts' ``account_id`` (and an NPS response the contacts' ``contact_id``). Every place the
  preset lists for the key (``organization.external_id``, each key of ``customers.metadata``,
  each trait of ``groups``) is measured: the share of the rows whose value is an account id.
  The best one is proposed when at least :data:`KEY_SHARE` of its values match; otherwise the
  key is a TODO.
- **Options**: the values found for what an option decides (opportunity stages, contact roles)
  are listed next to it; options a human must confirm, and values no recoding covers, are TODOs.
- **Unplaced columns**: columns of the main raw table that look like a contract column the
  preset does not fill (``segment_c``, ``property_seats``) are offered, commented, as a TODO.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from churnml.data.contract import CONTRACT

__all__ = ["KEY_SHARE", "KeyProposal", "OptionReport", "Proposal", "propose"]

KEY_SHARE = 0.9
#: key column -> what its values name
TARGETS = {"account_id": "account", "contact_id": "contact"}
#: contract column -> fragments of raw column names that suggest it
LOOKS_LIKE = {
    "segment": ("segment", "tier"), "region": ("region", "geo", "territory"),
    "touch_model": ("touch", "coverage"), "industry": ("industry", "vertical"),
    "csm": ("csm", "success_manager"), "ended_at": ("left", "departure", "ended", "inactive"),
    "user_id": ("user_id", "login"), "seats": ("seat", "licen"), "csat": ("csat", "satisf"),
    "category": ("category",), "reopened": ("reopen",), "escalated": ("escalat",),
    "renewal_arr": ("renewal_arr", "renewal_amount"), "reason": ("reason",),
}
_IGNORED_PREFIXES = ("_fivetran", "_airbyte", "_dlt", "_sdc")


@dataclass(frozen=True)
class KeyProposal:
    """Where a table's key comes from: the path to write (None: the preset's own) and why."""

    column: str
    target: str
    path: str | None
    share: float
    values: int
    candidates: tuple = ()

    @property
    def certain(self) -> bool:
        return self.share >= KEY_SHARE


@dataclass(frozen=True)
class OptionReport:
    """An option with the values found for it; ``todo`` when a human must decide."""

    name: str
    option: object
    found: tuple = ()
    uncovered: tuple = ()
    todo: bool = False
    why: str = ""


@dataclass
class Proposal:
    """Everything ``init`` writes about one chosen preset table."""

    match: object
    keys: list = field(default_factory=list)
    options: list = field(default_factory=list)
    unplaced: dict = field(default_factory=dict)


def propose(inventory, chosen: dict, extra=()) -> dict:
    """A :class:`Proposal` per chosen contract table and per ``extra`` match, keyed by
    ``(table, preset, schema)`` (see the module)."""
    from churnml.sources.preset_spec import load_preset

    ids = {"account_id": _ids(inventory, chosen.get("accounts"), "account_id"),
           "contact_id": _ids(inventory, chosen.get("contacts"), "contact_id")}
    owner = {"account_id": chosen.get("accounts"), "contact_id": chosen.get("contacts")}
    out = {}
    for match in [*chosen.values(), *extra]:
        table = load_preset(match.preset).table(match.table)
        keys = [_key(inventory, match, table, column, paths, ids[column])
                for column, paths in table.keys.items()
                if ids[column] and not _same_system(match, owner[column])]
        options = [_option(inventory, match, table, opt) for opt in table.options.values()]
        out[match.table, match.preset, match.schema] = Proposal(
            match=match, keys=keys, options=options, unplaced=_unplaced(inventory, match, table))
    return out


def _same_system(match, other) -> bool:
    return other is not None and (match.preset, match.schema) == (other.preset, other.schema)


def _ids(inventory, match, column: str) -> set:
    """The key values of the chosen table (``account_id`` of the accounts, ...)."""
    if match is None:
        return set()
    from churnml.sources.preset_spec import load_preset
    from churnml.sources.preset_sql import compose

    sql = compose(load_preset(match.preset).table(match.table), schema=match.schema)
    rows = inventory.run(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM ({sql}) AS t '
                         f'WHERE "{column}" IS NOT NULL')
    return {r[0] for r in rows}


def _expand(inventory, match, path: str) -> list[tuple[str, str, str]]:
    """(override path, raw table, SQL expression over it) for a key place of the preset."""
    from churnml.sources.preset_sql import _literal, quote

    parts = path.split(".")
    raw = match.raw(parts[0])
    columns = inventory.tables.get(raw, ())
    if parts[1] == "*":
        return [(f"{parts[0]}.{c}", raw, quote(c, path)) for c in columns
                if not c.startswith(_IGNORED_PREFIXES) and "." not in c and '"' not in c]
    if parts[1] not in columns:
        return []
    column = quote(parts[1], path)
    if len(parts) == 2:
        return [(path, raw, column)]
    keys = inventory.json_keys(raw, parts[1]) if parts[2] == "*" else [parts[2]]
    return [(f"{parts[0]}.{parts[1]}.{k}", raw, f"CAST({column} AS JSON) ->> {_literal(k, path)}")
            for k in keys if "'" not in k and "." not in k]


def _key(inventory, match, table, column, paths, ids) -> KeyProposal:
    measured, seen = [], set()
    for place in paths:
        for path, raw, expression in _expand(inventory, match, place):
            if path in seen:
                continue
            seen.add(path)
            try:
                rows = inventory.tally(raw, expression)
            except Exception:  # noqa: BLE001 - a column that is no key (a number, a JSON): skip
                continue
            total = sum(rows.values())
            if total:
                hits = sum(n for value, n in rows.items() if value in ids)
                measured.append((path, hits / total, total))
    default = paths[0]
    measured.sort(key=lambda m: (-round(m[1], 4), m[0] != default))
    if not measured:
        return KeyProposal(column, TARGETS[column], None, 0.0, 0)
    path, share, count = measured[0]
    return KeyProposal(column, TARGETS[column], None if path == default else path,
                       share, count, tuple(measured[:4]))


def _option(inventory, match, table, option) -> OptionReport:
    if option.kind == "column":
        columns = inventory.tables.get(match.raw(table.main), ())
        if option.default not in columns:
            dated = tuple(c for c in columns if "date" in c.lower() or c.lower().endswith("_at"))
            return OptionReport(option.name, option, found=dated, todo=True,
                                why=f"{table.main} has no column {option.default}")
        return OptionReport(option.name, option, todo=option.todo)
    found = ()
    if option.values_of:
        raw, column = option.values_of.split(".", 1)
        if column in inventory.tables.get(match.raw(raw), ()):
            found = tuple(inventory.counts(match.raw(raw), column))
    uncovered = ()
    if option.kind == "recode":
        uncovered = tuple(v for v, _ in found if str(v) not in option.default)
    return OptionReport(option.name, option, found=found, uncovered=uncovered,
                        todo=option.todo or (bool(uncovered) and not option.passthrough))


def _unplaced(inventory, match, table) -> dict:
    """Contract column -> columns of the main raw table that look like it (unread by the preset)."""
    read = set(table.reads[table.main])
    columns = [c for c in inventory.tables.get(match.raw(table.main), ())
               if c not in read and not c.startswith(_IGNORED_PREFIXES)]
    open_columns = [c for c in CONTRACT[table.name].columns if c not in table.columns]
    if table.name == "contracts":
        open_columns = [c for c in open_columns if c != "reason"]
    found = {}
    for contract in open_columns:
        hints = LOOKS_LIKE.get(contract, (contract,))
        like = [c for c in columns if any(h in c.lower() for h in hints)]
        if like:
            found[contract] = like
    return found
