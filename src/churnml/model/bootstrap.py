"""A bootstrap interval of ROC-AUC: seeded, vectorised, resampling whole accounts.

The test snapshots of one account (one row per ``as_of``) are not independent, so resampling rows
would make the interval too narrow; :func:`auc_interval` resamples *clusters* (accounts) with
replacement and gives every row its account's draw count as a weight. The AUC of each resample is
the weighted Mann-Whitney statistic over the rows sorted once by score (ties count one half), so
all resamples are computed as matrix operations, a block of resamples at a time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: resamples of the interval used by the champion gate
N_RESAMPLES = 1000
#: two-sided coverage of the interval
LEVEL = 0.95
#: matrix cells (resamples x rows) computed at once; bounds memory to some tens of MB
_BLOCK_CELLS = 2_000_000


def _weighted_aucs(weights: np.ndarray, y_sorted: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """ROC-AUC per row of ``weights`` (resamples x rows, rows sorted by score; ``starts`` are the
    first positions of each group of tied scores)."""
    pos = np.add.reduceat(weights * y_sorted, starts, axis=1)
    neg = np.add.reduceat(weights * (1.0 - y_sorted), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / pairs, np.nan)


def auc_interval(
    y,
    p,
    *,
    clusters=None,
    level: float = LEVEL,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the ROC-AUC of scores ``p`` for labels ``y``.

    Parameters
    ----------
    y : array-like of 0/1
    p : array-like of float
        Scores (higher = more likely 1).
    clusters : array-like, optional
        Group of each row (e.g. ``account_id``); whole groups are resampled. Default: each row.
    level : float, default 0.95
        Two-sided coverage: the interval runs from the ``(1 - level) / 2`` to the
        ``(1 + level) / 2`` quantile of the resampled AUCs.
    n_resamples : int, default 1000
    seed : int, default 0
        Seed of the resampling (the same data and seed give the same interval).

    Returns
    -------
    (low, high) : tuple of float
        NaN when ``y`` does not hold both classes.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> low, high = auc_interval(y, y + rng.normal(0, 1, 400))
    >>> 0.5 < low < high < 1
    True
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"auc_interval: y {y.shape} and p {p.shape} must be 1-d of equal length")
    if not 0 < level < 1:
        raise ValueError(f"auc_interval: level must be in (0, 1), but got level={level}")
    if len(y) == 0 or y.min() == y.max():
        return float("nan"), float("nan")
    codes = (
        np.arange(len(y)) if clusters is None else pd.factorize(np.asarray(clusters))[0]
    )
    n_clusters = int(codes.max()) + 1
    order = np.argsort(p, kind="stable")
    p_sorted, y_sorted, codes_sorted = p[order], y[order], codes[order]
    starts = np.flatnonzero(np.r_[True, p_sorted[1:] != p_sorted[:-1]])
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(len(y), n_clusters))
    aucs = np.empty(n_resamples)
    for first in range(0, n_resamples, block):  # blocks of resamples, not rows
        size = min(block, n_resamples - first)
        draws = rng.integers(0, n_clusters, size=(size, n_clusters))
        draws += n_clusters * np.arange(size)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n_clusters).reshape(size, n_clusters)
        aucs[first : first + size] = _weighted_aucs(
            counts[:, codes_sorted].astype(np.float64), y_sorted, starts
        )
    low, high = np.nanquantile(aucs, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
