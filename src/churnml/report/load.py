"""Read what ``churnml score`` wrote: the scores Parquet file and its sidecars, plus contacts.

``scores.parquet`` is mandatory; the sidecars ``scores_explanations.parquet``,
``scores_history.parquet`` and ``scores_families.parquet`` are optional — a missing one is
returned as ``None`` and the report says "not available" for the sections that need it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: sidecar kind -> required columns (the shared interface written by churnml.scoring)
SIDECARS: dict[str, tuple[str, ...]] = {
    "explanations": ("account_id", "indicator", "contribution", "kind", "rank", "sentence"),
    "history": ("account_id", "as_of", "indicator", "value"),
    "families": ("account_id", "family", "contribution"),
}
SCORES_REQUIRED = ("account_id", "score", "tier")


def sidecar_path(scores_path: str | Path, kind: str) -> Path:
    """Path of a sidecar next to the scores file: ``scores.parquet`` -> ``scores_<kind>.parquet``.

    Examples
    --------
    >>> sidecar_path("out/scores.parquet", "history").as_posix()
    'out/scores_history.parquet'
    """
    path = Path(scores_path)
    return path.with_name(f"{path.stem}_{kind}{path.suffix}")


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    """Raise a ValueError naming the frame and the missing columns."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; it has {list(frame.columns)} "
            f"({len(frame)} rows)"
        )


def read_scores_bundle(scores_path: str | Path) -> dict[str, pd.DataFrame | None]:
    """Read the scores file and whichever sidecars exist next to it.

    Parameters
    ----------
    scores_path : str or Path
        The Parquet file written by ``churnml score --out``.

    Returns
    -------
    dict
        Keys ``scores``, ``explanations``, ``history``, ``families``; a missing sidecar is ``None``.
    """
    path = Path(scores_path)
    if not path.exists():
        raise FileNotFoundError(f"scores file not found: {path} (write it with `churnml score`)")
    scores = pd.read_parquet(path)
    check_columns(scores, SCORES_REQUIRED, f"scores file {path}")
    bundle: dict[str, pd.DataFrame | None] = {"scores": scores}
    for kind, required in SIDECARS.items():
        side = sidecar_path(path, kind)
        if side.exists():
            frame = pd.read_parquet(side)
            check_columns(frame, required, f"{kind} sidecar {side}")
            bundle[kind] = frame
        else:
            bundle[kind] = None
    return bundle


def read_contacts(data: str | Path, mapping: str | Path | None = None) -> pd.DataFrame | None:
    """Contacts of the customer tables at ``data`` (``None`` when there is no contacts table).

    Uses :func:`churnml.load_tables` when the package provides it (so mappings and email-domain
    matching apply); otherwise reads ``contacts.parquet`` or ``contacts.csv`` from the folder.
    """
    try:
        from churnml.data.load import load_tables
    except ImportError:
        load_tables = None
    if load_tables is not None:
        kwargs = {"mapping": mapping} if mapping else {}
        tables = load_tables(data, validate=False, **kwargs)
        return tables.get("contacts")
    folder = Path(data)
    for name, reader in (("contacts.parquet", pd.read_parquet), ("contacts.csv", pd.read_csv)):
        if (folder / name).exists():
            frame = reader(folder / name)
            for col in ("started_at", "ended_at"):
                if col in frame.columns:
                    frame[col] = pd.to_datetime(frame[col])
            return frame
    return None
