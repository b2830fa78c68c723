"""Read what ``churnml score`` wrote: the scores Parquet file, its sidecars and its manifest,
plus contacts and accounts (CSMs) through the same loader as every other command.

``scores.parquet`` is mandatory; the sidecars ``scores_explanations.parquet``,
``scores_history.parquet``, ``scores_families.parquet``, ``scores_personas.parquet`` and
``scores_changes.parquet`` are optional — a missing one is
returned as ``None`` and the report says "not available" for the sections that need it. The run
manifest ``scores_manifest.json`` is optional too; its warnings (no signal, an ``as_of`` outside
the data) are shown at the top of the report.

The files of one scoring run carry its run id (Parquet key-value metadata; ``run_id`` in the
manifest). A folder whose scores and sidecars come from different runs — a run interrupted while
committing, or files copied together by hand — is refused with a
:class:`~churnml.errors.ChurnmlError` instead of a report that mixes two runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from churnml.errors import ChurnmlError
from churnml.scoring.manifest import manifest_path
from churnml.sidecars import sidecar_path

#: sidecar kind -> required columns (the shared interface written by churnml.scoring)
SIDECARS: dict[str, tuple[str, ...]] = {
    "explanations": ("account_id", "indicator", "contribution", "kind", "rank", "sentence"),
    "history": ("account_id", "as_of", "indicator", "value"),
    "families": ("account_id", "family", "contribution"),
    "personas": ("account_id", "persona", "health"),
    "changes": ("account_id", "indicator", "points", "sentence"),
}
SCORES_REQUIRED = ("account_id", "score", "tier")


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    """Raise a ValueError naming the frame and the missing columns."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; it has {list(frame.columns)} "
            f"({len(frame)} rows)"
        )


def _manifest_run_id(scores_path: Path) -> tuple[Path, str | None] | None:
    import json

    path = scores_path.with_name(f"{scores_path.stem}_manifest.json")
    if not path.exists():
        return None
    try:
        return path, json.loads(path.read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return path, None


def _read_parquet(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The frame and the run id of one Parquet file, from one read of its bytes (a run that
    replaces the file meanwhile cannot pair one version's rows with another's id)."""
    import io

    import pyarrow as pa

    from churnml.scoring.commit import run_id_of

    data = path.read_bytes()
    return pd.read_parquet(io.BytesIO(data)), run_id_of(pa.BufferReader(data))


def check_same_run(scores_path: str | Path, run_ids: dict | None = None) -> str | None:
    """Refuse a folder whose scores, sidecars and manifest come from different scoring runs.

    Files without a run id (written by hand or by an older churnml) pass when none of them has
    one.

    Parameters
    ----------
    scores_path : str or Path
        The scores file.
    run_ids : dict, optional
        File name -> run id of the Parquet files already read; default read from the files.

    Returns
    -------
    str or None
        The run id shared by the files.

    Raises
    ------
    ChurnmlError
        When a commit was interrupted (its journal is still there) or the run ids differ.
    """
    from churnml.scoring.commit import pending_journal, run_id_of

    path = Path(scores_path)
    journal = pending_journal(path)
    if journal is not None:
        raise ChurnmlError(
            f"{path}: a churnml score run was interrupted while committing its files "
            f"(journal {journal.name} is still there), so they may come from two runs",
            hint="unless a churnml score is running right now, run it again with the same --out: "
            "it completes the interrupted commit first",
        )
    if run_ids is None:
        files = [path, *(sidecar_path(path, kind) for kind in SIDECARS)]
        run_ids = {f.name: run_id_of(f) for f in files if f.exists()}
    ids = dict(run_ids)
    manifest = _manifest_run_id(path)
    if manifest is not None and (manifest[1] is not None or any(ids.values())):
        ids[manifest[0].name] = manifest[1]
    odd = {name: run for name, run in ids.items() if run != ids[path.name]}
    if odd:

        def which(run):
            return f"run {run}" if run else "a file without run id"

        others = ", ".join(f"{name} from {which(run)}" for name, run in odd.items())
        raise ChurnmlError(
            f"{path} and the files beside it come from different scoring runs: the scores from "
            f"{which(ids[path.name])}, {others}",
            hint="score again with the same --out to write a complete set",
        )
    return next(iter(ids.values()), None)


def read_scores_bundle(scores_path: str | Path) -> dict[str, pd.DataFrame | None]:
    """Read the scores file and whichever sidecars exist next to it.

    Parameters
    ----------
    scores_path : str or Path
        The Parquet file written by ``churnml score --out``.

    Returns
    -------
    dict
        Keys ``scores``, ``explanations``, ``history``, ``families``, ``personas``, ``changes``
        (a missing sidecar is ``None``) and ``manifest`` (the run manifest dict, ``None`` when absent).

    Raises
    ------
    ChurnmlError
        When the files come from different scoring runs (:func:`check_same_run`).
    """
    path = Path(scores_path)
    if not path.exists():
        raise FileNotFoundError(f"scores file not found: {path} (write it with `churnml score`)")
    scores, run_id = _read_parquet(path)
    check_columns(scores, SCORES_REQUIRED, f"scores file {path}")
    bundle: dict[str, pd.DataFrame | None] = {"scores": scores}
    run_ids = {path.name: run_id}
    for kind, required in SIDECARS.items():
        side = sidecar_path(path, kind)
        if side.exists():
            frame, run_ids[side.name] = _read_parquet(side)
            check_columns(frame, required, f"{kind} sidecar {side}")
            bundle[kind] = frame
        else:
            bundle[kind] = None
    check_same_run(path, run_ids)
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
