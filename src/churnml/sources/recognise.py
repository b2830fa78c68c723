"""Which presets a source holds: every preset table whose raw tables and columns are there.

Ingestion tools land each system in a schema of its own, so every schema of the source (a
sub-folder of a folder) is tried with every preset table. A match is *exact* when every raw table
and column the preset's SQL reads is there; only exact matches are proposed as they are, the
others are reported with what is missing. When several presets can give a contract table, the one
of the system that owns it wins (tickets from the support tool rather than CRM cases), and the
others are offered as commented alternatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Match", "choose", "recognise"]

#: contract table -> preset kinds that may give it, the owner first
OWNERS = {
    "accounts": ("crm", "billing", "support"),
    "contracts": ("crm",),
    "subscriptions": ("billing",),
    "contacts": ("crm",),
    "tickets": ("support", "crm"),
    "usage": ("analytics",),
    "nps": ("survey",),
}


@dataclass(frozen=True)
class Match:
    """A preset table found in one schema of a source."""

    preset: str
    kind: str
    table: str
    schema: str | None
    found: int
    needed: int
    missing: dict = field(default_factory=dict)  # raw table -> missing columns (["*"]: table)

    @property
    def exact(self) -> bool:
        return not self.missing

    @property
    def confidence(self) -> str:
        """``exact`` (every table and column found) or the share of columns found."""
        return "exact" if self.exact else f"{self.found}/{self.needed} columns"

    def raw(self, name: str) -> str:
        """The source's name of the preset's raw table ``name``."""
        return f"{self.schema}.{name}" if self.schema else name


def recognise(inventory) -> list[Match]:
    """Every preset table with at least one of its raw tables in ``inventory`` (exact or not).

    Examples
    --------
    >>> [m.preset for m in recognise(inv) if m.exact]  # doctest: +SKIP
    ['salesforce', 'salesforce', 'salesforce', 'salesforce', 'stripe', 'zendesk', ...]
    """
    from churnml.sources.preset_spec import load_preset, preset_names

    schemas = sorted({name.rpartition(".")[0] for name in inventory.tables})
    matches = []
    for name in preset_names():
        preset = load_preset(name)
        for table in preset.tables.values():
            for schema in schemas:
                match = _match(inventory, preset, table, schema or None)
                if match is not None:
                    matches.append(match)
    return matches


def _match(inventory, preset, table, schema) -> Match | None:
    def raw(name):
        return f"{schema}.{name}" if schema else name

    if not any(raw(name) in inventory.tables for name in table.reads):
        return None
    missing, found, needed = {}, 0, 0
    for name, columns in table.reads.items():
        needed += len(columns)
        have = inventory.tables.get(raw(name))
        if have is None:
            missing[name] = ["*"]
            continue
        gone = [c for c in columns if c not in have]
        found += len(columns) - len(gone)
        if gone:
            missing[name] = gone
    return Match(preset=preset.name, kind=preset.kind, table=table.name, schema=schema,
                 found=found, needed=needed, missing=missing)


def choose(matches: list[Match]) -> tuple[dict, dict]:
    """The match proposed for each contract table, and the other exact ones per table.

    Returns
    -------
    chosen : dict of str to Match
    alternatives : dict of str to list of Match
    """
    chosen, alternatives = {}, {}
    for table, kinds in OWNERS.items():
        exact = [m for m in matches if m.table == table and m.exact and m.kind in kinds]
        exact.sort(key=lambda m: (kinds.index(m.kind), m.preset, m.schema or ""))
        if exact:
            chosen[table] = exact[0]
            alternatives[table] = exact[1:]
    if "contracts" in chosen and "subscriptions" in chosen:  # one billing table is used
        alternatives["subscriptions"] = [chosen.pop("subscriptions"),
                                         *alternatives["subscriptions"]]
    return chosen, alternatives
