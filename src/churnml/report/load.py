"""Read what ``churnml score`` wrote: the scores Parquet file, its sidecars and its manifest,
plus contacts and accounts (CSMs) through the same loader as every other command.

``scores.parquet`` is mandatory; the sidecars ``scores_explanations.parquet``,
``scores_history.parquet`` and ``scores_families.parquet`` are optional — a missing one is
returned as ``None`` and the report says "not available" for the sections that need it. The run
manifest ``scores_manifest.json`` is optional too; its warnings (no signal, an ``as_of`` outside
the data) are shown at the top of the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from churnml.scoring.manifest import manifest_path

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
        Keys ``scores``, ``explanations``, ``history``, ``families`` (a missing sidecar is
        ``None``) and ``manifest`` (the run manifest dict, ``None`` when absent).
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
    manifest = manifest_path(path)
    bundle["manifest"] = json.loads(manifest.read_text()) if manifest.exists() else None
    return bundle


def read_people(data=None, mapping=None) -> dict[str, pd.DataFrame | None]:
    """Contacts and accounts of the customer tables, read by :func:`churnml.load_tables` (so a
    mapping and email-domain matching apply; ``data`` may be None when the mapping names a
    ``source:``). A table the source lacks is ``None``.

    Returns
    -------
    dict
        Keys ``contacts`` and ``accounts``.
    """
    from churnml.data.load import load_tables

    tables = load_tables(data, mapping, tables=["accounts", "contacts"], validate=False)
    return {"contacts": tables.get("contacts"), "accounts": tables.get("accounts")}


def read_contacts(data=None, mapping=None) -> pd.DataFrame | None:
    """The contacts table of :func:`read_people` (``None`` when the source has none)."""
    return read_people(data, mapping)["contacts"]
