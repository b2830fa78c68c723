"""Out-of-time folds for snapshot data: expanding windows by ``as_of`` with a renewal guard.

A snapshot row (account, ``as_of``) is labelled by the outcome of a renewal that happens later, at
``renewal_date``. At a cut-off date the outcome of a row is known only if its renewal happened
before the cut-off, so a row may train a model validated from that cut-off on only when
``renewal_date < cut-off`` (and ``as_of < cut-off - gap_days``); with a ``label_date`` column
(the spine's date the label is known, the end of the window for rolling-window labels), that date
is used instead. Rows without a label never enter any fold. The final test is the latest ``test_snapshots`` resolved ``as_of`` dates and is in no fold.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def known_column(frame: pd.DataFrame, renewal_column: str | None) -> str | None:
    """The column dating when a row's label became known: ``label_date`` when the frame has it
    (a rolling-window label is known at the end of its window, not at the term's renewal),
    else ``renewal_column``."""
    if renewal_column == "renewal_date" and "label_date" in frame.columns:
        return "label_date"
    return renewal_column


def trainable_before(
    frame: pd.DataFrame,
    cutoff,
    *,
    time_column: str = "as_of",
    renewal_column: str | None = "renewal_date",
    label_column: str = "label",
    gap_days: int | None = None,
) -> np.ndarray:
    """Boolean mask of the rows whose outcome was known before ``cutoff`` (usable for training).

    Parameters
    ----------
    frame : DataFrame
        Snapshot rows with ``time_column``, ``label_column`` and (optionally) ``renewal_column``.
    cutoff : Timestamp-like
        The first date of the period being predicted.
    gap_days : int, optional
        Extra gap: rows must also have ``as_of < cutoff - gap_days``.

    Examples
    --------
    >>> f = pd.DataFrame({"as_of": pd.to_datetime(["2025-01-01", "2025-01-01"]),
    ...                   "renewal_date": pd.to_datetime(["2025-02-01", "2025-06-01"]),
    ...                   "label": [0, 1]})
    >>> trainable_before(f, "2025-03-01").tolist()
    [True, False]
    """
    cutoff = pd.Timestamp(cutoff)
    times = pd.to_datetime(frame[time_column])
    limit = cutoff - pd.Timedelta(days=gap_days) if gap_days else cutoff
    mask = (times < limit) & frame[label_column].notna()
    renewal_column = known_column(frame, renewal_column)
    if renewal_column is not None and renewal_column in frame.columns:
        mask &= pd.to_datetime(frame[renewal_column]) < cutoff
    return mask.to_numpy(dtype=bool)


def out_of_time_folds(
    frame: pd.DataFrame,
    *,
    n_folds: int = 4,
    time_column: str = "as_of",
    renewal_column: str | None = "renewal_date",
    test_snapshots: int = 2,
    gap_days: int | None = None,
    label_column: str = "label",
    min_resolved_share: float = 0.9,
):
    """Expanding-window folds ordered by ``as_of`` and the final out-of-time test rows.

    Parameters
    ----------
    frame : DataFrame
        Snapshot rows (one per account × ``as_of``) with a label column (missing = unresolved).
    n_folds : int, default 4
        Number of (train, validation) pairs. The resolved dates before the test are cut into
        ``n_folds + 1`` consecutive blocks; fold ``i`` validates on block ``i + 1`` and trains on
        every earlier row whose renewal happened before that block starts.
    test_snapshots : int, default 2
        The latest resolved ``as_of`` dates held out as the final test (0 for none).
    gap_days : int, optional
        Extra gap between a training row's ``as_of`` and the validation cut-off.
    min_resolved_share : float, default 0.9
        An ``as_of`` date counts as resolved when at least this share of its rows has a label.

    Returns
    -------
    (folds, test_idx)
        ``folds`` is a list of ``(train_idx, valid_idx)`` positional index arrays and ``test_idx``
        the positions of the test rows. Folds with no training row or a single class in either part
        are dropped with a warning.

    Examples
    --------
    >>> folds, test = out_of_time_folds(frame, n_folds=3)  # doctest: +SKIP
    >>> frame.iloc[folds[0][0]]["renewal_date"].max() < frame.iloc[folds[0][1]]["as_of"].min()
    True
    """
    if n_folds < 1:
        raise ValueError(
            f"out_of_time_folds: n_folds must be at least 1, but got n_folds={n_folds}"
        )
    if test_snapshots < 0:
        raise ValueError(
            f"out_of_time_folds: test_snapshots must be at least 0, but got {test_snapshots}"
        )
    for column in (time_column, label_column):
        if column not in frame.columns:
            raise ValueError(
                f"out_of_time_folds: the frame has no column {column!r}; "
                f"columns are {list(frame.columns)[:12]}"
            )
    times = pd.to_datetime(frame[time_column]).to_numpy()
    labelled = frame[label_column].notna().to_numpy()
    share = pd.Series(labelled).groupby(times).mean()
    resolved = share.index[share.to_numpy() >= min_resolved_share].sort_values()
    if len(resolved) < test_snapshots + 2:
        raise ValueError(
            f"out_of_time_folds: {len(resolved)} resolved as_of date(s) (of {len(share)}); need at "
            f"least {test_snapshots + 2} for {test_snapshots} test snapshot(s) and one fold"
        )
    test_dates = resolved[len(resolved) - test_snapshots :] if test_snapshots else resolved[:0]
    positions = np.arange(len(frame))
    test_idx = positions[np.isin(times, test_dates.to_numpy()) & labelled]
    test_start = test_dates.min() if test_snapshots else None

    before = resolved if test_start is None else resolved[resolved < test_start]
    blocks = np.array_split(before.to_numpy(), min(n_folds + 1, len(before)))
    target = frame[label_column]
    folds = []
    for i, block in enumerate(blocks[1:], start=1):
        cutoff = pd.Timestamp(block.min())
        train = positions[
            trainable_before(
                frame,
                cutoff,
                time_column=time_column,
                renewal_column=renewal_column,
                label_column=label_column,
                gap_days=gap_days,
            )
        ]
        valid = positions[np.isin(times, block) & labelled]
        y_train, y_valid = target.iloc[train], target.iloc[valid]
        if len(train) == 0 or y_train.nunique() < 2 or y_valid.nunique() < 2:
            warnings.warn(
                f"out_of_time_folds: fold {i} (cut-off {cutoff.date()}) dropped: {len(train)} "
                f"training rows with {y_train.nunique()} class(es), {len(valid)} validation rows "
                f"with {y_valid.nunique()} class(es)",
                stacklevel=2,
            )
            continue
        folds.append((train, valid))
    if not folds:
        raise ValueError(
            f"out_of_time_folds: no usable fold among {len(blocks) - 1} from {len(before)} resolved "
            f"as_of dates before the test; each needs earlier renewals of both classes"
        )
    return folds, test_idx
