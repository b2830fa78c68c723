"""An existing health score (the team's CS-platform score) read and checked for the audit.

The file holds one row per account and date: ``account_id``, a date and a 0-100 score (higher =
healthier) and / or a red / yellow / green band. :func:`read_health_scores` names the problems
of a file the way every churnml reader does: the file, the column, how many rows and examples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churnml.errors import ChurnmlError

DATE_COLUMNS = ("date", "as_of", "scored_at", "snapshot_date")
SCORE_COLUMNS = ("health_score", "score")
BAND_COLUMNS = ("health", "band", "color", "colour")
BANDS = {"red": 2, "yellow": 1, "amber": 1, "green": 0}


def read_health_scores(source, *, green_from: float = 70, red_below: float = 40) -> pd.DataFrame:
    """An existing health score as account_id, date, health_score, health and risk.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV or Parquet file, or a frame, with ``account_id``, a date (``date``, ``as_of``,
        ``scored_at`` or ``snapshot_date``) and a 0-100 score (``health_score`` or ``score``,
        higher = healthier) and / or a band (``health``, ``band``, ``color``: red / yellow
        (or amber) / green).
    green_from, red_below : float
        Bands of a numeric score without its own band column.

    Returns
    -------
    DataFrame
        ``risk`` orders accounts for the metrics: 100 - score, or 0 / 1 / 2 for green / yellow
        / red when there is only a band.

    Raises
    ------
    ChurnmlError
        Naming the file, the column, the count and example rows of a problem.
    """
    frame, where = _read(source)
    date = next((c for c in DATE_COLUMNS if c in frame), None)
    number = next((c for c in SCORE_COLUMNS if c in frame), None)
    colour = next((c for c in BAND_COLUMNS if c in frame), None)
    missing = [n for n, c in (("account_id", "account_id" in frame), ("a date", date),
                              ("a score or band", number or colour)) if not c]  # fmt: skip
    if missing:
        raise ChurnmlError(
            f"health scores {where}: no {' and no '.join(missing)} column; it has "
            f"{list(frame.columns)[:10]}",
            hint=f"name the columns account_id, one of {DATE_COLUMNS}, and "
            f"{SCORE_COLUMNS[0]} (0-100) or {BAND_COLUMNS[0]} (red / yellow / green)",
        )
    out = pd.DataFrame({"account_id": frame["account_id"].astype("string")})
    out["date"] = _dates(frame[date], where, date)
    if number is not None:
        out["health_score"] = _scores(frame[number], where, number)
    if colour is not None:
        out["health"] = _bands(frame[colour], where, colour)
    else:
        out["health"] = pd.array(_band_of(out["health_score"], green_from, red_below), "string")
    out["risk"] = (
        100.0 - out["health_score"]
        if number is not None
        else out["health"].map(BANDS).astype(float)
    )
    return out.dropna(subset=["account_id", "date", "risk"]).reset_index(drop=True)


def _read(source) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source, "(frame)"
    path = Path(source)
    if not path.is_file():
        raise ChurnmlError(f"health scores: no file {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path), str(path)
    if path.suffix.lower() in (".csv", ".tsv"):
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ","), str(path)
    raise ChurnmlError(f"health scores {path}: not a .csv, .tsv or .parquet file")


def _problem(where, column, bad: pd.Series, frame_values, what, hint):
    examples = frame_values[bad].head(3).tolist()
    raise ChurnmlError(
        f"health scores {where}, column {column!r}: {int(bad.sum())} of {len(bad)} rows {what}, "
        f"e.g. {examples}",
        hint=hint,
    )


def _dates(values: pd.Series, where, column) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", utc=True).dt.tz_localize(None)
    bad = parsed.isna() & values.notna()
    if bad.any():
        _problem(where, column, bad, values, "are not dates", "write dates as YYYY-MM-DD")
    return parsed.astype("datetime64[ns]")


def _scores(values: pd.Series, where, column) -> pd.Series:
    number = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = (number.isna() & values.notna()) | (number < 0) | (number > 100)
    if bad.any():
        _problem(where, column, bad, values, "are not numbers from 0 to 100",
                 "give the health score on its 0-100 scale (higher = healthier)")  # fmt: skip
    return number


def _bands(values: pd.Series, where, column) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    bad = text.notna() & ~text.isin(list(BANDS))
    if bad.any():
        _problem(where, column, bad, values, "are not red, yellow (amber) or green",
                 "recode the bands to red / yellow / green")  # fmt: skip
    return text.replace("amber", "yellow")


def _band_of(score: pd.Series, green_from, red_below) -> np.ndarray:
    s = score.to_numpy(dtype=np.float64)
    band = np.where(s >= green_from, "green", np.where(s < red_below, "red", "yellow"))
    return np.where(np.isnan(s), None, band)
