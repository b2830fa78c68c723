"""Risk tiers (red / amber / green) from probabilities: by thresholds or by CSM capacity."""

from __future__ import annotations

import numpy as np
import pandas as pd

TIERS = ("red", "amber", "green")
TIER_DTYPE = pd.CategoricalDtype(list(TIERS), ordered=False)


def _thresholds(tiers) -> tuple[float, float]:
    """(red, amber) from a ``Tiers`` config object, a mapping, or a pair."""
    if tiers is None:
        from churnml.model.config import Tiers

        tiers = Tiers()
    if isinstance(tiers, dict):
        red, amber = tiers["red"], tiers["amber"]
    elif hasattr(tiers, "red"):
        red, amber = tiers.red, tiers.amber
    else:
        red, amber = tiers
    red, amber = float(red), float(amber)
    if not 0.0 <= amber < red <= 1.0:
        raise ValueError(f"tiers: need 0 <= amber < red <= 1, but got red={red}, amber={amber}")
    return red, amber


def assign_tiers(
    probability, *, tiers=None, capacity: int | None = None, groups=None
) -> pd.Categorical:
    """Tier per account: red / amber / green.

    Parameters
    ----------
    probability : array-like of float
        Calibrated probability of non-renewal per account.
    tiers : Tiers, mapping or (red, amber), optional
        Probability thresholds: ``p >= red`` is red, ``p >= amber`` amber, else green.
        Default: the packaged model config's thresholds.
    capacity : int, optional
        When given, the ``capacity`` accounts with the highest probability (per group) are red and
        no other account is; the rest are amber at ``p >= amber``, else green. Ties are broken by
        position (earlier rows first), so exactly ``min(capacity, n)`` rows are red.
    groups : array-like, optional
        Group key (e.g. ``as_of``) within which capacity applies; default one group.

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
    """
    p = np.asarray(probability, dtype=np.float64)
    red, amber = _thresholds(tiers)
    out = np.where(p >= amber, "amber", "green").astype(object)
    if capacity is None:
        out[p >= red] = "red"
    else:
        capacity = int(capacity)
        if capacity < 0:
            raise ValueError(f"capacity must be at least 0, but got capacity={capacity}")
        key = pd.Series(np.zeros(len(p), dtype=np.int64) if groups is None else np.asarray(groups))
        order = pd.Series(-np.nan_to_num(p, nan=-np.inf))
        position = order.groupby(key.to_numpy()).rank(method="first").to_numpy()
        out[position <= capacity] = "red"
    out[np.isnan(p)] = None
    return pd.Categorical(out, dtype=TIER_DTYPE)
