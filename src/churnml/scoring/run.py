"""``run_score``: the one call behind ``churnml score`` — load, score, write, record.

Steps: load the model and the tables, build the population and features at ``as_of``, score and
explain, compare with earlier runs (``scores_runs.parquet`` next to the output), build the
indicator history of red and amber accounts (which also gives a new red account its ``acute``
pattern when its usage just collapsed), write ``scores.parquet`` and its sidecars
(``scores_explanations``, ``scores_history``, ``scores_families``), the CRM file and / or database
rows, and the run manifest (``scores_manifest.json``). With ``dry_run`` nothing is written; what
would change in the CRM target is printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churnml.scoring.atomic import write_parquet
from churnml.scoring.manifest import Timer, build_manifest, manifest_path, write_manifest
from churnml.scoring.trend import history_pattern, read_runs, runs_path, update_runs
from churnml.snapshots import data_period

HISTORY_INDICATORS = ("active_users_30d", "events_30d", "tickets_30d", "nps_latest_score")
HISTORY_MONTHS = 12
HISTORY_TIERS = ("red", "amber")


def sidecar(out, kind: str) -> Path:
    """``scores.parquet`` -> ``scores_<kind>.parquet`` in the same folder."""
    out = Path(out)
    return out.with_name(f"{out.stem}_{kind}.parquet")


def _sub_catalog(catalog, ids):
    """The catalog entries ``ids`` plus the indicators they are derived from."""
    from churnml.features.catalog import Catalog

    wanted, todo = [], [i for i in ids if i in catalog]
    while todo:
        ind = catalog[todo.pop()]
        if ind.id in wanted:
            continue
        wanted.append(ind.id)
        of = (ind.params or {}).get("of") or []
        todo.extend(i for i in ([of] if isinstance(of, str) else of) if i in catalog)
    return Catalog([catalog[i] for i in catalog.ids if i in wanted])


def indicator_history(
    model,
    tables: dict,
    scores: pd.DataFrame,
    *,
    months: int = HISTORY_MONTHS,
    indicators=HISTORY_INDICATORS,
    tiers=HISTORY_TIERS,
) -> pd.DataFrame:
    """Monthly indicator values of the red / amber accounts over the last ``months`` months.

    The scored rows of those accounts are repeated at ``as_of`` minus 0..``months - 1`` months
    and the indicators are built point in time for each date (the population filter is not
    re-applied, so every month has a value).

    Returns
    -------
    DataFrame
        account_id, as_of, indicator, value (long form), sorted by account, indicator, as_of.
    """
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import build_features

    columns = {"account_id": "string", "as_of": "datetime64[ns]", "indicator": "string"}
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()}).assign(
        value=pd.Series(dtype="float64")
    )
    chosen = scores.loc[scores["tier"].astype("string").isin(list(tiers)).fillna(False)]
    if chosen.empty:
        return empty
    catalog = getattr(model, "catalog_", None)
    catalog = load_catalog() if catalog is None else catalog
    sub = _sub_catalog(catalog, indicators)
    if len(sub) == 0:
        return empty
    base = chosen[["account_id", "as_of"]].reset_index(drop=True)
    spine = base.loc[np.repeat(base.index.to_numpy(), months)].reset_index(drop=True)
    as_of = pd.to_datetime(spine["as_of"]).astype("datetime64[ns]").dt.normalize()
    step = np.tile(np.arange(months), len(base))
    shifted = as_of.copy()
    for k in range(1, months):  # one vectorised shift per month offset
        mask = step == k
        shifted[mask] = as_of[mask] - pd.DateOffset(months=k)
    spine["as_of"] = shifted
    features = build_features(tables, spine, sub)
    keep = [i for i in indicators if i in features.columns]
    long = features[["account_id", "as_of", *keep]].melt(
        id_vars=["account_id", "as_of"], var_name="indicator", value_name="value"
    )
    long = long.astype({"account_id": "string", "indicator": "string", "value": "float64"})
    long["as_of"] = pd.to_datetime(long["as_of"]).astype("datetime64[ns]")
    return long.sort_values(["account_id", "indicator", "as_of"], kind="stable").reset_index(
        drop=True
    )


def _load_model(model_uri):
    if isinstance(model_uri, (str, Path)):
        from churnml.model.registry import load_model

        return load_model(str(model_uri))
    return model_uri  # an already loaded model


def _scoring_overrides(config) -> dict:
    if config is None:
        return {}
    from churnml.model.config import scoring_overrides

    return scoring_overrides(config)


def _load_tables(data, mapping):
    from churnml.data.load import load_tables

    return load_tables(data, mapping)


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
    config=None,
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
        ``scores.parquet``; sidecars, the run history (``scores_runs.parquet``) and the manifest
        (``scores_manifest.json``) go next to it.
    mapping : str, Path or dict, optional
        Column mapping for ``load_tables``.
    crm_preset : str
        ``generic``, ``salesforce`` or ``hubspot``.
    crm_out : str or Path, optional
        CRM file (``.csv`` or ``.parquet``).
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
        Database table name.
    config : str or Path, optional
        A model config file whose scoring keys (``tiers``, ``explanation_backend``) override the
        model's (:func:`churnml.model.config.scoring_overrides`).

    Returns
    -------
    dict
        The run manifest (also written to ``scores_manifest.json`` unless ``dry_run``).
    """
    from tqdm.auto import tqdm

    from churnml.progress import bar as progress_bar
    from churnml.progress import enabled
    from churnml.scoring.crm import write_crm
    from churnml.scoring.score import score_result

    out = Path(out)
    timer = Timer()
    steps = ["model", "data", "score", "history", "write"]
    bar = progress_bar(total=len(steps), requested=progress, desc="churnml score", unit="step")

    def advance(step):
        bar.set_postfix_str(step)
        bar.update(1)

    with timer("load_model"):
        model = _load_model(model_uri)
    advance("model loaded")
    with timer("load_data"):
        tables = _load_tables(data, mapping)
    as_of = data_period(tables)[1] if as_of is None else pd.Timestamp(as_of)
    advance("data loaded")
    overrides = _scoring_overrides(config)
    config = getattr(model, "config_", None)
    backend = (
        explain_backend
        or overrides.get("explanation_backend")
        or getattr(config, "explanation_backend", None)
        or "auto"
    )
    history_file = runs_path(out)
    with timer("score"):
        runs = read_runs(history_file)
        result = score_result(
            model, tables, as_of, history=runs, capacity=capacity, explain_backend=backend,
            tiers=overrides.get("tiers"),
        )  # fmt: skip
    scores = result.scores
    advance("scored")
    with timer("indicator_history"):
        history = indicator_history(model, tables, scores)
        scores = history_pattern(scores, history)  # a new account's pattern from its history
    advance("history built")
    outputs, crm = {}, {}
    with timer("write"):
        if not dry_run:
            outputs["scores"] = write_parquet(scores, out)
            outputs["explanations"] = write_parquet(
                result.explanations, sidecar(out, "explanations")
            )
            outputs["history"] = write_parquet(history, sidecar(out, "history"))
            outputs["families"] = write_parquet(result.families, sidecar(out, "families"))
            outputs["runs"] = write_parquet(update_runs(runs, scores), history_file)
        if crm_out is not None or db is not None:
            written = write_crm(
                scores, crm_out, preset=crm_preset, db=db, table=table, dry_run=dry_run
            )
            for i, path in enumerate(written.paths):
                outputs[f"crm{i or ''}"] = path
            crm = {
                "preset": crm_preset,
                "target": written.target,
                "inserted": written.inserted,
                "updated": written.updated,
                "unchanged": written.unchanged,
            }
            if enabled(progress):
                tqdm.write(written.summary())
            elif progress:
                print(written.summary())
            elif dry_run:
                print(written.summary())
    advance("written" if not dry_run else "dry run: nothing written")
    bar.close()
    manifest = build_manifest(
        model_uri=model_uri if isinstance(model_uri, (str, Path)) else "<in-memory model>",
        model=model,
        as_of=as_of,
        tables=tables,
        scores=scores,
        warnings=result.warnings,
        timings=timer.timings,
        outputs=outputs,
        crm=crm,
        dry_run=dry_run,
        tiering=result.tiering,
    )
    if not dry_run:
        path = manifest_path(out)
        manifest["outputs"]["manifest"] = str(path)
        write_manifest(manifest, path)
    return manifest
