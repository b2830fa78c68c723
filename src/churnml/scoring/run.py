"""``run_score``: the one call behind ``churnml score`` — load, check, score, write, record.

Steps: check the arguments, load the model and the tables, build the population and features at
``as_of``, compare the data with what the model was trained on (:mod:`churnml.scoring.drift`;
refused unless ``force``), score and explain, build the indicator history of red and amber
accounts (which also gives a new red account its ``acute`` pattern when its usage just collapsed),
then — under the output lock (:mod:`churnml.scoring.lock`) — read the score history
(``scores_runs.parquet`` next to the output) for the trend, stage ``scores.parquet``, its sidecars
(``scores_explanations``, ``scores_history``, ``scores_families``), the updated history, the CRM
file and the manifest (``scores_manifest.json``) under temporary names, upsert the database rows
in one transaction, and commit the files together, the manifest last
(:mod:`churnml.scoring.commit`). With ``dry_run`` nothing is written; what would change in the
CRM target is printed.

Order of a run's effects, so that a failed or killed run leaves a consistent state: nothing is
written before the data checks pass; the database transaction commits before the files; the files
become visible together when the commit journal is written. A run that fails before its database
commit changes nothing; one that dies between the database commit and the file commit leaves the
database one run ahead of the files (the next run brings them level: the upsert is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from churnml.explain.changes import contributions_path, read_contributions, update_contributions
from churnml.scoring.atomic import check_frame_suffix, frame_to, json_to, parquet_to
from churnml.scoring.commit import RUN_ID_KEY, Staging, checkpoint, new_run_id, recover
from churnml.scoring.indicator_history import indicator_history
from churnml.scoring.lock import DEFAULT_TIMEOUT, output_lock
from churnml.scoring.manifest import Timer, build_manifest, manifest_path
from churnml.scoring.trend import (
    apply_trend,
    history_pattern,
    read_runs,
    runs_path,
    update_runs,
)
from churnml.sidecars import sidecar_path
from churnml.snapshots import data_period

SIDECARS = ("explanations", "history", "families", "personas", "changes")


@dataclass(frozen=True)
class Targets:
    """Where a run writes: the scores file (sidecars, history, manifest beside it), the CRM
    file and / or database table, and the CRM preset."""

    out: Path
    crm_out: Path | None
    db: object
    preset: object
    table: str

    def files(self) -> list[Path]:
        """Every file a committed run replaces."""
        return output_files(self.out, self.crm_out)


def output_files(out, crm_out=None) -> list[Path]:
    """Every file a run with these outputs replaces: scores, sidecars, history, manifest, CRM."""
    out = Path(out)
    names = [out, *(sidecar_path(out, k) for k in SIDECARS), runs_path(out), contributions_path(out),
             manifest_path(out)]  # fmt: skip
    return [*names, *([Path(crm_out)] if crm_out is not None else [])]


def _check_arguments(out, crm_out, crm_preset, db, table) -> Targets:
    """Cheap checks before anything slow: output suffixes and the CRM preset."""
    from churnml.errors import UsageError
    from churnml.scoring.crm import get_preset

    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise UsageError(f"--out must be a .parquet file, got {str(out)!r}")
    if crm_out is not None:
        try:
            check_frame_suffix(crm_out)
        except ValueError as error:
            raise UsageError(f"--crm-out: {error}") from None
        if Path(crm_out).resolve() in {p.resolve() for p in output_files(out)}:
            raise UsageError(f"--crm-out {str(crm_out)!r} is one of the files --out writes")
    get_preset(crm_preset)
    return Targets(out, None if crm_out is None else Path(crm_out), db, crm_preset, table)


def _check_plays(plays):
    """The plays to apply, read and checked before anything slow."""
    from churnml.errors import UsageError
    from churnml.explain.plays import as_plays

    try:
        return as_plays(plays)
    except (OSError, TypeError, ValueError) as error:
        raise UsageError(f"--plays: {error}") from None


def _open_model(model_uri):
    """The model being loaded (see :func:`churnml.model.registry.open_model`), or a loaded one."""
    from churnml.model.registry import OpenModel, open_model

    if isinstance(model_uri, (str, Path)):
        return open_model(str(model_uri))
    return OpenModel(getattr(model_uri, "catalog_", None), lambda: model_uri)


def _scoring_overrides(config) -> dict:
    if config is None:
        return {}
    from churnml.model.config import scoring_overrides

    return scoring_overrides(config)


def _load_tables(data, mapping, catalog=None, as_of=None):
    """The tables, usage kept in DuckDB and read only from the longest look-back before as_of
    (of the model's ``catalog``)."""
    from churnml.data.load import open_tables
    from churnml.scoring.indicator_history import usage_read_since

    since = None if as_of is None else usage_read_since(catalog, as_of)
    return open_tables(data, mapping, since=since)


class _Steps:
    """The progress bar over the run's steps (drawn only on a terminal)."""

    NAMES = ("model and data", "score", "history", "write")

    def __init__(self, progress: bool):
        from churnml.progress import bar

        self.bar = bar(total=len(self.NAMES), requested=progress, desc="churnml score", unit="step")

    def advance(self, label: str) -> None:
        self.bar.set_postfix_str(label)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _print_crm(written, progress: bool, dry_run: bool) -> None:
    from churnml.progress import enabled

    if enabled(progress):
        from tqdm.auto import tqdm

        tqdm.write(written.summary())
    elif progress or dry_run:
        print(written.summary())


def _crm(scores, targets: Targets, *, dry_run: bool, progress: bool, writer=None) -> tuple:
    """Write (or, in a dry run, compare) the CRM fields; returns (counts dict, files written)."""
    from churnml.scoring.crm import write_crm

    if targets.crm_out is None and targets.db is None:
        return {}, []
    written = write_crm(
        scores,
        targets.crm_out,
        preset=targets.preset,
        db=targets.db,
        table=targets.table,
        dry_run=dry_run,
        writer=writer,
    )
    if targets.db is not None and not dry_run:
        checkpoint("database")
    _print_crm(written, progress, dry_run)
    counts = {
        "preset": targets.preset if isinstance(targets.preset, str) else "<custom>",
        "target": written.target,
        "inserted": written.inserted,
        "updated": written.updated,
        "unchanged": written.unchanged,
    }
    return counts, written.paths


def _stage_frames(staging, out: Path, frames: dict) -> dict:
    """Stage the scores file, its sidecars and the history, each tagged with the run id."""
    metadata = {RUN_ID_KEY: staging.run_id}
    targets = {"scores": out, "runs": runs_path(out), "contributions": contributions_path(out),
               **{k: sidecar_path(out, k) for k in SIDECARS}}  # fmt: skip
    outputs = {}
    for kind in (*SIDECARS, "scores", "runs", "contributions"):
        frame = frames[kind]
        outputs[kind] = staging.stage(
            kind, targets[kind], lambda tmp, f=frame: parquet_to(f, tmp, metadata)
        )
    return outputs


def _manifest(context: dict, scores, outputs: dict, crm: dict, *, dry_run: bool, run_id=None):
    model_uri = context["model_uri"]
    return build_manifest(
        model_uri=model_uri if isinstance(model_uri, (str, Path)) else "<in-memory model>",
        model=context["model"],
        as_of=context["as_of"],
        tables=context["tables"],
        scores=scores,
        warnings=context["warnings"],
        timings=context["timer"].timings,
        outputs=outputs,
        crm=crm,
        dry_run=dry_run,
        run_id=run_id,
        tiering=context.get("tiering"),
        books=context.get("books"),
    )


def _with_history(result, history, out, model) -> tuple:
    """The scores with trend, pattern and what changed since the previous run (from the run
    history beside ``out``), and every frame a run writes."""
    from churnml.explain.changes import with_changes

    runs = read_runs(runs_path(out))
    contributions = read_contributions(contributions_path(out))
    scores = history_pattern(apply_trend(result.scores, runs), history)
    scores, changes = with_changes(
        scores, result.features, result.contributions, contributions, runs, model
    )
    frames = {
        "scores": scores,
        "explanations": result.explanations,
        "history": history,
        "families": result.families,
        "personas": result.personas,
        "changes": changes,
        "runs": update_runs(runs, scores),
        "contributions": update_contributions(contributions, result.contributions),
    }
    return scores, frames


def _write_run(result, history, targets: Targets, context: dict) -> dict:
    """Under the output lock: trend and changes from the history, stage every file, upsert,
    commit."""
    timer = context["timer"]
    recovered = recover(targets.out, targets.files())
    scores, frames = _with_history(result, history, targets.out, context["model"])
    with Staging(targets.out, new_run_id()) as staging:
        with timer("write"):
            outputs = _stage_frames(staging, targets.out, frames)

        def stage_crm(frame, path):
            return staging.stage("crm", path, lambda tmp: frame_to(frame, tmp, suffix_of=path))

        with timer("crm"):
            crm, paths = _crm(
                scores, targets, dry_run=False, progress=context["progress"], writer=stage_crm
            )
        outputs.update({f"crm{i or ''}": p for i, p in enumerate(paths)})
        path = manifest_path(targets.out)
        outputs["manifest"] = path
        manifest = _manifest(context, scores, outputs, crm, dry_run=False, run_id=staging.run_id)
        if recovered["completed"] or recovered["removed"]:
            manifest["recovered"] = recovered
        staging.stage("manifest", path, lambda tmp: json_to(manifest, tmp))
        staging.commit()
    return manifest


def _dry_run(result, history, targets: Targets, context: dict) -> dict:
    """Compare with the CRM target and print what would change; write nothing."""
    scores, _ = _with_history(result, history, targets.out, context["model"])
    crm, _ = _crm(scores, targets, dry_run=True, progress=context["progress"])
    return _manifest(context, scores, {}, crm, dry_run=True)


def run_score(
    model_uri,
    data,
    as_of,
    out,
    *,
    mapping=None,
    crm_preset: str = "generic",
    crm_out=None,
    db=None,
    dry_run: bool = False,
    progress: bool = True,
    capacity: int | None = None,
    explain_backend: str | None = None,
    table: str = "churn_risk",
    force: bool = False,
    lock_timeout: float = DEFAULT_TIMEOUT,
    config=None,
    plays=None,
    capacity_per_csm: int | None = None,
) -> dict:
    """Score the accounts at ``as_of`` and write scores, sidecars, CRM fields and the manifest.

    Parameters
    ----------
    model_uri : str or ChurnModel
        ``models:/churnml@champion``, a ``runs:/`` URI or a local path (or a loaded model).
    data : str, Path or dict
        Anything :func:`churnml.data.load.load_tables` accepts.
    as_of : date-like or None
        Scoring date; None = the day after the latest usage event.
    out : str or Path
        ``scores.parquet``; sidecars, the run history (``scores_runs.parquet``), the manifest
        (``scores_manifest.json``) and the lock (``scores.parquet.lock``) go next to it.
    mapping : str, Path or dict, optional
        Column mapping for ``load_tables``.
    crm_preset : str
        ``generic``, ``salesforce`` or ``hubspot``.
    crm_out : str or Path, optional
        CRM file (``.csv`` or ``.parquet``); formula cells are neutralised in CSV.
    db : str, optional
        Database URL to upsert CRM rows into (table ``table``).
    dry_run : bool
        Write nothing; print what would change in the CRM target (database, else CRM file).
    progress : bool
        Show a progress bar over the steps and print the CRM summary.
    capacity : int, optional
        Tier by capacity (top k red) instead of the config's thresholds.
    explain_backend : str, optional
        Contribution backend; default the model config's ``explanation_backend`` or "auto".
    table : str
        Database table name (one table per CRM preset).
    force : bool
        Score even when the data differ from the training data in a way that is refused
        (an empty family the model relies on, data ending long before ``as_of``).
    lock_timeout : float
        Seconds to wait for another run writing the same output.
    config : str or Path, optional
        A model config file whose scoring keys (``tiers``, ``explanation_backend``,
        ``capacity_per_csm``, ``saveability``) override the model's
        (:func:`churnml.model.config.scoring_overrides`).
    plays : str, Path or Plays, optional
        The plays file (default the packaged ``plays.yaml``, :mod:`churnml.explain.plays`).
    capacity_per_csm : int, optional
        Accounts each CSM discusses first (default the config's ``capacity_per_csm``, 5).

    Returns
    -------
    dict
        The run manifest (also written to ``scores_manifest.json`` unless ``dry_run``).

    Raises
    ------
    ChurnmlError
        Refused data, a locked output after ``lock_timeout``, a table of another preset;
        nothing is written then.
    """
    from churnml.scoring.drift import check_scoring_data
    from churnml.scoring.score import build_population, score_result

    targets = _check_arguments(out, crm_out, crm_preset, db, table)
    plays = _check_plays(plays)
    overrides = _scoring_overrides(config)
    timer, steps = Timer(), _Steps(progress)
    with timer("load_model"):  # a cached model is unpickled while the data are read
        loading = _open_model(model_uri)
    with timer("load_data"):
        tables = _load_tables(data, mapping, loading.catalog, as_of)
    with timer("load_model"):
        model = loading.model()
    steps.advance("model and data loaded")
    as_of = data_period(tables)[1] if as_of is None else pd.Timestamp(as_of)
    with timer("score"):
        features = build_population(model, tables, as_of)
        checks = check_scoring_data(model, tables, features, as_of, force=force)
        result = score_result(
            model,
            tables,
            as_of,
            features=features,
            capacity=capacity,
            explain_backend=_backend(model, explain_backend or overrides.get("explanation_backend")),
            tiers=overrides.get("tiers"),
            plays=plays,
            capacity_per_csm=capacity_per_csm or overrides.get("capacity_per_csm"),
            saveability=overrides.get("saveability"),
        )
    steps.advance("scored")
    with timer("indicator_history"):
        history = indicator_history(model, tables, result.scores)
    steps.advance("history built")
    context = {
        "model_uri": model_uri,
        "model": model,
        "as_of": as_of,
        "tables": tables,
        "warnings": [*result.warnings, *checks],
        "timer": timer,
        "progress": progress,
        "tiering": result.tiering,
        "books": result.books,
    }
    if dry_run:
        manifest = _dry_run(result, history, targets, context)
    else:
        with output_lock([targets.out, targets.crm_out], timeout=lock_timeout):
            manifest = _write_run(result, history, targets, context)
    steps.advance("written" if not dry_run else "dry run: nothing written")
    steps.close()
    return manifest


def _backend(model, requested):
    config = getattr(model, "config_", None)
    return requested or getattr(config, "explanation_backend", None) or "auto"
