"""The validation slice a :class:`~churnml.model.estimator.ChurnModel` fit holds out.

It serves early stopping, the calibrator and the blend's weights: the latest snapshots when the rows
have a time column (training rows whose renewal — or, for rolling-window labels, whose
``label_date`` — falls in the slice are dropped, their outcome was not yet known at its start), otherwise a stratified random share.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from churnml.model.folds import known_column

#: below this many labelled rows there is no validation slice: no early stopping, no calibration
MIN_ROWS_FOR_VALIDATION = 40


def split_validation(frame, target, time_column, fraction, seed):
    """Positions of the training rows and the validation slice, plus a summary."""
    n = len(target)
    everything = np.arange(n)
    if fraction == 0 or n < MIN_ROWS_FOR_VALIDATION or min(target.sum(), n - target.sum()) < 4:
        return everything, everything[:0], {"method": "none", "n_train": n, "n_valid": 0}
    if time_column is not None and time_column in frame.columns:
        times = pd.to_datetime(frame[time_column]).to_numpy()
        order = np.sort(times)
        cutoff = order[min(int(np.floor(n * (1 - fraction))), n - 1)]
        valid = everything[times >= cutoff]
        train_mask = times < cutoff
        known = known_column(frame, "renewal_date")  # label_date for rolling-window labels
        if known in frame.columns:
            renewal = pd.to_datetime(frame[known]).to_numpy()
            train_mask &= ~(renewal >= cutoff)  # outcome must be known at the cut-off
        train = everything[train_mask]
        if (
            len(train) >= MIN_ROWS_FOR_VALIDATION // 2
            and 0 < target[valid].sum() < len(valid)
            and 0 < target[train].sum() < len(train)
        ):
            return (
                train,
                valid,
                {
                    "method": "time",
                    "cutoff": pd.Timestamp(cutoff),
                    "n_train": len(train),
                    "n_valid": len(valid),
                },
            )
        # one text for every fit, so a tuning run shows it once, not once per trial and fold
        warnings.warn(
            "ChurnModel: the time-ordered validation slice leaves too few training rows whose "
            "outcome was known before it, or a single class (long label horizon, short history); "
            "using a stratified random slice",
            stacklevel=3,
        )
    rng = np.random.default_rng(seed)
    valid_parts = []
    for cls in (0, 1):
        idx = everything[target == cls]
        k = max(1, round(len(idx) * fraction))
        valid_parts.append(rng.choice(idx, size=k, replace=False))
    valid = np.sort(np.concatenate(valid_parts))
    train = np.setdiff1d(everything, valid)
    return train, valid, {"method": "stratified", "n_train": len(train), "n_valid": len(valid)}
