"""Run manifest: what a scoring run used and produced, as JSON written atomically next to the output.

Records the run id (also in the key-value metadata of each Parquet file of the run), the model
URI, name and version, ``as_of``, per-table data fingerprints (row count and a hash), the tier
thresholds applied, row counts by tier, warnings (data problems, drift from the training data —
``forced`` when a refusal was overridden —, no signal, an ``as_of`` outside the data), timings per
step, the files written and ``scored_at``.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.scoring.atomic import write_json

MANIFEST_SUFFIX = "_manifest.json"


def manifest_path(out) -> Path:
    """``scores.parquet`` -> ``scores_manifest.json`` in the same folder."""
    out = Path(out)
    return out.with_name(f"{out.stem}{MANIFEST_SUFFIX}")


def _digest(frame: pd.DataFrame) -> str:
    if frame.shape[1] == 0:
        return hashlib.sha256(str(len(frame)).encode()).hexdigest()[:16]
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


def data_fingerprints(tables: dict) -> list[dict]:
    """Per table: rows and a digest (``churnml.model.fingerprint`` when available)."""
    try:
        from churnml.model.fingerprint import fingerprint
    except ImportError:  # pragma: no cover - fallback before the model package had it
        fingerprint = None
    if fingerprint is not None:
        from churnml.sources.lazy import is_lazy

        frame = fingerprint({k: v for k, v in tables.items()
                             if isinstance(v, pd.DataFrame) or is_lazy(v)})
        return [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in frame.to_dict("records")
        ]
    return [
        {"table": name, "rows": len(frame), "digest": _digest(frame)}
        for name, frame in sorted(tables.items())
        if isinstance(frame, pd.DataFrame)
    ]


class Timer:
    """Seconds per named step: ``with timer("features"): ...``; ``timer.timings`` is a dict."""

    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(self.timings.get(step, 0.0) + time.perf_counter() - start, 3)


def build_manifest(
    *,
    model_uri,
    model,
    as_of,
    tables: dict,
    scores: pd.DataFrame,
    warnings: list | None = None,
    timings: dict | None = None,
    outputs: dict | None = None,
    crm: dict | None = None,
    dry_run: bool = False,
    run_id: str | None = None,
    tiering: dict | None = None,
    books: dict | None = None,
) -> dict:
    """The manifest dict of one scoring run (JSON-ready values).

    Parameters
    ----------
    model_uri : str
        The URI the model was loaded from.
    model : ChurnModel
        Gives ``model_name_``, ``model_version_`` and the feature count.
    as_of : date-like
        Scoring date.
    tables : dict of str to DataFrame
        The input tables (fingerprinted).
    scores : DataFrame
        The scores frame (tier counts, ARR at risk, scored_at).
    warnings : list of dict, optional
        Scoring-time data problems (see :func:`churnml.scoring.score.check_features`).
    timings : dict, optional
        Seconds per step.
    outputs : dict, optional
        Kind -> path of every file written.
    crm : dict, optional
        CRM write counts (inserted / updated / unchanged, target).
    dry_run : bool
        Whether the run wrote nothing.
    run_id : str, optional
        The run id shared by the run's files.
    tiering : dict, optional
        The tier thresholds applied (:func:`churnml.scoring.tiers.tier_scores`).
    books : dict, optional
        Each CSM's capacity and the saveability applied (:mod:`churnml.scoring.capacity`).

    Returns
    -------
    dict
    """
    tiers = scores["tier"].astype("string").value_counts()
    scored_at = scores["scored_at"].iloc[0] if len(scores) else pd.Timestamp.now(tz="UTC")
    version = getattr(model, "model_version_", None)
    warnings = list(warnings or [])
    return {
        "run_id": run_id,
        "model_uri": str(model_uri),
        "model_name": getattr(model, "model_name_", None),
        "model_version": None if version is None else str(version),
        "n_features": int(getattr(model, "n_features_in_", 0) or 0),
        "as_of": str(pd.Timestamp(as_of).date()),
        "scored_at": pd.Timestamp(scored_at).isoformat(),
        "dry_run": bool(dry_run),
        "rows": len(scores),
        "rows_by_tier": {t: int(tiers.get(t, 0)) for t in ("red", "amber", "green")},
        "tiers": _plain(tiering or {}),
        "books": dict(books or {}),
        "arr_at_risk": float(np.nansum(scores["arr_at_risk"].to_numpy(dtype=np.float64))),
        "data": data_fingerprints(tables),
        "warnings": warnings,
        "forced": any(bool(w.get("forced")) for w in warnings if isinstance(w, dict)),
        "timings_seconds": dict(timings or {}),
        "outputs": {k: str(v) for k, v in (outputs or {}).items()},
        "crm": dict(crm or {}),
    }


def _plain(values: dict) -> dict:
    """JSON-ready copy: numpy scalars as Python numbers."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()}


def write_manifest(manifest: dict, path) -> Path:
    """Write ``manifest`` as JSON atomically; returns the path."""
    return write_json(manifest, path)
