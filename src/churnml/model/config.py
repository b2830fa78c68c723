"""Model config: a frozen dataclass read from ``models/default.yaml`` and checked when loaded.

Every value is validated eagerly; an error names the field and shows the bad value, e.g.
``tiers.red must be greater than tiers.amber (0.25), but got red=0.2``.

Tier thresholds are probabilities (``red: 0.5``) or multiples of the model's base rate, the churn
rate of its training labels (``red: 2x``, twice the base rate); the default is relative.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

#: the packaged default (``models/default.yaml``, symlinked as ``churnml/model/configs``)
DEFAULT_PATH = Path(__file__).parent / "configs" / "default.yaml"

CADENCES = ("daily", "weekly", "monthly", "quarterly")
CALIBRATIONS = ("auto", "isotonic", "sigmoid", None)
BACKENDS = ("auto", "native", "woodelf", "shap")
LABELS = ("auto", "renewal", "window")  # see churnml.labels


def _fail(name, rule, value):
    raise ValueError(f"model config: {name} must be {rule}, but got {name}={value!r}")


def _check_int(name, value, low, *, optional=False):
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        _fail(name, f"an integer of at least {low}" + (" or null" if optional else ""), value)


def _check_real(name, value, low, high, *, optional=False):
    if optional and value is None:
        return
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        _fail(name, f"a number in [{low}, {high}]" + (" or null" if optional else ""), value)


def _check_cadence(value):
    """A named cadence or any pandas offset alias (what ``make_spine`` accepts)."""
    if value in CADENCES:
        return
    import pandas as pd

    try:
        pd.tseries.frequencies.to_offset(value)
    except (ValueError, TypeError):
        _fail("cadence", f"one of {CADENCES!r} or a pandas offset alias", value)


def _check_choice(name, value, choices):
    if value not in choices:
        _fail(name, f"one of {choices!r}", value)


#: hard limits of each parameter (a bound outside them is an error)
SEARCH_LIMITS = {
    "learning_rate": (1e-4, 1.0),
    "num_leaves": (2, 4096),
    "min_child_samples": (1, 100_000),
    "feature_fraction": (0.05, 1.0),
    "bagging_fraction": (0.05, 1.0),
    "lambda_l1": (0.0, 1e4),
    "lambda_l2": (0.0, 1e4),
    "scale_pos_weight": (1e-3, 1e3),
}
INTEGER_PARAMS = ("num_leaves", "min_child_samples")


@dataclass(frozen=True)
class SearchSpace:
    """``(low, high)`` bounds of each tuned LightGBM parameter (log scale where noted)."""

    learning_rate: tuple[float, float] = (0.01, 0.2)  # log
    num_leaves: tuple[int, int] = (4, 63)
    min_child_samples: tuple[int, int] = (10, 120)
    feature_fraction: tuple[float, float] = (0.6, 1.0)
    bagging_fraction: tuple[float, float] = (0.5, 1.0)
    lambda_l1: tuple[float, float] = (1e-8, 10.0)  # log
    lambda_l2: tuple[float, float] = (1e-8, 10.0)  # log
    scale_pos_weight: tuple[float, float] = (1.0, 10.0)  # log

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            name = f"search_space.{f.name}"
            if not isinstance(value, (list, tuple)) or len(value) != 2:
                _fail(name, "a [low, high] pair", value)
            low, high = value
            lo_lim, hi_lim = SEARCH_LIMITS[f.name]
            for v in value:
                if f.name in INTEGER_PARAMS:
                    _check_int(name, v, lo_lim)
                else:
                    _check_real(name, v, lo_lim, hi_lim)
            if low > high:
                _fail(name, "[low, high] with low <= high", value)
            object.__setattr__(self, f.name, (low, high))


_MULTIPLE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*[xX×]\s*$")
#: largest multiple of the base rate a threshold may be
MAX_MULTIPLE = 100.0


def parse_threshold(name: str, value) -> tuple[bool, float]:
    """``(relative, number)`` of a tier threshold: a probability in [0, 1] such as ``0.5``, or a
    multiple of the base rate such as ``"2x"`` (``relative`` True, ``number`` 2.0).

    Examples
    --------
    >>> parse_threshold("tiers.red", "1.5x"), parse_threshold("tiers.red", 0.4)
    ((True, 1.5), (False, 0.4))
    """
    if isinstance(value, str):
        hit = _MULTIPLE.match(value)
        if hit is None or not 0 < float(hit[1]) <= MAX_MULTIPLE:
            _fail(
                name,
                f"a probability in [0, 1] or a multiple of the base rate in (0, {MAX_MULTIPLE:g}] "
                f"written like '2x'",
                value,
            )
        return True, float(hit[1])
    _check_real(name, value, 0.0, 1.0)
    return False, float(value)


@dataclass(frozen=True)
class Tiers:
    """Tier thresholds: red at or above ``red``, amber at or above ``amber``, else green.

    Each is a probability (``0.5``) or a multiple of the model's base rate, the churn rate of its
    training labels (``"2x"``: twice the base rate), resolved when scoring
    (:func:`churnml.scoring.tiers.thresholds`). Two thresholds of the same kind are ordered here;
    a probability and a multiple are compared once the base rate is known.
    """

    red: float | str = "2x"
    amber: float | str = "1.25x"

    def __post_init__(self):
        red = parse_threshold("tiers.red", self.red)
        amber = parse_threshold("tiers.amber", self.amber)
        for name, (relative, number) in (("red", red), ("amber", amber)):
            object.__setattr__(self, name, f"{number:g}x" if relative else number)
        if red[0] == amber[0] and not amber[1] < red[1]:
            raise ValueError(
                f"model config: tiers.red must be greater than tiers.amber ({self.amber}), "
                f"but got red={self.red}"
            )

    @property
    def relative(self) -> bool:
        """Whether either threshold is a multiple of the base rate."""
        return isinstance(self.red, str) or isinstance(self.amber, str)


@dataclass(frozen=True)
class ModelConfig:
    """Everything training and scoring need to agree on. See ``models/default.yaml``.

    Examples
    --------
    >>> config = load_config(trials=5, tiers={"red": "3x"})
    >>> config.trials, config.tiers.red, config.tiers.amber
    (5, '3x', '1.25x')
    """

    label: str = "auto"
    horizon_days: int = 180
    downgrade_churn_share: float | None = None
    cadence: str = "monthly"
    training_start: str | None = None
    training_end: str | None = None
    n_folds: int = 4
    test_snapshots: int = 2
    gap_days: int | None = None
    trials: int = 40
    timeout_seconds: float | None = 900
    pruning: bool = True
    min_gain_se: float = 2.0
    n_estimators: int = 600
    early_stopping_rounds: int | None = 50
    calibration: str | None = "auto"
    blend: str | bool = "auto"
    search_space: SearchSpace = field(default_factory=SearchSpace)
    tiers: Tiers = field(default_factory=Tiers)
    capacity: int = 50
    capacity_per_csm: int = 5
    saveability: dict = field(default_factory=dict)
    explanation_backend: str = "auto"
    seed: int = 0
    registered_model_name: str = "churnml"

    def __post_init__(self):
        _check_choice("label", self.label, LABELS)
        _check_int("horizon_days", self.horizon_days, 1)
        _check_real("downgrade_churn_share", self.downgrade_churn_share, 0.0, 1.0, optional=True)
        _check_cadence(self.cadence)
        for name in ("training_start", "training_end"):
            value = getattr(self, name)
            if value is not None:
                import pandas as pd

                try:
                    object.__setattr__(self, name, str(pd.Timestamp(value).date()))
                except (ValueError, TypeError):
                    _fail(name, "a date (YYYY-MM-DD) or null", value)
        _check_int("n_folds", self.n_folds, 1)
        _check_int("test_snapshots", self.test_snapshots, 0)
        _check_int("gap_days", self.gap_days, 0, optional=True)
        _check_int("trials", self.trials, 1)
        _check_real("timeout_seconds", self.timeout_seconds, 1, 1e7, optional=True)
        if not isinstance(self.pruning, bool):
            _fail("pruning", "true or false", self.pruning)
        _check_real("min_gain_se", self.min_gain_se, 0.0, 100.0)
        _check_int("n_estimators", self.n_estimators, 1)
        _check_int("early_stopping_rounds", self.early_stopping_rounds, 1, optional=True)
        _check_choice("calibration", self.calibration, CALIBRATIONS)
        if not (self.blend == "auto" or isinstance(self.blend, bool)):
            _fail("blend", "one of 'auto', true or false", self.blend)
        _check_int("capacity", self.capacity, 1)
        _check_int("capacity_per_csm", self.capacity_per_csm, 1)
        _check_saveability(self.saveability)
        _check_choice("explanation_backend", self.explanation_backend, BACKENDS)
        _check_int("seed", self.seed, 0)
        if not isinstance(self.registered_model_name, str) or not self.registered_model_name:
            _fail("registered_model_name", "a non-empty name", self.registered_model_name)
        for name, cls in (("search_space", SearchSpace), ("tiers", Tiers)):
            value = getattr(self, name)
            if isinstance(value, dict):
                object.__setattr__(self, name, _build(cls, value, name))
            elif not isinstance(value, cls):
                _fail(name, f"a mapping of {cls.__name__} fields", value)

    def to_dict(self) -> dict:
        """Plain nested dict (what ``load_config`` reads), e.g. for logging as parameters."""
        out = dataclasses.asdict(self)
        out["search_space"] = {k: list(v) for k, v in out["search_space"].items()}
        return out


def _check_saveability(value):
    """Family -> share of its at-risk ARR a CSM can save, each in [0, 1]."""
    from churnml.features.catalog import FAMILIES

    if not isinstance(value, dict):
        _fail("saveability", "a mapping of family to a number in [0, 1]", value)
    for family, factor in value.items():
        if family not in FAMILIES:
            _fail(f"saveability.{family}", f"a family of {FAMILIES!r}", family)
        _check_real(f"saveability.{family}", factor, 0.0, 1.0)


def _build(cls, values: dict, where: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"model config: unknown {where} key(s) {unknown}; known keys are {sorted(known)}"
        )
    return cls(**values)


def load_config(path=None, **overrides) -> ModelConfig:
    """Read a model config YAML (default ``models/default.yaml``) and apply ``overrides``.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file; keys left out take the defaults of :class:`ModelConfig`.
    **overrides
        Field values replacing the file's; ``tiers`` and ``search_space`` may be partial dicts,
        merged into the file's. ``None`` values are ignored (so CLI options can pass through).

    Returns
    -------
    ModelConfig

    Examples
    --------
    >>> load_config().horizon_days
    180
    """
    import yaml

    source = Path(path) if path is not None else DEFAULT_PATH
    if not source.exists():
        raise FileNotFoundError(f"model config: no file {source}")
    values = yaml.safe_load(source.read_text()) or {}
    if not isinstance(values, dict):
        raise TypeError(f"model config {source}: expected a mapping, got {type(values).__name__}")
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("tiers", "search_space") and isinstance(value, dict):
            value = {**(values.get(key) or {}), **value}
        values[key] = value
    for key in ("tiers", "search_space"):
        if key in values and values[key] is not None:
            section = values[key]
            if not isinstance(section, dict):
                _fail(key, "a mapping", section)
            if key == "search_space":
                values[key] = {
                    k: tuple(v) if isinstance(v, list) else v for k, v in section.items()
                }
    try:
        return _build(ModelConfig, values, "top-level")
    except ValueError as error:
        raise ValueError(f"{error} (loading {source})") from None


#: config keys that scoring reads (``churnml score --config`` overrides the model's with them)
SCORING_KEYS = ("tiers", "explanation_backend", "capacity_per_csm", "saveability")


def scoring_overrides(path) -> dict:
    """The scoring keys (:data:`SCORING_KEYS`) that the config file ``path`` sets, validated
    like the whole file; keys it leaves out are not returned (the model's own apply).

    Examples
    --------
    >>> scoring_overrides("capacity.yaml")  # doctest: +SKIP
    {'tiers': Tiers(red=0.3, amber=0.15)}
    """
    import yaml

    config = load_config(path)
    given = yaml.safe_load(Path(path).read_text()) or {}
    return {key: getattr(config, key) for key in SCORING_KEYS if key in given}
