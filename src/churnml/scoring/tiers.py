"""Risk tiers (red / amber / green) from probabilities: by thresholds or by CSM capacity.

A threshold is a probability (``0.5``) or a multiple of the model's base rate, the churn rate of
its training labels (``"2x"``); :func:`thresholds` turns both into probabilities. Relative
thresholds fit the book: with an 8 % base rate, ``2x`` is red from 16 %, where a fixed 0.5 would
leave every account green. A multiple above 1 / base rate is capped at probability 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIERS = ("red", "amber", "green")
TIER_DTYPE = pd.CategoricalDtype(list(TIERS), ordered=False)


def model_base_rate(model) -> float | None:
    """The model's training churn rate: ``base_rate_`` (set by ``ChurnModel.fit``), else its
    training info's ``base_rate``, else None (a model saved before either was recorded)."""
    value = getattr(model, "base_rate_", None)
    if value is None:
        value = (getattr(model, "training_info_", None) or {}).get("base_rate")
    return None if value is None else float(value)


def _pair(tiers):
    """(red, amber) as given by a ``Tiers`` config object, a mapping, or a pair."""
    if tiers is None:
        from churnml.model.config import Tiers

        tiers = Tiers()
    if isinstance(tiers, dict):
        from churnml.model.config import Tiers

        defaults = Tiers()
        return tiers.get("red", defaults.red), tiers.get("amber", defaults.amber)
    if hasattr(tiers, "red"):
        return tiers.red, tiers.amber
    red, amber = tiers
    return red, amber


def thresholds(tiers=None, base_rate: float | None = None) -> tuple[float, float]:
    """``(red, amber)`` as probabilities.

    Parameters
    ----------
    tiers : Tiers, mapping or (red, amber), optional
        Each threshold a probability or a multiple of the base rate (``"2x"``). Default: the
        packaged config's (relative) thresholds.
    base_rate : float, optional
        The model's training churn rate; needed when a threshold is relative.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> thresholds({"red": "2x", "amber": 0.1}, base_rate=0.08)
    (0.16, 0.1)
    """
    from churnml.model.config import parse_threshold

    red, amber = _pair(tiers)
    (red_rel, red_n), (amber_rel, amber_n) = (
        parse_threshold("tiers.red", red),
        parse_threshold("tiers.amber", amber),
    )
    if (red_rel or amber_rel) and (base_rate is None or not 0 < float(base_rate) < 1):
        raise ValueError(
            f"tiers: red={red!r}, amber={amber!r} are relative to the model's base rate, but the "
            f"base rate is {base_rate!r}; give probability thresholds (e.g. red: 0.5) instead"
        )
    red_p = min(red_n * float(base_rate), 1.0) if red_rel else red_n
    amber_p = min(amber_n * float(base_rate), 1.0) if amber_rel else amber_n
    if not 0.0 <= amber_p < red_p <= 1.0 and not amber_p == red_p == 1.0:
        given = f" from red={red!r}, amber={amber!r}" if red_rel or amber_rel else ""
        raise ValueError(
            f"tiers: need 0 <= amber < red <= 1, but got red={red_p:.4g}, amber={amber_p:.4g}"
            f"{given}{f' at base rate {base_rate:.4g}' if given else ''}"
        )
    return red_p, amber_p


def _capacity_rank(p, groups, tiebreak) -> np.ndarray:
    """Rank (1 = riskiest) within each group by probability, then ``tiebreak``, then position."""
    n = len(p)
    key = np.zeros(n, dtype=np.int64) if groups is None else pd.factorize(np.asarray(groups))[0]
    second = np.zeros(n) if tiebreak is None else np.nan_to_num(tiebreak, nan=-np.inf)
    order = np.lexsort((np.arange(n), -second, -np.nan_to_num(p, nan=-np.inf), key))
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first + 1
    return rank


def assign_tiers(
    probability,
    *,
    tiers=None,
    capacity: int | None = None,
    groups=None,
    base_rate: float | None = None,
    tiebreak=None,
) -> pd.Categorical:
    """Tier per account: red / amber / green.

    Parameters
    ----------
    probability : array-like of float
        Calibrated probability of non-renewal per account.
    tiers : Tiers, mapping or (red, amber), optional
        Thresholds (see :func:`thresholds`): ``p >= red`` is red, ``p >= amber`` amber, else
        green. Default: the packaged model config's thresholds.
    capacity : int, optional
        When given, the ``capacity`` accounts with the highest probability (per group) are red and
        no other account is; the rest are amber at ``p >= amber``, else green. Ties are broken by
        ``tiebreak`` (higher first), then by position, so exactly ``min(capacity, n)`` rows are red.
    groups : array-like, optional
        Group key (e.g. ``as_of``) within which capacity applies; default one group.
    base_rate : float, optional
        The model's training churn rate, for relative thresholds.
    tiebreak : array-like of float, optional
        Second ranking key under capacity, e.g. the uncalibrated log-odds where a step-wise
        calibration ties probabilities.

    Returns
    -------
    pandas.Categorical
        Categories red, amber, green.

    Examples
    --------
    >>> list(assign_tiers([0.9, 0.3, 0.1], tiers={"red": 0.5, "amber": 0.25}))
    ['red', 'amber', 'green']
    >>> list(assign_tiers([0.9, 0.3, 0.1], tiers={"red": 0.5, "amber": 0.25}, capacity=2))
    ['red', 'red', 'green']
    >>> list(assign_tiers([0.3, 0.12, 0.05], tiers={"red": "2x", "amber": "1.25x"}, base_rate=0.08))
    ['red', 'amber', 'green']
    """
    p = np.asarray(probability, dtype=np.float64)
    red, amber = thresholds(tiers, base_rate)
    out = np.where(p >= amber, "amber", "green").astype(object)
    if capacity is None:
        out[p >= red] = "red"
    else:
        capacity = int(capacity)
        if capacity < 0:
            raise ValueError(f"capacity must be at least 0, but got capacity={capacity}")
        tb = None if tiebreak is None else np.asarray(tiebreak, dtype=np.float64)
        out[_capacity_rank(p, groups, tb) <= capacity] = "red"
    out[np.isnan(p)] = None
    return pd.Categorical(out, dtype=TIER_DTYPE)


def _relative(tiers) -> bool:
    from churnml.model.config import parse_threshold

    return any(parse_threshold(f"tiers.{k}", v)[0] for k, v in zip(("red", "amber"), _pair(tiers)))


def tier_scores(model, probability, *, tiers=None, capacity=None, groups=None, tiebreak=None):
    """The tiers of one scoring run: thresholds (or capacity) with the model's base rate, and no
    red account when the model shows no signal (:mod:`churnml.scoring.signal`).

    A model saved before base rates were recorded gets relative thresholds against the mean
    probability of the scored accounts instead, with a ``base_rate_estimated`` warning.

    Returns
    -------
    (Categorical, dict, list of dict)
        The tiers; what was applied (``red`` / ``amber`` as given, ``base_rate``,
        ``red_probability`` / ``amber_probability``, ``capacity``, ``capacity_applied``,
        ``signal``); warnings (kind, indicator, count, message).
    """
    from churnml.scoring.signal import signal_warning, withhold_red

    p = np.asarray(probability, dtype=np.float64)
    notes = []
    base = model_base_rate(model)
    if base is None and _relative(tiers) and np.isfinite(p).any():
        base = float(np.nanmean(p))
        notes.append({
            "kind": "base_rate_estimated", "indicator": None, "count": len(p),
            "message": (
                f"the model records no base rate (it was saved before churnml recorded one): "
                f"relative tiers use the mean probability of the scored accounts ({base:.3f}) "
                f"instead; retrain to record it"
            ),
        })  # fmt: skip
    no_signal = signal_warning(model, p, capacity=capacity)
    applied = None if no_signal else capacity
    out = assign_tiers(
        p, tiers=tiers, capacity=applied, groups=groups, base_rate=base, tiebreak=tiebreak
    )
    if no_signal:
        out = withhold_red(out)
        notes.append(no_signal)
    red, amber = _pair(tiers)
    red_p, amber_p = thresholds(tiers, base)
    tiering = {
        "red": red, "amber": amber, "base_rate": base,
        "red_probability": red_p, "amber_probability": amber_p,
        "capacity": capacity, "capacity_applied": applied is not None, "signal": no_signal is None,
    }  # fmt: skip
    return out, tiering, notes
