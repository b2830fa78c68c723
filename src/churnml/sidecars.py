"""Where a scoring run's companion files live: next to the scores file, one name rule for the
writer (:mod:`churnml.scoring.run`), the trend and change histories and the report."""

from __future__ import annotations

from pathlib import Path


def sidecar_path(scores_path: str | Path, kind: str) -> Path:
    """Path of a sidecar next to the scores file: ``scores.parquet`` -> ``scores_<kind>.parquet``.

    Examples
    --------
    >>> sidecar_path("out/scores.parquet", "history").as_posix()
    'out/scores_history.parquet'
    """
    path = Path(scores_path)
    return path.with_name(f"{path.stem}_{kind}.parquet")
