"""The indicator catalog: declarative YAML entries under the top-level ``features/`` folder.

Each entry names its shape, window, unit, risk direction, the sentences a CSM reads and, where it
measures one, the persona (:data:`PERSONAS`). Adding an indicator of an existing shape is adding
an entry; the engine turns shapes into SQL. A family is read on a card as a risk area
(:data:`AREA_LABELS`).
"""

from __future__ import annotations

import functools
import math
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

FAMILIES = ("usage", "support", "nps", "champion", "value", "contract")
#: family -> the risk area a CSM reads on a card
AREA_LABELS = {
    "usage": "Adoption",
    "support": "Support friction",
    "nps": "Sentiment (NPS)",
    "champion": "Relationship",
    "value": "Value realisation",
    "contract": "Contract",
    "other": "Other",
}
DIRECTIONS = ("up", "down", "none")
#: whose relationship an indicator measures (catalog key ``persona``): decision makers and
#: executive sponsors, influencing users (champions, power users), day-to-day users
PERSONAS = ("decision_maker", "influencer", "user")
KNOWN_KEYS = {
    "id", "shape", "family", "table", "time", "column", "window_days", "offset_days", "where",
    "share_where", "of", "nth", "min_days", "unit", "direction", "description", "risk",
    "protective", "reads", "persona", "missing",
}
DEFAULT_PATH = Path(__file__).with_name("catalog_yaml")


def area_label(family) -> str:
    """The risk area a CSM reads for ``family`` ("champion" -> "Relationship")."""
    return AREA_LABELS.get(str(family), str(family).replace("_", " ").capitalize())


@dataclass(frozen=True)
class Indicator:
    """One catalog entry. ``params`` holds the shape's settings (column, where, of, nth, ...)."""

    id: str
    family: str
    shape: str
    table: str
    window_days: int | None
    unit: str
    description: str
    risk_sentence: str | None
    protective_sentence: str | None
    direction: str
    params: dict = field(default_factory=dict, compare=False, hash=False)
    persona: str | None = None
    #: what a missing value means, in a CSM's words ("none open"): "before → now" lines show it
    #: instead of "unknown" (catalog key ``missing``)
    missing: str | None = None

    @property
    def reads(self) -> tuple[tuple[str, str], ...]:
        """The (table, column) pairs of the contract this indicator reads (see
        :func:`churnml.features.requirements.columns_read`)."""
        from churnml.features.requirements import columns_read

        return columns_read(self)

    def render(self, kind: str, row) -> str | None:
        """The ``"risk"`` or ``"protective"`` sentence filled with ``row`` (indicator id -> value).

        Placeholders are ``{value}``, ``{abs_value}``, ``{typical}`` (the typical account's value,
        given in ``row["typical"]``) and any indicator id; a missing value is shown as "unknown"
        and never raises. Returns None when the entry has no such sentence.
        """
        template = self.risk_sentence if kind == "risk" else self.protective_sentence
        if template is None:
            return None
        value = row.get(self.id)
        values = dict(row)
        values["value"] = value
        values["abs_value"] = None if _missing(value) else abs(value)
        out = []
        one = False  # the placeholder just written reads "1": the noun after it is singular
        for text, name, spec, conv in _parse_template(template):
            out.append(_PLURAL_AFTER_ONE.sub(r" \1\2", text, count=1) if one else text)
            one = False
            if name is None:
                continue
            v = values.get(name)
            if _missing(v):
                out.append("unknown")
                continue
            if conv:
                v = repr(v) if conv == "r" else str(v)
            try:
                shown = format(v, spec or "")
            except (TypeError, ValueError):
                shown = str(v)
            out.append(shown)
            one = shown in ("1", "+1", "-1")
        return "".join(out)


#: "1 days" -> "1 day": the text after a value shown as exactly 1 (not 11, 1.0 or 1,000), when
#: it starts with one of the catalog's plural nouns, optionally after one of its adjectives
_PLURAL_AFTER_ONE = re.compile(
    r"^ ((?:active |escalated |high-priority |power |product |success-plan |support )?)"
    r"(day|user|ticket|point|seat|goal|event|feature|champion|term|response)s\b"
)


@functools.lru_cache(maxsize=1024)
def _parse_template(template: str) -> tuple:
    """The parsed pieces of a sentence template, parsed once per template (a scoring run renders
    the same few dozen templates hundreds of thousands of times)."""
    return tuple(string.Formatter().parse(template))


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value) or (isinstance(value, float) and math.isnan(value))  # noqa: PLR0124 (NaN check for any float type)
    except (TypeError, ValueError):
        return str(value) in {"<NA>", "NaT"}


class Catalog:
    """An ordered collection of :class:`Indicator` entries, addressable by id."""

    def __init__(self, indicators):
        indicators = list(indicators)
        self._items = {i.id: i for i in indicators}
        if len(self._items) != len(indicators):
            raise ValueError("indicator ids must be unique in a catalog")

    def __iter__(self):
        return iter(self._items.values())

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items

    def __getitem__(self, key) -> Indicator:
        try:
            return self._items[key]
        except KeyError:
            raise KeyError(f"no indicator {key!r} in the catalog ({len(self)} entries)") from None

    def get(self, key, default=None):
        return self._items.get(key, default)

    @property
    def ids(self) -> list[str]:
        return list(self._items)

    @property
    def families(self) -> list[str]:
        return list(dict.fromkeys(i.family for i in self))

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([
            {"id": i.id, "family": i.family, "shape": i.shape, "table": i.table,
             "window_days": i.window_days, "unit": i.unit, "direction": i.direction,
             "description": i.description, "risk_sentence": i.risk_sentence,
             "protective_sentence": i.protective_sentence,
             "persona": getattr(i, "persona", None),
             "reads": ", ".join(f"{t}.{c}" for t, c in i.reads)}
            for i in self
        ])

    def __repr__(self):
        return f"Catalog({len(self)} indicators in {len(self.families)} families)"


def load_catalog(path=None) -> Catalog:
    """Read every ``*.yaml`` file of the catalog folder (default: the top-level ``features/``).

    Parameters
    ----------
    path : str or Path, optional
        A folder of YAML files or one YAML file.

    Examples
    --------
    >>> catalog = load_catalog()
    >>> catalog["active_users_30d"].family
    'usage'
    """
    import yaml

    root = Path(path) if path is not None else DEFAULT_PATH
    order = {f: i for i, f in enumerate(FAMILIES)}
    files = sorted(root.glob("*.yaml"), key=lambda f: (order.get(f.stem, 99), f.name)) if root.is_dir() else [root]
    if not files:
        raise FileNotFoundError(f"no catalog YAML files in {root}")
    indicators = []
    for file in files:
        doc = yaml.load(file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        for entry in doc.get("indicators", []):
            indicators.append(_entry(entry, doc, file))
    ids = [i.id for i in indicators]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"catalog {root}: indicator ids defined twice: {dupes}")
    catalog = Catalog(indicators)
    for ind in catalog:
        for ref in ind.params.get("of", []):
            if ref not in catalog:
                raise ValueError(f"catalog: {ind.id} refers to unknown indicator {ref!r} in 'of'")
    return catalog


def _entry(entry: dict, doc: dict, file: Path) -> Indicator:
    where = f"{file.name}: indicator {entry.get('id', '?')!r}"
    unknown = set(entry) - KNOWN_KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(KNOWN_KEYS)}")
    for key in ("id", "shape", "description"):
        if not entry.get(key):
            raise ValueError(f"{where} needs a {key!r}")
    family = entry.get("family", doc.get("family"))
    if family not in FAMILIES:
        raise ValueError(f"{where}: family must be one of {FAMILIES}, but got family={family!r}")
    direction = entry.get("direction", "none")
    if direction not in DIRECTIONS:
        raise ValueError(f"{where}: direction must be one of {DIRECTIONS}, but got {direction!r}")
    persona = entry.get("persona")
    if persona is not None and persona not in PERSONAS:
        raise ValueError(f"{where}: persona must be one of {PERSONAS}, but got persona={persona!r}")
    missing = entry.get("missing")
    if missing is not None and not (isinstance(missing, str) and missing.strip()):
        raise ValueError(f"{where}: missing must be a few words ('none open'), but got "
                         f"missing={missing!r}")
    params = {k: entry[k] for k in ("time", "column", "offset_days", "where", "share_where", "of",
                                    "nth", "min_days", "reads") if k in entry}
    reads = params.get("reads", [])
    if isinstance(reads, str) or not all(isinstance(r, str) and r for r in reads):
        raise ValueError(f"{where}: reads must be a list of columns ('seats' or 'accounts.segment'), "
                         f"but got reads={reads!r}")
    return Indicator(
        id=str(entry["id"]),
        family=family,
        shape=str(entry["shape"]),
        table=str(entry.get("table", doc.get("table", ""))),
        window_days=entry.get("window_days"),
        unit=str(entry.get("unit", "")),
        description=str(entry["description"]),
        risk_sentence=entry.get("risk"),
        protective_sentence=entry.get("protective"),
        direction=direction,
        params=params,
        persona=persona,
        missing=missing,
    )
