"""``train``: from contract tables (or a ready feature frame) to a tracked, registered model.

Steps: snapshots (spine) over the data's whole period at the config cadence → point-in-time
indicators → the leakage guard (``TrainResult.leaks``) → out-of-time folds → Optuna tuning on the folds → a *held-out* model fitted with the best
parameters on every row whose outcome was known before the test period → evaluation on the untouched
test snapshots beside the logistic baseline, the health scorecard, the uncalibrated booster and (on
synthetic data) the oracle → the *deployed* model refitted on every resolved row → one MLflow run
(config, data fingerprint, catalog, metrics, nested trial runs, figures, pyfunc model) → a registered
version, which takes the ``champion`` alias only when it passes the champion gate
(:mod:`churnml.model.gate`: above chance, ahead of both baselines, ahead of the current champion on
the same test rows, and no blocking reason such as a probable leak).

What each fitted piece saw
--------------------------
Every ``ChurnModel`` fit has three pieces. An *early-stopping booster* trains on the earlier
snapshots (only rows whose renewal fell before the latest slice starts) and stops on the latest
``validation_fraction`` (20 %) of snapshots. The *calibrator* is fitted on that booster's scores for
the latest slice, which it never trained on ("auto" may also find that no calibration is better).
The *booster in use* is then refitted on every labelled row, the latest slice included, with the
tree count early stopping chose scaled to the larger data (``refit=True``, at most 1.25×; under
drift the newest outcomes matter most: on the demo data it lifts the out-of-time ROC-AUC of the
defaults from 0.74 to 0.79). With ``blend`` (config key, "auto" by default) a logistic model is
fitted beside the booster and the two are stacked on the log-odds scale, with weights learnt on
the latest slice, when that beats the booster alone there beyond noise (the ``Blend:`` line of
the summary says which was chosen); the calibrator then applies to the blended score.

*Held-out model (evaluated)*: all three pieces see only rows whose renewal date falls before the
first test snapshot. The test snapshots are seen by none of them.

*Deployed model (registered, used for scoring)*: the same procedure on every resolved row (label
known), test period included; its calibrator is fitted on the latest 20 % of those snapshots as
scored by a booster that did not train on them. The reported metrics are those of the held-out
model; the deployed model differs only by also learning from the most recent outcomes.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SUMMARY_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "top_decile_lift",
    "recall_at_k",
    "ratio_to_oracle",
)
MODEL_ORDER = ("model", "uncalibrated", "logistic", "health_score", "oracle")


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    model : ChurnModel
        The deployed model (refitted on every resolved row), with ``catalog_``, ``config_``,
        ``model_name_``, ``model_version_`` attached.
    evaluation : Evaluation
        Held-out model vs baselines (and oracle) on the out-of-time test snapshots.
    best_params : dict
    run_id, model_uri, model_version : str
    promoted : bool
        Whether the alias ``champion`` moved to this version.
    reason : str
        Why it moved or not (the champion gate's failed checks, or what it beat).
    holdout_model : ChurnModel
        The evaluated model (fitted before the test period).
    features : DataFrame
        The training frame.
    test_index : ndarray
        Positions of the test rows in ``features``.
    leakage : DataFrame
        The leakage guard's report on the training frame
        (:func:`churnml.features.leakage.leakage_report`); ``leaks`` holds its probable leaks.
    blockers : list of str
        Reasons that forbid promotion, raised by checks outside the gate (e.g. a probable leak);
        append to it before :func:`log_result` and the version is registered but not promoted.
    gate : GateDecision
        The champion gate's checks (after logging).
    """

    model: object
    evaluation: object
    best_params: dict
    run_id: str | None
    model_uri: str | None
    model_version: str | None
    promoted: bool
    reason: str
    holdout_model: object = field(default=None, repr=False)
    features: pd.DataFrame | None = field(default=None, repr=False)
    test_index: np.ndarray | None = field(default=None, repr=False)
    tune_result: object = field(default=None, repr=False)
    timings: dict = field(default_factory=dict)
    label_audit: object = field(default=None, repr=False)
    leakage: pd.DataFrame | None = field(default=None, repr=False)
    blockers: list = field(default_factory=list)
    gate: object = field(default=None, repr=False)

    @property
    def leaks(self) -> pd.DataFrame:
        """Probable leaks found by the leakage guard (kind, signal, auc, ..., message); empty when
        none was found. A model trained on a leak should not be promoted."""
        from churnml.features.leakage import LEAKAGE_COLUMNS

        if self.leakage is None:
            return pd.DataFrame(columns=list(LEAKAGE_COLUMNS))
        return self.leakage[self.leakage["leak"]].reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """Model vs baselines vs oracle on the test snapshots (segment "all")."""
        table = self.evaluation.summary("all")
        order = [m for m in MODEL_ORDER if m in table.index]
        order += [m for m in table.index if m not in order]
        return table.loc[order, [c for c in SUMMARY_METRICS if c in table.columns]]

    def summary(self) -> str:
        """Printable text: the evaluation table, run, version and the champion decision."""
        table = self.table()
        decision = "promoted" if self.promoted else "registered, not promoted"
        decision = decision if self.model_version else "not registered"
        text = table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="-")
        n = self.evaluation.metric("model", "n")
        pos = self.evaluation.metric("model", "positives")
        audit = self.label_audit
        lines = [
            *([f"Label:          {audit.summary['label']} ({audit.summary['label_reason']}), "
               f"horizon {audit.summary['horizon_days']} days"] if audit is not None else []),
            *(f"WARNING:        {w}" for w in (audit.warnings if audit is not None else [])),
            (
                f"Out-of-time test: {int(n)} snapshot rows, {int(pos)} churned "
                f"(recall_at_k at capacity {self.evaluation.capacity} per scoring date)"
            ),
            text,
            "",
            f"Tuning:         {self.tune_result.selection}" if self.tune_result else "",
            f"Blend:          {_blend_line(self.model, self.holdout_model)}",
            f"MLflow run:     {self.run_id}",
            f"Model version:  {self.model_uri}",
            f"Champion:       {decision} — {self.reason}",
        ]
        if self.leakage is not None:
            from churnml.features.leakage import describe_leaks

            lines += describe_leaks(self.leakage)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _blend_line(model, holdout) -> str:
    """What the deployed model chose (blend or booster alone), and the evaluated model if it
    chose otherwise."""
    blend = getattr(model, "blend_", None)
    if blend is None:
        return "-"
    other = getattr(holdout, "blend_", None)
    if other is None or other.chosen == blend.chosen:
        return blend.reason
    return f"{blend.reason} (the evaluated model: {other.reason})"


def _config(config):
    from churnml.model.config import ModelConfig, load_config

    if isinstance(config, ModelConfig):
        return config
    return load_config(config)


def _period(tables: dict, config) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Training snapshot dates: :func:`churnml.snapshots.data_period`, unless the config fixes
    ``training_start`` / ``training_end``."""
    from churnml.snapshots import data_period

    first, last = data_period(tables)
    start = pd.Timestamp(config.training_start) if config.training_start else first
    end = pd.Timestamp(config.training_end) if config.training_end else last
    if start >= end:
        raise ValueError(
            f"train: snapshot period is empty: start {start.date()} is not before end {end.date()} "
            f"(the data's own period is {first.date()} to {last.date()})"
        )
    return start, end


def build_training_frame(
    tables: dict, config, catalog=None, *, progress=False, engine="duckdb"
) -> pd.DataFrame:
    """Spine over the data's whole period at ``config.cadence`` + point-in-time indicators
    (``engine="spark"``: ``tables`` is a :class:`churnml.spark.SparkTables`)."""
    from churnml.features.engine import build_features
    from churnml.snapshots import make_spine

    start, end = _period(tables, config)
    spine = make_spine(
        tables,
        start=start,
        end=end,
        cadence=config.cadence,
        horizon_days=config.horizon_days,
        downgrade_churn_share=config.downgrade_churn_share,
        label=config.label,
    )
    _label_audit(spine, config)  # no resolved labels: stop before building any feature
    return build_features(tables, spine, catalog, progress=progress, engine=engine)


def _oracle(tables, test: pd.DataFrame, label: str = "renewal", horizon_days: int = 180):
    from churnml.data.synthetic.oracle import oracle_probability

    values = oracle_probability(tables, test, label=label, horizon_days=horizon_days)
    if values is None:
        return None
    if np.isnan(values).any():
        warnings.warn(
            f"train: oracle has no churn_probability for {int(np.isnan(values).sum())} of "
            f"{len(values)} test rows; the oracle is left out of the evaluation",
            stacklevel=3,
        )
        return None
    return values


def _label_audit(frame: pd.DataFrame, config, *, warn: bool = True):
    """The label audit of the training frame (or its spine): an error without resolved labels, a
    warning for too few (the audit's warnings), the label definition for the summary."""
    from churnml.errors import ChurnmlError
    from churnml.label_report import HOW_TO_GET_OUTCOMES, label_audit

    if "horizon_days" not in frame.attrs:  # a ready frame: its label is the config's
        frame.attrs.update(horizon_days=config.horizon_days, label_reason="given",
                           label="renewal" if config.label == "auto" else config.label)
    audit = label_audit(frame)
    if audit.summary["resolved"] == 0:
        raise ChurnmlError(
            f"train: no resolved labels among {audit.summary['rows']:,} snapshot rows "
            f"(label: {audit.summary['label']}, {audit.summary['label_reason']})",
            hint=HOW_TO_GET_OUTCOMES,
        )
    for message in audit.warnings if warn else []:
        warnings.warn(f"train: {message}", UserWarning, stacklevel=3)
    return audit


def _new_model(config, params, columns):
    from churnml.model.estimator import ChurnModel

    return ChurnModel(
        params=params,
        n_estimators=config.n_estimators,
        early_stopping_rounds=config.early_stopping_rounds,
        calibration=config.calibration,
        blend=config.blend,
        time_column="as_of",
        label_column="label",
        feature_columns=columns,
        random_state=config.seed,
    )


def _latest(frame: pd.DataFrame, column: str):
    if column not in frame.columns or frame.empty:
        return None
    value = pd.to_datetime(frame[column]).max()
    return None if pd.isna(value) else str(value.date())


def train(
    data=None,
    *,
    features=None,
    config=None,
    trials=None,
    timeout=None,
    tracking_uri=None,
    registered_model_name=None,
    progress=True,
    mapping=None,
    catalog=None,
    log=True,
    figures=True,
    storage=None,
    study_name=None,
    worker=None,
) -> TrainResult:
    """Train, evaluate, track and register a renewal-risk model.

    Parameters
    ----------
    data : dict of DataFrame or path, optional
        Contract tables, or a source for :func:`churnml.data.load.load_tables` (folder of
        Parquet/CSV, DuckDB file). An ``oracle`` table (synthetic data) adds the oracle to the
        evaluation.
    features : DataFrame, optional
        A ready training frame instead of ``data``: indicators + ``label`` + ``as_of`` +
        ``renewal_date`` (+ ``contract_id`` for the oracle, ``segment``/``arr`` for the breakdowns).
    config : ModelConfig or path, optional
        Default ``models/default.yaml``.
    trials, timeout : optional
        Tuning budget (default the config's ``trials`` and ``timeout_seconds``).
    tracking_uri : str, optional
        MLflow tracking URI; default ``MLFLOW_TRACKING_URI`` or ``sqlite:///<cwd>/mlflow.db`` with
        artifacts in ``<cwd>/mlruns``.
    registered_model_name : str, optional
        Default ``config.registered_model_name`` ("churnml").
    progress : bool, default True
        Progress bars (feature building, tuning).
    mapping : path or dict, optional
        Column mapping for ``load_tables``; with ``data`` omitted its ``source:`` is read.
    catalog : Catalog, optional
        Default the packaged indicator catalog.
    log : bool, default True
        False skips MLflow entirely (no run, no registration).
    figures : bool, default True
        Log the evaluation figures (ROC, PR, gain, calibration, SHAP summary) as PNG artifacts.
    storage, study_name, worker : optional
        A shared Optuna study (see :func:`churnml.model.tuning.tune`): this process adds
        ``trials`` trials to it (``trials=0``: none) and selects among all of its trials.

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> result = train("data/demo", trials=20)  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    from churnml.features.catalog import load_catalog
    from churnml.features.engine import feature_columns
    from churnml.model.baselines import HealthScore, logistic_baseline
    from churnml.model.evaluation import evaluate
    from churnml.model.fingerprint import label_definition, mapping_digest
    from churnml.model.folds import out_of_time_folds, trainable_before
    from churnml.model.gate import auc_interval_by_account
    from churnml.model.logistic import one_blas_thread
    from churnml.model.parallel_folds import FoldPool, fold_jobs
    from churnml.model.tuning import tune

    timings = {}
    clock = time.perf_counter()
    config = _config(config)
    jobs = fold_jobs(None, max(config.n_folds, 2))  # the folds, then the two final fits
    if config.trials if trials is None else trials:  # tuning workers start while the frame is built
        from churnml.model.parallel_folds import warm_workers

        warm_workers(jobs)
    catalog = catalog if catalog is not None else load_catalog()
    name = registered_model_name or config.registered_model_name
    tables = None
    if features is None:
        if data is None and mapping is None:
            raise ValueError("train: give data (tables or a path) or features (a training frame)")
        if isinstance(data, dict):
            tables = data
        else:
            from churnml.data.load import load_tables, open_tables

            tables = open_tables(data, mapping)  # usage stays in DuckDB
            # synthetic data carry the true churn probability: the evaluation adds the oracle
            oracles = ["oracle", "oracle_terms"]
            tables.update(load_tables(data, mapping, tables=oracles, validate=False))
        frame = build_training_frame(tables, config, catalog, progress=progress)
        timings["features_s"] = time.perf_counter() - clock
    else:
        frame = features
        tables = data if isinstance(data, dict) else None
    missing = [c for c in ("label", "as_of") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"train: the training frame has no column(s) {missing}; columns are "
            f"{list(frame.columns)[:12]}"
        )
    frame = frame.reset_index(drop=True)
    audit = _label_audit(frame, config, warn=features is not None)
    label = audit.summary["label"]
    columns = feature_columns(frame, catalog) or None
    leakage = _leakage(frame, tables, catalog)

    step = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, test_idx = out_of_time_folds(
            frame,
            n_folds=config.n_folds,
            test_snapshots=config.test_snapshots,
            gap_days=config.gap_days,
        )
    if len(test_idx) == 0:
        raise ValueError("train: no test rows; set test_snapshots of the model config to 1 or more")
    test = frame.iloc[test_idx]
    test_start = pd.to_datetime(test["as_of"]).min()
    from churnml.model.tracking import TrialRuns

    # one pool for the trials' folds and the final fits: the frame reaches the workers once
    with FoldPool(frame, jobs) as pool:
        # trials logged as they finish; TrialRuns' own thread imports MLflow, opens the store
        # and creates the run, so the first trial starts at once
        with TrialRuns(tracking_uri, enabled=log) as trial_runs:
            tuned = tune(
                frame,
                config=config,
                n_trials=trials,
                timeout=timeout,
                progress=progress,
                feature_columns=columns,
                callbacks=[trial_runs],
                storage=storage,
                study_name=study_name,
                worker=worker,
                pool=pool,
            )
        timings["tune_s"] = time.perf_counter() - step

        step = time.perf_counter()
        # the deployed model (every resolved row) and the held-out one (rows known before the
        # test period) are fitted in worker processes while this process fits the baselines and
        # measures the data; the figures are drawn in a worker while the model is logged
        def tuned_model():
            return _new_model(config, tuned.best_params, columns)

        deploying = pool.fit(tuned_model())
        before = trainable_before(frame, test_start, gap_days=config.gap_days)
        holding = pool.fit(tuned_model(), np.flatnonzero(before))
        pre = frame.loc[before]
        pre_labelled = pre[pre["label"].notna()]
        X_cols = tuned_model().features_of(pre)
        y_test = test["label"].astype(int).to_numpy()
        with one_blas_thread():  # lbfgs on a few thousand rows: two BLAS threads took 4x as long
            y_pre = pre_labelled["label"].astype(int)
            logistic = logistic_baseline().fit(pre_labelled[X_cols], y_pre)
            logistic_probability = logistic.predict_proba(test[X_cols])[:, 1]
        health = HealthScore().fit(pre_labelled[X_cols])
        measured = None
        if tables is not None:  # what scoring compares its data with (churnml.scoring.drift)
            from churnml.model.profile import family_tables, measure

            measured = measure(tables, frame, family_tables(catalog))
        holdout = holding.result()
        predictions = {
            "model": holdout.predict_proba(test)[:, 1],
            "uncalibrated": 1.0 / (1.0 + np.exp(-holdout.predict_raw(test))),
            "logistic": logistic_probability,
            "health_score": health.predict_proba(test[X_cols])[:, 1],
        }
        evaluation = evaluate(
            y_test,
            predictions,
            frame=test,
            capacity=config.capacity,
            oracle=_oracle(
                tables, test, label, audit.summary["horizon_days"] or config.horizon_days
            ),
        )
        interval = auc_interval_by_account(test, y_test, predictions["model"], seed=config.seed)
        images = None
        if log and figures:  # the SHAP summary's sample of the test rows, not all of them
            from churnml.model.plots import shap_rows

            images = pool.call(_evaluation_images, evaluation, holdout, shap_rows(test))
        timings["evaluate_s"] = time.perf_counter() - step
        step = time.perf_counter()
        deployed = deploying.result()
    timings["deploy_fit_s"] = time.perf_counter() - step
    labelled = frame[frame["label"].notna()]
    info = {
        "test_start": str(test_start.date()),
        "trained_until": _latest(labelled, "label_date")
        or _latest(labelled, "renewal_date")
        or _latest(labelled, "as_of"),
        "holdout_trained_until": _latest(pre_labelled, "label_date")
        or _latest(pre_labelled, "renewal_date")
        or _latest(pre_labelled, "as_of"),
        "label": label,
        "test_roc_auc": evaluation.metric("model", "roc_auc"),
        "test_pr_auc": evaluation.metric("model", "pr_auc"),
        "test_roc_auc_low": interval[0],
        "test_roc_auc_high": interval[1],
        "base_rate": float(labelled["label"].astype(float).mean()),
        "rows": len(frame),
        "resolved_rows": len(labelled),
        "mapping_digest": mapping_digest(mapping),
        "label_definition": label_definition(config, label),
    }
    if measured is not None:
        from churnml.model.profile import data_profile

        info["data_profile"] = data_profile(tables, frame, deployed, catalog, measured=measured)
    deployed.catalog_, deployed.config_ = catalog, config
    deployed.model_name_, deployed.model_version_ = None, None
    deployed.training_info_ = info
    result = TrainResult(
        model=deployed,
        evaluation=evaluation,
        best_params=dict(tuned.best_params),
        run_id=None,
        model_uri=None,
        model_version=None,
        promoted=False,
        reason="not logged (log=False)",
        holdout_model=holdout,
        features=frame,
        test_index=test_idx,
        tune_result=tuned,
        timings=timings,
        label_audit=audit,
        leakage=leakage,
        blockers=[f"probable leak: {signal}" for signal in leakage.loc[leakage["leak"], "signal"]],
    )
    if log:
        step = time.perf_counter()
        log_result(
            result, tables, tracking_uri=tracking_uri, registered_model_name=name, figures=figures,
            run_id=trial_runs.run_id, images=images,
        )  # fmt: skip
        timings["mlflow_s"] = time.perf_counter() - step
    timings["total_s"] = time.perf_counter() - clock
    return result


def log_result(
    result: TrainResult,
    tables=None,
    *,
    tracking_uri=None,
    registered_model_name=None,
    figures=True,
    run_id=None,
    images=None,
) -> TrainResult:
    """Log a ``train(..., log=False)`` result as one MLflow run, register it and run the
    champion gate (what ``train`` does when ``log=True``). Fills ``run_id``, ``model_version``,
    ``model_uri``, ``promoted``, ``reason`` and ``gate`` in place and returns ``result``.
    ``result.blockers`` (reasons found elsewhere, e.g. probable leaks) keep it from promotion.

    Parameters
    ----------
    result : TrainResult
    tables : dict, optional
        The contract tables trained on, for the data fingerprint.
    tracking_uri, registered_model_name, figures
        As in :func:`train`.
    run_id : str, optional
        Log into this open run, whose trials were logged while tuning ran
        (:class:`~churnml.model.tracking.TrialRuns`); default a new run, with the trials logged
        now as nested runs (with their own start and end times).
    images : optional
        The figures' PNG images already being drawn (``train`` draws them in a worker process
        while the model is logged): an object whose ``result()`` is the dict of
        :func:`_evaluation_images`; default drawn here.
    """
    from churnml.model import registry, tracking

    config, catalog = result.model.config_, result.model.catalog_
    info = result.model.training_info_
    name = registered_model_name or config.registered_model_name

    experiment_id = tracking.configure(tracking_uri)
    import mlflow

    frame = result.features
    test = frame.iloc[result.test_index]
    evaluation = result.evaluation
    resumed = run_id is not None
    opened = (
        mlflow.start_run(run_id=run_id)
        if resumed
        else mlflow.start_run(experiment_id=experiment_id, run_name="train")
    )
    with opened as run:
        run_id = run.info.run_id
        params = tracking.flat_params(config.to_dict(), prefix="config.")
        params.update({f"best.{k}": str(v) for k, v in result.best_params.items()})
        params.update(
            {
                "trials_run": str(len(result.tune_result.trials)),
                "selected_trial": str(result.tune_result.selected),
                "rows": str(info["rows"]),
                "resolved_rows": str(info["resolved_rows"]),
                "test_rows": str(len(test)),
                "test_start": info["test_start"],
                "n_features": str(result.model.n_features_in_),
                "best_iteration": str(result.model.best_iteration_),
                "calibration": str(result.model.calibration_),
                "blend": result.model.blend_.chosen,
            }
        )
        mlflow.log_params(params)
        metrics = tracking.metric_dict(evaluation.metrics)
        metrics["tuning.selected_cv_roc_auc"] = float(result.tune_result.best_value)
        metrics["tuning.best_cv_roc_auc"] = float(result.tune_result.study.best_value)
        metrics.update(_interval_metrics(info))
        metrics["blend.booster_weight"] = result.model.blend_.booster
        metrics["blend.linear_weight"] = result.model.blend_.linear
        mlflow.log_metrics(metrics)
        tags = {
            "churnml.registered_model_name": name,
            "churnml.tuning_selection": result.tune_result.selection,
            **{k: str(info[k]) for k in ("mapping_digest", "label_definition") if info.get(k)},
            "churnml.label": info.get("label", "renewal"),
            "churnml.blend": result.model.blend_.reason,
        }
        if tables is not None:
            from churnml.data.contract import CONTRACT
            from churnml.model.fingerprint import combined_digest, fingerprint

            # the customer data only: the same data from a folder or a dict gets one digest,
            # whether or not an oracle (synthetic data) came along
            fp = fingerprint({k: v for k, v in tables.items() if k in CONTRACT})
            tags["data_digest"] = info["data_digest"] = combined_digest(fp)
            tracking.log_frame(fp, "data/fingerprint.csv")
        tags["features_digest"] = _features_digest(frame)
        if result.leakage is not None:  # the leakage guard: "none" or the leaking signals
            from churnml.features.leakage import leakage_tag

            tags["churnml.leakage"] = leakage_tag(result.leakage)
            tracking.log_frame(result.leakage, "leakage/leakage.csv")
        mlflow.set_tags(tags)
        with tempfile.TemporaryDirectory() as tmp:
            config_path = Path(tmp) / "model_config.yaml"
            import yaml

            config_path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
            mlflow.log_artifact(str(config_path), artifact_path="config")
        _log_catalog(catalog)
        tracking.log_frame(evaluation.metrics, "evaluation/metrics.csv")
        tracking.log_frame(evaluation.calibration, "evaluation/calibration.csv")
        trials = result.tune_result.trials
        tracking.log_frame(trials.astype({"fold_auc": str}), "tuning/trials.csv")
        if not resumed:
            tracking.log_trials(trials, run_id, experiment_id)
        model_info = _log_pyfunc(result, catalog, config, info)
        if figures:
            tracking.log_images(_drawn_images(images, evaluation, result.holdout_model, test))

        version = registry.register(
            model_info.model_uri,
            name,
            tags={"run_id": run_id, "test_roc_auc": f"{info['test_roc_auc']:.6f}"},
        )
        decision = _gate(result, registry, name, test, info, version.version)
        promoted, reason = decision.promote, decision.reason
        if promoted:
            registry.promote(name, version.version)
        client = mlflow.MlflowClient()
        client.set_model_version_tag(name, version.version, "champion_decision", reason)
        mlflow.set_tags(
            {
                "model_version": str(version.version),
                "promoted": str(promoted).lower(),
                "champion_decision": reason,
                **{f"gate.{c.name}": str(c.passed).lower() for c in decision.checks},
            }
        )
        tracking.log_frame(decision.table(), "evaluation/gate.csv")
    result.run_id = run_id
    result.model_version = str(version.version)
    result.model_uri = f"models:/{name}/{version.version}"
    result.promoted, result.reason, result.gate = promoted, reason, decision
    result.model.model_name_, result.model.model_version_ = name, str(version.version)
    return result


def _drawn_images(images, evaluation, model, test) -> dict[str, bytes]:
    """The figures drawn in a worker (``images``), or drawn here when there are none or the
    worker failed."""
    if images is not None:
        try:
            return images.result()
        except Exception as error:  # noqa: BLE001 - e.g. a worker that died: draw them here
            warnings.warn(f"train: figures drawn again here ({error})", stacklevel=3)
    return _evaluation_images(evaluation, model, test)


def _evaluation_images(evaluation, model, test) -> dict[str, bytes]:
    """The evaluation figures as PNG images by name, with the SHAP summary of ``model`` on the
    ``test`` rows when it can be drawn."""
    from churnml.model.tracking import figure_images

    try:
        drawn = evaluation.figures(model, test)
    except Exception as error:  # noqa: BLE001 - figures must not sink a training
        warnings.warn(f"train: SHAP summary figure skipped ({error})", stacklevel=2)
        drawn = evaluation.figures()
    return figure_images(drawn)


def _leakage(frame: pd.DataFrame, tables, catalog):
    """The leakage guard's report on the training frame; one warning listing probable leaks."""
    from churnml.features.leakage import describe_leaks, leakage_report

    report = leakage_report(frame, tables, catalog=catalog)
    if report["leak"].any():
        warnings.warn("train: " + "\n".join(describe_leaks(report)), UserWarning, stacklevel=3)
    return report


def _gate(result, registry, name, test, info, version):
    """Champion/challenger on the test rows, then the champion gate over every check."""
    from churnml.model.gate import decide

    champion = registry.challenge(name, result.holdout_model, test, info, exclude_version=version)
    interval = (info.get("test_roc_auc_low"), info.get("test_roc_auc_high"))
    interval = None if None in interval else interval
    return decide(result.evaluation, interval, champion, blockers=list(result.blockers))


def _interval_metrics(info: dict) -> dict:
    return {
        f"model.roc_auc_{end}": float(info[f"test_roc_auc_{end}"])
        for end in ("low", "high")
        if info.get(f"test_roc_auc_{end}") is not None
        and np.isfinite(info[f"test_roc_auc_{end}"])
    }


def _features_digest(frame: pd.DataFrame) -> str:
    from churnml.model.fingerprint import frame_digest

    keys = [c for c in ("account_id", "as_of", "contract_id", "label") if c in frame.columns]
    return frame_digest(frame, keys)


def _log_catalog(catalog) -> None:
    """The indicator catalog: its YAML files when found, and always the tidy table."""
    import mlflow

    from churnml.model import tracking

    folder = Path(__file__).resolve().parent.parent / "features" / "catalog_yaml"
    if folder.is_dir():
        mlflow.log_artifacts(str(folder), artifact_path="catalog")
    try:
        table = catalog.to_frame()
    except Exception:  # noqa: BLE001 - the table is a convenience
        return
    tracking.log_frame(table.astype(str), "catalog/catalog.csv")


#: What loading and predicting the pyfunc imports, pinned even when churnml's metadata is missing.
_MODEL_PACKAGES = (
    "mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "scipy", "pyyaml", "pyarrow"
)


def _requirements(wheel: str) -> list[str]:
    """The model's pip requirements: churnml's own dependencies (and what the pyfunc imports)
    pinned to the versions installed here, and churnml itself as the wheel logged with the model
    (``artifacts/<wheel>``, relative to the model folder, where MLflow installs from)."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    try:
        declared = [Requirement(r) for r in requires("churnml") or []]
    except PackageNotFoundError:
        declared = []
    core = [r.name for r in declared if r.marker is None or r.marker.evaluate({"extra": ""})]
    names = core + list(_MODEL_PACKAGES)
    out = []
    for package in dict.fromkeys(names):
        try:
            out.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return [*out, f"artifacts/{wheel}"]


def _log_pyfunc(result, catalog, config, info):
    """Log the deployed model as a pyfunc with a signature, an input example and churnml's wheel."""
    import mlflow

    from churnml.model.pyfunc import ChurnPyfunc, model_signature, signature_frame
    from churnml.model.tracking import no_artifact_progress
    from churnml.model.wheel import build_wheel

    wrapper = ChurnPyfunc(result.model, catalog, config, holdout=result.holdout_model, info=info)
    frame = result.features
    sample = frame.sample(n=min(len(frame), 500), random_state=config.seed)
    X = signature_frame(result.model, sample)
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp, no_artifact_progress():
        warnings.simplefilter("ignore")
        wheel = build_wheel(tmp)
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=wrapper,
            signature=model_signature(result.model),
            input_example=X.head(5),
            pip_requirements=_requirements(wheel.name),
            artifacts={"churnml_wheel": str(wheel)},
        )
