"""Suggested plays: a configurable mapping from indicator (or its family) to what a CSM does next."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

DEFAULT_PLAYS = Path(__file__).with_name("plays.yaml")
FAMILIES = ("usage", "support", "nps", "champion", "value", "contract")
_KEYS = ("families", "indicators")


@dataclass(frozen=True)
class Plays:
    """Plays by indicator id or glob pattern, with a default play per family.

    Parameters
    ----------
    families : mapping of str to str
        Default play of each indicator family.
    indicators : mapping of str to str
        Play of an indicator id or a glob pattern (``champion_left_*``); exact ids win over
        patterns, then the first matching pattern in file order.

    Examples
    --------
    >>> plays = Plays({"champion": "Map new stakeholders"}, {"champion_left_*": "Re-establish a sponsor"})
    >>> plays.play_for("champion_left_90d", "champion"), plays.play_for("active_champions", "champion")
    ('Re-establish a sponsor', 'Map new stakeholders')
    """

    families: Mapping[str, str] = field(default_factory=dict)
    indicators: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for section, mapping in (("families", self.families), ("indicators", self.indicators)):
            if not isinstance(mapping, Mapping):
                raise TypeError(
                    f"plays: {section} must be a mapping, but got {type(mapping).__name__}"
                )
            bad = {k: v for k, v in mapping.items() if not isinstance(v, str) or not v.strip()}
            if bad:
                raise ValueError(
                    f"plays: {len(bad)} {section} entries are not a non-empty text, e.g. "
                    f"{dict(list(bad.items())[:3])}"
                )
            object.__setattr__(
                self, section, MappingProxyType({str(k): v for k, v in mapping.items()})
            )
        unknown = sorted(set(self.families) - set(FAMILIES))
        if unknown:
            raise ValueError(
                f"plays: unknown families {unknown}; the families are {list(FAMILIES)}"
            )

    def play_for(self, indicator: str, family: str | None = None) -> str | None:
        """The play for ``indicator`` (exact id, then first matching pattern, then its family)."""
        if indicator in self.indicators:
            return self.indicators[indicator]
        for pattern, play in self.indicators.items():
            if fnmatch.fnmatchcase(indicator, pattern):
                return play
        return self.families.get(family) if family is not None else None

    def plays_for(
        self, indicators: Iterable[str], families: Iterable[str | None]
    ) -> list[str | None]:
        """:meth:`play_for` over parallel lists of ids and families."""
        return [self.play_for(i, f) for i, f in zip(indicators, families)]


def load_plays(path=None) -> Plays:
    """Read and validate a plays YAML file (default: the packaged ``plays.yaml``).

    Parameters
    ----------
    path : str or Path, optional
        A YAML file with the sections ``families`` (family -> play) and ``indicators``
        (id or glob pattern -> play).

    Returns
    -------
    Plays

    Examples
    --------
    >>> load_plays().play_for("no_executive_sponsor", "champion")
    'Re-establish an executive sponsor'
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
        return Plays(data.get("families") or {}, data.get("indicators") or {})
    except (TypeError, ValueError) as err:
        raise type(err)(f"plays file {path}: {err}") from None


def as_plays(plays) -> Plays:
    """Accept a :class:`Plays`, a path, a mapping with the two sections, or None (the default)."""
    if isinstance(plays, Plays):
        return plays
    if plays is None or isinstance(plays, (str, Path)):
        return load_plays(plays)
    if isinstance(plays, Mapping):
        return Plays(plays.get("families") or {}, plays.get("indicators") or {})
    raise TypeError(f"plays must be a Plays, a path or a mapping, but got {type(plays).__name__}")
