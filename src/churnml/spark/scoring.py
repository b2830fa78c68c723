"""``churnml score --engine spark``: features, scores, reasons and CRM fields per account bucket.

Steps: the spine at ``as_of`` on the driver (accounts and contracts only), the indicators per
bucket (:func:`churnml.spark.features.build_features`), then per bucket again
:func:`churnml.scoring.score.score_frame` (probability, tier, trend against the earlier runs in
``out/scores``, exact TreeSHAP reasons, sentences, plays) and ``add_account_details``. What needs
the whole book runs in Spark afterwards: the rank by ARR at risk per ``as_of`` (a window), then
the CRM fields (``to_crm``, row by row). Scores, explanations, families and CRM fields are written
as Parquet datasets under ``out`` partitioned by ``as_of`` (a re-run replaces its own date only).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from churnml.spark.buckets import BUCKET, packed
from churnml.spark.features import ROW, build_features, local_features

__all__ = ["OUTPUTS", "score"]

#: datasets written under ``out``
OUTPUTS = ("scores", "explanations", "families", "crm")
RESULT_SCHEMA = "_kind string, _payload binary"
SAMPLE_ROWS = 16


def _struct(frame: pd.DataFrame):
    """The Spark schema of a pandas frame (categories and text as strings, times in UTC)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    fields = []
    for field in pa.Schema.from_pandas(frame, preserve_index=False):
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_large_string(kind) or pa.types.is_null(kind):
            kind = pa.string()
        if pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz="UTC")
        fields.append(pa.field(field.name, kind))
    return from_arrow_schema(pa.schema(fields), prefer_timestamp_ntz=False)


def _arrow(struct):
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(struct, timezone="UTC")


def _with_rows(scores: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with the spine row of each (account, as_of): the rank's tie-breaker."""
    keys = pd.DataFrame({"account_id": features["account_id"].astype("string"),
                         "as_of": pd.to_datetime(features["as_of"]).astype("datetime64[ns]"),
                         ROW: features[ROW].to_numpy()})
    return scores.merge(keys, on=["account_id", "as_of"], how="left")


def _score_bucket(model, features, accounts, runs, backend, scored_at):
    from churnml.scoring.score import add_account_details, score_frame

    result = score_frame(model, features.drop(columns=[ROW]), previous=runs,
                         explain_backend=backend, scored_at=scored_at)
    scores = _with_rows(add_account_details(result.scores, accounts), features)
    return {"scores": scores, "explanations": result.explanations, "families": result.families}


def _bucket_job(shared, schemas, kinds, backend, scored_at):
    """Each bucket: unpack features, accounts and earlier runs; score; one payload per output."""

    def run(table):
        import pyarrow as pa

        from churnml.spark.arrow import from_ipc, naive, to_ipc, to_schema

        names = table.column("_table").to_pylist()
        payloads = table.column("_payload")
        arrow = {name: from_ipc([payloads[i].as_buffer() for i, n in enumerate(names) if n == name],
                                schema) for name, schema in schemas.items()}
        features = local_features(arrow["features"], drop_row=False)
        if features.empty:
            return pa.table({"_kind": pa.array([], pa.string()), "_payload": pa.array([], pa.binary())})
        accounts = naive(arrow["accounts"].to_pandas())
        runs = naive(arrow["runs"].to_pandas()) if "runs" in arrow else None
        outputs = _score_bucket(shared.value, features, accounts, runs, backend, scored_at)
        blobs = [to_ipc(to_schema(outputs[kind], kinds[kind])) for kind in kinds]
        return pa.table({"_kind": pa.array(list(kinds), pa.string()),
                         "_payload": pa.array(blobs, pa.binary())})

    return run


def _unpacker(kind: str, schema):
    def unpack(batches):
        import pyarrow as pa

        for batch in batches:
            kinds, payloads = batch.column(0).to_pylist(), batch.column(1)
            for i, name in enumerate(kinds):
                if name == kind:
                    yield from pa.ipc.open_stream(payloads[i].as_buffer()).read_all().to_batches()

    return unpack


def _earlier_runs(spark, out: str, as_of):
    """Earlier scores under ``out/scores`` (before ``as_of``) for the trend, or None."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    from churnml.spark.tables import is_url

    if not is_url(out) and not (Path(out) / "scores").exists():
        return None  # a first run (Spark would log a stack trace for the missing folder)
    try:
        earlier = spark.read.parquet(f"{out}/scores")
    except AnalysisException:
        return None
    earlier = earlier.where(F.col("as_of") < F.lit(pd.Timestamp(as_of).date()))
    return earlier.select("account_id", F.col("as_of").cast("timestamp").alias("as_of"),
                          "score", "tier", "scored_at")


def _ranked(scores):
    """Rank by ARR at risk per as_of, ties in spine order (as ``score_frame`` ranks locally)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("as_of").orderBy(F.col("arr_at_risk").desc_nulls_last(),
                                                F.col(ROW).asc())
    return scores.withColumn("rank", F.row_number().over(order).cast("int"))


def _ranked_books(scores, capacity_per_csm: int):
    """Each CSM's book ranked over all buckets, as :func:`churnml.scoring.capacity.rank_books`
    ranks it locally (a bucket holds only part of a CSM's accounts)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from churnml.scoring.capacity import NO_CSM

    def known(name):  # NaN and null both rank last, as -inf does locally
        column = F.col(name)
        return F.when(F.isnan(column), F.lit(None)).otherwise(column).desc_nulls_last()

    book = Window.partitionBy("as_of", F.coalesce(F.col("csm"), F.lit(NO_CSM))).orderBy(
        known("expected_arr_at_risk"), known("probability"), F.col("account_id").asc())
    rank = F.row_number().over(book)
    return (scores.withColumn("csm_rank", rank.cast("int"))
            .withColumn("csm_focus", F.col("csm_rank") <= F.lit(int(capacity_per_csm))))


def _crm(scores, preset: str, sample: pd.DataFrame):
    from churnml.scoring.crm import to_crm

    struct = _struct(to_crm(sample, preset))
    schema = _arrow(struct)

    def convert(batches):
        from churnml.spark.arrow import naive, to_schema

        for batch in batches:
            yield from to_schema(to_crm(naive(batch.to_pandas()), preset), schema).to_batches()

    return scores.mapInArrow(convert, struct)


def _write(frame, path: str, as_of_column: str) -> None:
    from pyspark.sql import functions as F

    frame = frame.withColumn(as_of_column, F.to_date(as_of_column))
    (frame.write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
     .partitionBy(as_of_column).parquet(path))


def _spine(model, driver: dict, as_of):
    from churnml.errors import ChurnmlError
    from churnml.snapshots import make_spine

    config = getattr(model, "config_", None)
    horizon = getattr(config, "horizon_days", 180)
    label = (getattr(model, "training_info_", None) or {}).get("label") or getattr(
        config, "label", "auto")  # the trained population, as local scoring does
    spine = make_spine(driver, as_of, horizon_days=horizon, label=label,
                       downgrade_churn_share=getattr(config, "downgrade_churn_share", None))
    if len(spine) == 0:
        raise ChurnmlError(
            f"scoring: no account has a contract active at as_of={pd.Timestamp(as_of).date()} "
            f"renewing within {horizon} days ({len(driver['contracts'])} contracts)",
            hint="check the as_of date against the data")
    return spine


def _book_tiers(model, scores):
    """Tiers decided for the whole book, as local scoring decides them for all scored accounts:
    the base rate (estimated from the mean probability for an older model) and the no-signal
    check read every account's probability, so a bucket must not decide them alone. The
    probabilities are collected to the driver (8 bytes an account), the thresholds applied in
    Spark; returns the scores with ``tier`` replaced and the run's tiering and warnings."""
    import numpy as np
    from pyspark.sql import functions as F

    from churnml.scoring.tiers import thresholds, tier_scores

    config = getattr(model, "config_", None)
    p = np.asarray(scores.select("probability").toArrow().column(0).to_numpy(zero_copy_only=False),
                   dtype=np.float64)
    _, tiering, notes = tier_scores(model, p, tiers=getattr(config, "tiers", None))
    red, amber = thresholds(getattr(config, "tiers", None), tiering["base_rate"])
    probability = F.col("probability")
    red_rule = F.lit(tiering["signal"]) & (probability >= F.lit(red))
    tier = (F.when(probability.isNull(), F.lit(None).cast("string"))
            .when(red_rule, F.lit("red"))
            .when(probability >= F.lit(amber), F.lit("amber"))
            .otherwise(F.lit("green")))
    return scores.withColumn("tier", tier), tiering, notes


def _outputs(model, result, kinds: dict, structs: dict, preset: str, sample_scores: pd.DataFrame):
    from churnml.scoring.capacity import books_settings

    frames = {kind: result.mapInArrow(_unpacker(kind, kinds[kind]), structs[kind])
              for kind in kinds}
    scores, tiering, notes = _book_tiers(model, frames["scores"])
    capacity = books_settings(model)["capacity_per_csm"]
    scores = _ranked_books(_ranked(scores), capacity).drop(ROW).persist()
    frames["scores"] = scores
    frames["crm"] = _crm(scores, preset, sample_scores.drop(columns=[ROW]))
    return frames, tiering, notes


def _manifest(out: str, manifest: dict) -> None:
    from churnml.spark.tables import is_url

    if is_url(out):  # object storage: the datasets are the record
        return
    path = Path(out) / f"manifest_{manifest['as_of']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(manifest, indent=2, default=str))
    temporary.replace(path)


def score(model, tables, as_of, out, *, spark=None, buckets: int | None = None,
          crm_preset: str = "generic", explain_backend: str | None = None,
          scored_at=None) -> dict:
    """Score every account renewing within the model's horizon at ``as_of``, on Spark.

    Parameters
    ----------
    model : ChurnModel
        As returned by :func:`churnml.load_model` (broadcast to the executors).
    tables : dict or str / Path
        Anything :func:`churnml.spark.tables.read_tables` accepts.
    as_of : date-like
        Scoring date (indicators read only rows before it).
    out : str or Path
        Folder (or object-store URL) of the datasets ``scores``, ``explanations``, ``families``
        and ``crm``, each partitioned by ``as_of``; earlier runs in ``out/scores`` give the trend.
    spark : SparkSession, optional
    buckets : int, optional
        Account buckets (default :func:`churnml.spark.buckets.bucket_count`).
    crm_preset : str
        ``generic``, ``salesforce`` or ``hubspot``.
    explain_backend : str, optional
        Default the model config's ``explanation_backend`` or "auto".
    scored_at : Timestamp, optional
        Time stamp of the run (default now, UTC).

    Returns
    -------
    dict
        The run manifest: as_of, model, buckets, rows per dataset, accounts per tier, timings,
        outputs (also written to ``out/manifest_<as_of>.json`` for a local folder).
    """
    from pyspark import StorageLevel

    from churnml.scoring.crm import get_preset
    from churnml.spark.buckets import buckets_for
    from churnml.spark.session import spark_session
    from churnml.spark.tables import SparkTables, driver_tables, read_tables

    clock, timings = time.perf_counter(), {}
    get_preset(crm_preset)  # an unknown preset fails before any work
    spark = spark or spark_session()
    out = str(out)
    driver = dict(tables) if isinstance(tables, SparkTables) else None
    tables = read_tables(tables, spark)
    driver = driver if driver is not None else driver_tables(tables)
    spine = _spine(model, driver, as_of)
    buckets = buckets or buckets_for(spark, tables)
    config = getattr(model, "config_", None)
    backend = explain_backend or getattr(config, "explanation_backend", None) or "auto"
    scored_at = pd.Timestamp(scored_at or pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"))
    features = build_features(tables, spine, getattr(model, "catalog_", None), spark=spark,
                              buckets=buckets).persist(StorageLevel.MEMORY_AND_DISK)
    sample = local_features(features.limit(SAMPLE_ROWS).toArrow(), drop_row=False)
    timings["features_s"] = time.perf_counter() - clock
    probe = _score_bucket(model, sample, driver["accounts"], None, backend, scored_at)
    structs = {kind: _struct(frame) for kind, frame in probe.items()}
    kinds = {kind: _arrow(struct) for kind, struct in structs.items()}
    accounts = tables["accounts"]
    frames = {"features": features, "accounts": accounts.select(
        [c for c in ("account_id", "name", "segment", "csm") if c in accounts.columns])}
    runs = _earlier_runs(spark, out, as_of)
    if runs is not None:
        frames["runs"] = runs
    schemas = {name: _arrow(frame.schema) for name, frame in frames.items()}
    shared = spark.sparkContext.broadcast(model)
    job = _bucket_job(shared, schemas, kinds, backend, scored_at)
    result = (packed(frames, buckets).repartition(buckets, BUCKET).groupBy(BUCKET)
              .applyInArrow(job, RESULT_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK))
    outputs, tiering, notes = _outputs(model, result, kinds, structs, crm_preset, probe["scores"])
    as_of_field = get_preset(crm_preset)["fields"]["as_of"]
    paths = {}
    for kind in OUTPUTS:
        paths[kind] = f"{out}/{kind}"
        _write(outputs[kind], paths[kind], as_of_field if kind == "crm" else "as_of")
    timings["total_s"] = time.perf_counter() - clock
    tiers = {row["tier"]: row["count"] for row in outputs["scores"].groupBy("tier").count().collect()}
    manifest = {
        "as_of": str(pd.Timestamp(as_of).date()), "engine": "spark", "buckets": buckets,
        "model_name": getattr(model, "model_name_", None),
        "model_version": getattr(model, "model_version_", None),
        "scored_at": str(scored_at), "accounts": int(sum(tiers.values())), "tiers": tiers,
        "explain_backend": backend, "crm_preset": crm_preset, "outputs": paths,
        "timings": timings, "tiering": tiering, "warnings": notes,
    }
    for frame in (outputs["scores"], result, features):
        frame.unpersist()
    shared.unpersist()
    _manifest(out, manifest)
    return manifest
