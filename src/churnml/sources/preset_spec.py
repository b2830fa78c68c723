"""Packaged source presets: how the standard warehouse schema of a CRM, billing, support,
product-analytics or survey tool maps onto the Customer 360 contract.

Each preset is one YAML file in ``churnml/sources/presets/`` (``salesforce.yaml``,
``stripe.yaml``, ...). For every contract table it provides, it names the raw tables and columns
it reads (``reads``, which ``churnml init`` recognises) and gives one portable ``SELECT`` in
parts: common table expressions (``with``), the ``from`` clause with every raw table (written
``[[name]]``, so a mapping can qualify it with a schema) aliased by its own name, an optional ``where``, one SQL expression per contract column (``columns``) and,
for aggregates, the columns that are aggregates (``aggregates``). ``options`` are the choices a
human may have to make (which opportunity stages mean a lost renewal, how contact roles map);
``{{name}}`` in the SQL stands for an option. :mod:`churnml.sources.preset_sql` composes it.

The SQL is written in the subset DuckDB and PostgreSQL share, so that a database source can run
it where the data live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

from churnml.data.contract import CONTRACT
from churnml.errors import ChurnmlError

__all__ = ["Option", "Preset", "PresetTable", "load_preset", "preset_names"]

#: kinds of option: a list of words, a recoding (source value -> contract value), a column name
OPTION_KINDS = ("values", "recode", "column")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
_RAW = re.compile(r"\[\[\s*([a-z_][a-z0-9_]*)\s*\]\]")
_TABLE_KEYS = ("main", "reads", "with", "from", "where", "columns", "aggregates", "options",
               "keys", "notes")


@dataclass(frozen=True)
class Option:
    """A choice in a preset table, with its default.

    Parameters
    ----------
    name : str
        Placeholder name (``{{lost_stages}}`` in the SQL).
    kind : {"values", "recode", "column"}
        A list of words, a mapping of source values to contract values, or a column name.
    default : list, dict or str
        Used when the mapping does not set the option.
    describe : str
        One line for people: what the option decides.
    values_of : str, optional
        ``table.column`` whose distinct values ``churnml init`` lists next to the option.
    todo : bool
        Whether ``churnml init`` always asks a human to confirm it.
    passthrough : bool
        A recode whose SQL keeps the values it does not map (``COALESCE(map.code, raw)``): an
        unmapped value is reported as kept, not as lost, and needs no confirmation.
    """

    name: str
    kind: str
    default: object
    describe: str
    values_of: str | None = None
    todo: bool = False
    passthrough: bool = False

    def __post_init__(self):
        if self.kind not in OPTION_KINDS:
            raise ValueError(f"option {self.name}: kind must be one of {OPTION_KINDS}, but got "
                             f"{self.kind!r}")


@dataclass(frozen=True)
class PresetTable:
    """How one contract table is selected from a preset's raw tables.

    ``keys`` lists, per key column (``account_id``, ``contact_id``), where the system may keep
    the key of another system: override paths (``organization.external_id``), ``table.column.*``
    for every key of a JSON column, ``table.*`` for every column; the first is the preset's own.
    """

    preset: str
    name: str
    main: str
    reads: MappingProxyType
    frm: str
    columns: MappingProxyType
    with_: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    where: str | None = None
    aggregates: tuple[str, ...] = ()
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    keys: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[str, ...] = ()

    @property
    def where_(self) -> str:
        """``preset tables.name`` for messages."""
        return f"preset {self.preset} tables.{self.name}"


@dataclass(frozen=True)
class Preset:
    """A whole preset: its name, title, documentation page and tables."""

    name: str
    title: str
    docs: str
    kind: str
    tables: MappingProxyType

    def table(self, name: str) -> PresetTable:
        """The preset's mapping of contract table ``name``; a clear error when it has none."""
        if name not in self.tables:
            raise ChurnmlError(
                f"preset {self.name!r} has no table {name!r}; it provides {sorted(self.tables)}",
                hint="map that table from another preset or with file:, table: or sql:",
            )
        return self.tables[name]


def preset_names() -> list[str]:
    """Names of the packaged presets (``salesforce``, ``hubspot``, ``stripe``, ...)."""
    folder = resources.files("churnml.sources").joinpath("presets")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


@lru_cache(maxsize=None)
def load_preset(name: str) -> Preset:
    """Read and check the packaged preset ``name``.

    Parameters
    ----------
    name : str
        A preset name from :func:`preset_names`.

    Returns
    -------
    Preset

    Examples
    --------
    >>> sorted(load_preset("stripe").tables)
    ['accounts', 'subscriptions']
    """
    import yaml

    names = preset_names()
    if not isinstance(name, str) or name not in names:
        raise ChurnmlError(f"unknown preset {name!r}; the packaged presets are {names}")
    path = resources.files("churnml.sources").joinpath("presets", f"{name}.yaml")
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    tables = {table: _table(name, table, body) for table, body in spec["tables"].items()}
    return Preset(name=name, title=spec["title"], docs=spec["docs"], kind=spec["kind"],
                  tables=MappingProxyType(tables))


def _table(preset: str, name: str, body: dict) -> PresetTable:
    where = f"preset {preset} tables.{name}"
    unknown = sorted(set(body) - set(_TABLE_KEYS))
    if name not in CONTRACT or unknown:
        raise ValueError(f"{where}: unknown table or keys {unknown}")
    known = CONTRACT[name].columns
    columns = {str(k): str(v) for k, v in body["columns"].items()}
    if set(columns) - set(known) or not set(CONTRACT[name].required) <= set(columns):
        raise ValueError(f"{where}: columns must be contract columns covering the required ones, "
                         f"but got {sorted(columns)}")
    options = {k: Option(name=k, **v) for k, v in (body.get("options") or {}).items()}
    text = " ".join([*body.get("with", {}).values(), body["from"], body.get("where") or "",
                     *columns.values()])
    used = set(_PLACEHOLDER.findall(text))
    if used != set(options):
        raise ValueError(f"{where}: placeholders {sorted(used)} and options {sorted(options)} "
                         "differ")
    reads = {t: tuple(cols) for t, cols in body["reads"].items()}
    if set(_RAW.findall(text)) != set(reads):
        raise ValueError(f"{where}: raw tables [[...]] {sorted(set(_RAW.findall(text)))} and reads "
                         f"{sorted(reads)} differ")
    if body["main"] not in reads:
        raise ValueError(f"{where}: main table {body['main']!r} is not in reads")
    return PresetTable(
        preset=preset, name=name, main=body["main"], reads=MappingProxyType(reads),
        frm=body["from"], columns=MappingProxyType(columns),
        with_=MappingProxyType(dict(body.get("with") or {})), where=body.get("where"),
        aggregates=tuple(body.get("aggregates") or ()), options=MappingProxyType(options),
        keys=MappingProxyType({k: tuple(v) for k, v in (body.get("keys") or {}).items()}),
        notes=tuple(body.get("notes") or ()),
    )
