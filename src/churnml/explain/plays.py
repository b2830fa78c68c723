"""Suggested plays: what to do next about an account's leading risk areas, and who does it.

A play is chosen from an account's leading risk families (:mod:`churnml.explain.areas`): a play
for the *pair* of its two leading families when the plays file has one, then the play of each
leading family — the play of the indicator that carries most of the family when it has its own,
else the family's. Every play has an *owner role* (the CSM, the support lead, an executive
sponsor, a product specialist, or any role the file declares under ``owners``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

DEFAULT_PLAYS = Path(__file__).with_name("plays.yaml")
FAMILIES = ("usage", "support", "nps", "champion", "value", "contract")
#: owner role -> how the report and the CRM fields name it
DEFAULT_OWNERS = {
    "csm": "CSM",
    "support_lead": "Support lead",
    "executive_sponsor": "Executive sponsor",
    "product_specialist": "Product specialist",
}
DEFAULT_OWNER = "csm"
_KEYS = ("owners", "families", "pairs", "indicators")


class Play(str):
    """A play: its text (the ``str`` itself) and ``owner``, the label of the role that runs it.

    Examples
    --------
    >>> play = Play("Re-establish an executive sponsor", owner="Executive sponsor")
    >>> play == "Re-establish an executive sponsor", play.owner
    (True, 'Executive sponsor')
    """

    owner: str

    def __new__(cls, text: str, owner: str = DEFAULT_OWNERS[DEFAULT_OWNER]):
        play = super().__new__(cls, text)
        play.owner = owner
        return play

    def __reduce__(self):
        return (Play, (str(self), self.owner))


def pair_key(first: str, second: str) -> str:
    """The order-free key of two families: ``pair_key("usage", "champion") == "champion+usage"``."""
    return "+".join(sorted((str(first), str(second))))


def _entry(where: str, value, owners: Mapping[str, str]) -> Play:
    """A plays-file entry (a text, or ``{play: text, owner: role}``) as a :class:`Play`."""
    if isinstance(value, Play):
        return value
    role = DEFAULT_OWNER
    if isinstance(value, Mapping):
        extra = sorted(set(value) - {"play", "owner"})
        if extra:
            raise ValueError(f"plays: {where} has unknown keys {extra}; allowed: ['owner', 'play']")
        role, value = value.get("owner", DEFAULT_OWNER), value.get("play")
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"plays: {where} must be a non-empty text, but got {value!r}")
    if role not in owners:
        raise ValueError(
            f"plays: {where} has owner {role!r}, which is not one of the owners {sorted(owners)}"
        )
    return Play(value.strip(), owner=owners[role])


@dataclass(frozen=True)
class Plays:
    """Plays by indicator id or glob pattern, by family and by pair of families, with owners.

    Parameters
    ----------
    families : mapping of str to str or dict
        Play of each indicator family: a text (owned by the CSM) or ``{play: ..., owner: role}``.
    indicators : mapping of str to str or dict
        Play of an indicator id or a glob pattern (``champion_left_*``); exact ids win over
        patterns, then the first matching pattern in file order.
    pairs : mapping of str to str or dict
        Play of two leading families together, keyed ``"champion+usage"`` (either order).
    owners : mapping of str to str
        Owner role -> its label; default :data:`DEFAULT_OWNERS`.

    Examples
    --------
    >>> sponsor = {"play": "Re-establish a sponsor", "owner": "executive_sponsor"}
    >>> plays = Plays({"champion": "Map new stakeholders"}, {"champion_left_*": sponsor})
    >>> play = plays.play_for("champion_left_90d", "champion")
    >>> play, play.owner, plays.play_for("active_champions", "champion").owner
    ('Re-establish a sponsor', 'Executive sponsor', 'CSM')
    """

    families: Mapping[str, object] = field(default_factory=dict)
    indicators: Mapping[str, object] = field(default_factory=dict)
    pairs: Mapping[str, object] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OWNERS))

    def __post_init__(self):
        owners = self._checked_owners()
        for section in ("families", "indicators", "pairs"):
            mapping = getattr(self, section)
            if not isinstance(mapping, Mapping):
                raise TypeError(
                    f"plays: {section} must be a mapping, but got {type(mapping).__name__}"
                )
            entries = {str(k): _entry(f"{section}.{k}", v, owners) for k, v in mapping.items()}
            object.__setattr__(self, section, MappingProxyType(entries))
        unknown = sorted(set(self.families) - set(FAMILIES))
        if unknown:
            raise ValueError(
                f"plays: unknown families {unknown}; the families are {list(FAMILIES)}"
            )
        pairs = {}
        for key, play in self.pairs.items():
            parts = key.split("+")
            if len(parts) != 2 or not set(parts) <= set(FAMILIES) or parts[0] == parts[1]:
                raise ValueError(
                    f"plays: pairs.{key} must name two different families as 'usage+champion'; "
                    f"the families are {list(FAMILIES)}"
                )
            pairs[pair_key(*parts)] = play
        object.__setattr__(self, "pairs", MappingProxyType(pairs))

    def _checked_owners(self) -> Mapping[str, str]:
        owners = self.owners
        if not isinstance(owners, Mapping) or not owners:
            raise TypeError(f"plays: owners must be a non-empty mapping, but got {owners!r}")
        bad = {k: v for k, v in owners.items() if not isinstance(v, str) or not v.strip()}
        if bad:
            raise ValueError(
                f"plays: owners need a non-empty label, e.g. {dict(list(bad.items())[:3])}"
            )
        owners = {str(k): v.strip() for k, v in owners.items()}
        object.__setattr__(self, "owners", MappingProxyType(owners))
        return owners

    def play_for(self, indicator: str, family: str | None = None) -> Play | None:
        """The play for ``indicator`` (exact id, then first matching pattern, then its family)."""
        if indicator in self.indicators:
            return self.indicators[indicator]
        for pattern, play in self.indicators.items():
            if fnmatch.fnmatchcase(indicator, pattern):
                return play
        return self.families.get(family) if family is not None else None

    def plays_for(
        self, indicators: Iterable[str], families: Iterable[str | None]
    ) -> list[Play | None]:
        """:meth:`play_for` over parallel lists of ids and families."""
        return [self.play_for(i, f) for i, f in zip(indicators, families)]

    def pair_for(self, first: str, second: str) -> Play | None:
        """The play of two leading families together, or None."""
        return self.pairs.get(pair_key(first, second))


def load_plays(path=None) -> Plays:
    """Read and validate a plays YAML file (default: the packaged ``plays.yaml``).

    Parameters
    ----------
    path : str or Path, optional
        A YAML file with the sections ``owners`` (role -> label), ``families`` (family ->
        play), ``pairs`` ("family+family" -> play) and ``indicators`` (id or glob pattern ->
        play); a play is a text or ``{play: text, owner: role}``.

    Returns
    -------
    Plays

    Examples
    --------
    >>> play = load_plays().play_for("no_executive_sponsor", "champion")
    >>> play, play.owner
    ('Re-establish an executive sponsor', 'Executive sponsor')
    """
    import yaml

    path = Path(path) if path is not None else DEFAULT_PLAYS
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise TypeError(f"plays file {path} must hold a mapping, but got {type(data).__name__}")
    extra = sorted(set(data) - set(_KEYS))
    if extra:
        raise ValueError(f"plays file {path}: unknown sections {extra}; allowed: {list(_KEYS)}")
    try:
        return _from_sections(data)
    except (TypeError, ValueError) as err:
        raise type(err)(f"plays file {path}: {err}") from None


def _from_sections(data: Mapping) -> Plays:
    return Plays(
        data.get("families") or {},
        data.get("indicators") or {},
        data.get("pairs") or {},
        data.get("owners") or dict(DEFAULT_OWNERS),
    )


def as_plays(plays) -> Plays:
    """Accept a :class:`Plays`, a path, a mapping with the sections, or None (the default)."""
    if isinstance(plays, Plays):
        return plays
    if plays is None or isinstance(plays, (str, Path)):
        return load_plays(plays)
    if isinstance(plays, Mapping):
        return _from_sections(plays)
    raise TypeError(f"plays must be a Plays, a path or a mapping, but got {type(plays).__name__}")
