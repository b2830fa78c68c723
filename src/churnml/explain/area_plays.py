"""Plays chosen from an account's leading risk areas (:mod:`churnml.explain.areas`): the play of
the pair of its two leading areas when the plays file has one, then each leading area's play (of
the indicator carrying its first sentence, else the family's), repeats dropped; an account with
no leading area keeps its first indicator driver's play. Each play comes with its owner."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.explain.contributions import _keys
from churnml.explain.reasons import as_strings, join_per_row, row_positions


def area_plays(plays, names, plays_of, labels, leading, picked, reasons, features):
    """play, play_owner, plays, play_owners: the pair play, then each leading area's play.

    ``plays_of`` is (play per model column, play per family), each with None appended for
    "none"; ``leading`` is (lead mask, family order) of :func:`_leading`.
    """
    n = len(features)
    (column_play, family_play), (lead, order) = plays_of, leading
    first = picked[picked["within"] == 0]
    candidates = []
    if len(labels) > 1:
        pair = np.asarray(
            [[plays.pair_for(a, b) if a != b else None for b in labels] for a in labels],
            dtype=object,
        )
        candidates.append(np.where(lead[:, 1], pair[order[:, 0], order[:, 1]], None))
    for k in range(lead.shape[1]):
        col = np.full(n, len(names), dtype=np.int64)
        at = first[first["area_rank"] == k + 1]
        col[at["row"].to_numpy(dtype=np.int64)] = at["col"].to_numpy(dtype=np.int64)
        stated = (col >= 0) & (col < len(names))
        area_play = np.where(stated, column_play[np.where(stated, col, len(names))],
                             family_play[order[:, k]])  # fmt: skip
        candidates.append(np.where(lead[:, k], area_play, None))
    candidates.append(_fallback_play(reasons, features, column_play, names, lead))
    return _deduplicated_plays(n, candidates)


def _fallback_play(reasons, features, column_play, names, lead) -> np.ndarray:
    """The first indicator driver's play, for rows without a leading area."""
    account, as_of = _keys(features)
    drivers = reasons[(reasons["kind"] == "driver") & (reasons["rank"] == 1)]
    out = np.full(len(features), None, dtype=object)
    if drivers.empty:
        return out
    rows = row_positions(drivers, account, as_of).astype(np.int64)
    position = {str(name): j for j, name in enumerate(names)}
    cols = drivers["indicator"].astype(str).map(position).fillna(len(names)).to_numpy(np.int64)
    out[rows] = column_play[cols]
    out[lead[:, 0]] = None
    return out


_OWNER = np.frompyfunc(lambda play: getattr(play, "owner", None), 1, 1)


def _deduplicated_plays(n: int, candidates: list) -> pd.DataFrame:
    """The candidate plays per row (in candidate order, repeats dropped) as the four columns."""
    plays = np.concatenate(candidates) if candidates else np.empty(0, dtype=object)
    some = np.flatnonzero(~pd.isna(plays))  # the rows' candidates, without the empty ones
    plays = plays[some]
    long = pd.DataFrame(
        {
            "row": np.tile(np.arange(n), len(candidates))[some],
            "text": as_strings(plays),
            "owner": as_strings(_OWNER(plays) if len(plays) else plays),
        }
    )
    long = long[long["text"].notna()].drop_duplicates(["row", "text"])
    long = long.iloc[np.argsort(long["row"].to_numpy(), kind="stable")]
    rows = long["row"].to_numpy()
    first = long.drop_duplicates("row")
    play = np.full(n, None, dtype=object)
    play_owner = np.full(n, None, dtype=object)
    play[first["row"].to_numpy()] = first["text"].to_numpy(dtype=object)
    play_owner[first["row"].to_numpy()] = first["owner"].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "play": pd.array(play, dtype="string"),
            "play_owner": pd.array(play_owner, dtype="string"),
            "plays": join_per_row(n, rows, long["text"]),
            "play_owners": join_per_row(n, rows, long["owner"].fillna("")),
        }
    )
