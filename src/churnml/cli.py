"""The ``churnml`` command: a thin shell over the public API.

Every sub-command parses its arguments, calls the same functions a notebook would, and
prints tidy frames. Heavy libraries are imported inside the handlers so ``--help`` is fast.

Arguments are checked before anything slow (dates, files, presets); one handler in :func:`main`
turns every error into one or two lines (:func:`churnml.console.describe_error`): exit 2 for a
usage error, 1 for a data or runtime error, 0 on success; ``--debug`` (or ``CHURNML_DEBUG=1``)
shows the traceback. ``--json`` prints a machine-readable summary on standard output for
schedulers; ``--quiet`` / ``--verbose`` set how much goes to standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from churnml import __version__
from churnml.console import printable
from churnml.errors import UsageError


def _add_engine(p):
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                   help="duckdb (this machine, default) or spark (account buckets on a cluster)")
    p.add_argument("--spark-master", help="Spark master URL for --engine spark (default: the "
                   "spark-submit session, else local[*])")


def _local_output_file(args) -> None:
    """The local engine writes one file: ``--out`` must not be a folder (Spark writes a folder)."""
    if args.engine != "spark" and Path(args.out).is_dir():
        raise UsageError(f"{args.command}: --out {args.out} is a folder; give a file name "
                         f"(a folder is for --engine spark)")


def _add_generate(sub):
    p = sub.add_parser("generate", help="write synthetic SaaS customer data (Parquet, one file per table)")
    p.add_argument("--accounts", type=int, default=2000, help="number of accounts (default 2000)")
    p.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--churn-rate", type=float, default=None, help="target renewal churn rate (default ~0.12)")
    p.add_argument("--export", choices=["subscriptions", "salesforce", "hubspot"],
                   help="write a foreign-shaped export instead: subscriptions (a billing export "
                   "with its mapping.yaml), or a vendor set: salesforce / hubspot with stripe, "
                   "zendesk, segment and delighted, one sub-folder per system (map it with init; "
                   "--out may be a postgresql:// URL: one schema per system)")
    p.add_argument("--health-score", action="store_true", help="also write health_scores.parquet: a "
                   "vendor-style health score per account and month (for churnml audit)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(handler=_cmd_generate)


def _cmd_generate(args) -> int:
    from churnml.data.load import write_tables
    from churnml.data.synthetic import make_saas

    kwargs = {} if args.churn_rate is None else {"churn_rate": args.churn_rate}
    tables = make_saas(n_accounts=args.accounts, months=args.months, seed=args.seed, **kwargs)
    if args.health_score:
        from churnml.data.synthetic.health_score import vendor_health_scores

        tables["health_scores"] = vendor_health_scores(tables, seed=args.seed)
    if args.export in ("salesforce", "hubspot"):
        from churnml.data.synthetic.vendors.write import write_vendor_set

        rows = write_vendor_set(tables, args.out, args.export, seed=args.seed)
        if args.json:
            return _json(rows)
        for name, count in rows.items():
            _say(f"{name:<34} {count:>12,} rows")
        _say(f"next: churnml init {_hide_password(args.out)}")
        return 0
    if args.export:
        from churnml.data.synthetic.export import write_export

        return write_export(tables, args.out, seed=args.seed)
    paths = write_tables(tables, args.out)
    if args.json:
        return _json({name: {"rows": len(tables[name]), "path": str(path)}
                      for name, path in paths.items()})
    for name, path in paths.items():
        _say(f"{name:<10} {len(tables[name]):>12,} rows  {path}")
    return 0


def _add_validate(sub):
    p = sub.add_parser("validate", help="check a data folder against the Customer 360 contract")
    p.add_argument("data", nargs="?", type=_source, help="folder of Parquet/CSV files or a DuckDB "
                   "file (default: the mapping's source)")
    p.add_argument("--mapping", type=_existing_file, help="YAML mapping of your tables and columns onto the contract")
    p.add_argument("--preview", action="store_true",
                   help="print the first rows of each mapped contract table first")
    p.set_defaults(handler=_cmd_validate)


def _data_or_mapping(args):
    """``--data`` (or the positional data), which may be left out when ``--mapping`` names a
    ``source:`` (``load_tables`` reads it from the mapping then)."""
    if args.data is None and args.mapping is None:
        raise UsageError(
            f"{args.command}: give --data (a folder or DuckDB file) or --mapping with a source:"
        )
    return args.data


def _cmd_validate(args) -> int:
    from churnml.data.load import open_tables
    from churnml.data.validate import format_report, validate
    from churnml.label_report import audit_tables

    tables = open_tables(_data_or_mapping(args), mapping=args.mapping, validate=False)
    if args.preview and not args.json:
        from churnml.data.mapping import read_mapping
        from churnml.sources.preview import preview_tables

        _say(preview_tables(tables, read_mapping(args.mapping) if args.mapping else None) + "\n")
    report = validate(tables, raise_on_fatal=False)
    fatal = bool((report["severity"] == "fatal").any())
    audit = None if fatal else audit_tables(tables)
    if args.json:
        _json({"fatal": int((report["severity"] == "fatal").sum()),
               "findings": report.astype(str).to_dict("records"),
               "labels": None if audit is None else {k: str(v) for k, v in audit.summary.items()}})
    else:
        _say(format_report(report))
        if audit is not None:
            _say("\n" + audit.format())
    return 1 if fatal else 0


# --- init: a mapping proposed from a source's tables (issue 13) ----------------------------
def _add_init(sub):
    p = sub.add_parser("init", help="recognise the presets in a folder of exports (or a database) "
                       "and write a commented mapping to finish by hand")
    p.add_argument("source", type=_source, help="folder of exports (sub-folders are schemas), "
                   "DuckDB file or database URL")
    p.add_argument("--out", type=_output_file, help="mapping file to write (default: "
                   "SOURCE/mapping.yaml, or ./mapping.yaml for a database URL)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(handler=_cmd_init)


def _cmd_init(args) -> int:
    from churnml.sources.init import init_mapping

    result = init_mapping(args.source, args.out, force=args.force)
    if args.json:
        return _json({"path": str(result.path), "tables": result.tables, "todos": result.todos})
    _say(f"wrote {result.path}: " + ", ".join(f"{t} ({p})" for t, p in result.tables.items()))
    _say(f"{result.todos} TODO lines need a human; then: churnml validate --mapping "
         f"{result.path} --preview")
    return 0


# --- features (issue 4) -------------------------------------------------------------------
def _add_features(sub):
    p = sub.add_parser("features", help="build point-in-time indicators for account x as_of snapshots")
    p.add_argument("--data", type=_source, help="data folder or DuckDB file (default: the mapping's source)")
    p.add_argument("--mapping", type=_existing_file, help="YAML mapping onto the contract")
    p.add_argument("--as-of", type=_date, help="one as_of date, or the last date of a cadence (YYYY-MM-DD)")
    p.add_argument("--start", type=_date, help="first as_of date of a cadence")
    p.add_argument("--cadence", default="monthly", help="as_of cadence between --start and --as-of")
    p.add_argument("--horizon-days", type=_positive_int, default=180, help="renewals within this many days")
    p.add_argument("--label", default="auto", choices=["auto", "renewal", "window"],
                   help="label definition (default auto: renewal when contracts carry outcomes)")
    p.add_argument("--out", required=True, type=_output_path,
                   help="output Parquet file (a folder with --engine spark)")
    _add_engine(p)
    p.set_defaults(handler=_cmd_features)


def _cmd_features(args) -> int:
    import pandas as pd

    from churnml.data.atomic import write_parquet
    from churnml.data.load import open_tables
    from churnml.features.engine import build_features, feature_columns
    from churnml.features.report import indicator_report
    from churnml.snapshots import make_spine

    if not (args.as_of or args.start):
        raise UsageError("features: give --as-of DATE (one snapshot) or --start and --as-of (a cadence)")
    _local_output_file(args)
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.features(args)
    tables = open_tables(_data_or_mapping(args), mapping=args.mapping)
    when = {"start": args.start, "end": args.as_of, "cadence": args.cadence} if args.start else {}
    spine = make_spine(
        tables, as_of=None if args.start else pd.Timestamp(args.as_of),
        horizon_days=args.horizon_days, label=args.label, **when,
    )
    features = build_features(tables, spine, progress=True)
    path = write_parquet(features, args.out)
    indicators = feature_columns(features)
    if args.json:
        return _json({"path": str(path), "rows": len(features), "indicators": len(indicators),
                      "as_of_dates": int(features["as_of"].nunique()),
                      "resolved": int(features["label"].notna().sum()),
                      "skipped": dict(features.attrs.get("skipped", {}))})
    _say(f"wrote {path}: {len(features):,} snapshot rows x {len(indicators)} indicators "
          f"({features['as_of'].nunique()} as_of dates, {features['label'].notna().sum():,} resolved)")
    skipped = features.attrs.get("skipped", {})
    if skipped:  # each is listed once, with its reason, as the features are built
        _say(f"{len(skipped)} indicators skipped: the tables lack columns they read (listed above)")
    from churnml.label_report import label_audit

    _say("\n" + label_audit(spine).format())
    if features["label"].notna().sum() and features["label"].nunique() > 1:
        import warnings

        with warnings.catch_warnings():  # its leak warnings are printed below, with the calendar's
            warnings.filterwarnings("ignore", message=".*separates churned from retained")
            report = indicator_report(features, spine).head(12)
        shown = report[["indicator", "family", "coverage", "auc", "risk_when", "decile_1",
                        "decile_10", "leakage"]].rename(
            columns={"decile_1": "churn_low_decile", "decile_10": "churn_high_decile"})
        _say("\nindicator report, top 12 by univariate AUC (churn rate in the lowest and highest decile):")
        _say(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        from churnml.features.leakage import describe_leaks, leakage_report

        _say("\n" + "\n".join(describe_leaks(leakage_report(features, tables))))
    return 0


# --- train (issue 5) ----------------------------------------------------------------------
def _add_train(sub):
    p = sub.add_parser("train", help="tune, fit, calibrate, evaluate and register the renewal-risk model")
    p.add_argument("--data", type=_source, help="data folder or DuckDB file (default: the mapping's source)")
    p.add_argument("--mapping", type=_existing_file, help="YAML mapping onto the contract")
    p.add_argument("--config", type=_existing_file, help="model config YAML (default: models/default.yaml)")
    p.add_argument("--trials", type=_count, help="Optuna trial budget (overrides the config); "
                   "0 with --storage: select among the study's trials without adding any")
    _add_study_options(p, required=False)
    _add_engine(p)
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args) -> int:
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.train(args)
    from churnml.model.config import load_config
    from churnml.model.training import train

    _check_study_options(args)
    config = load_config(args.config)
    result = train(_data_or_mapping(args), config=config, trials=args.trials, mapping=args.mapping,
                   storage=args.storage, study_name=args.study_name, worker=args.worker,
                   progress=not args.json)
    if args.json:
        return _json({"run_id": result.run_id, "model_uri": result.model_uri,
                      "model_version": result.model_version, "promoted": result.promoted,
                      "reason": result.reason, "best_params": result.best_params,
                      "test": result.table().to_dict("index"),
                      "timings": {k: round(v, 3) for k, v in result.timings.items()}})
    _say(result.label_audit.format() + "\n")
    _say(result.summary())
    return 0


# --- tune: one worker of a shared study (issue 15) -----------------------------------------
def _add_study_options(p, *, required: bool):
    p.add_argument("--storage", required=required,
                   help="Optuna storage shared by the workers: sqlite:///study.db, postgresql://...")
    p.add_argument("--study-name", required=required, help="name of the shared Optuna study")
    p.add_argument("--worker", type=_count,
                   help="worker id, seeds this worker's sampler (default: from host and process id)")


def _check_study_options(args) -> None:
    from churnml.errors import UsageError

    if (args.storage is None) != (args.study_name is None):
        raise UsageError(f"{args.command}: give --storage and --study-name together")
    if args.storage is None and (args.worker is not None or args.trials == 0):
        raise UsageError(f"{args.command}: --worker and --trials 0 need --storage and --study-name")
    if args.trials is not None and args.trials < 0 or args.worker is not None and args.worker < 0:
        raise UsageError(f"{args.command}: --trials and --worker must be 0 or more")


def _add_tune(sub):
    p = sub.add_parser("tune", help="add tuning trials to a shared Optuna study (one worker); "
                       "then select, fit and register with train --trials 0")
    p.add_argument("--data", type=_source, help="data folder or DuckDB file (default: the mapping's source)")
    p.add_argument("--mapping", type=_existing_file, help="YAML mapping onto the contract")
    p.add_argument("--config", type=_existing_file, help="model config YAML (default: models/default.yaml)")
    p.add_argument("--trials", type=_count, help="this worker's trial budget (default: the config's)")
    _add_study_options(p, required=True)
    p.set_defaults(handler=_cmd_tune)


def _cmd_tune(args) -> int:
    from churnml.model.config import load_config
    from churnml.model.study import redacted, tune_worker

    _check_study_options(args)
    result = tune_worker(_data_or_mapping(args), storage=args.storage, study_name=args.study_name,
                         mapping=args.mapping, config=load_config(args.config),
                         trials=args.trials, worker=args.worker)
    trials = result.trials
    mine = trials[trials["worker"] == result.worker]
    done = trials[trials["state"] == "complete"]
    best = done.loc[done["value"].idxmax()]
    _say(f"worker {result.worker}: {len(mine)} trials in study {args.study_name!r} "
          f"({redacted(args.storage)}); the study has {len(trials)} trials, {len(done)} complete, "
          f"best fold AUC {best['value']:.4f} (trial {int(best['number'])})")
    _say(f"when every worker is done: churnml train --data {args.data} --storage "
          f"{redacted(args.storage)} --study-name {args.study_name} --trials 0")
    return 0


# --- score (issue 6) ----------------------------------------------------------------------
def _add_score(sub):
    p = sub.add_parser("score", help="score accounts at an as_of date, explain, and write CRM fields")
    p.add_argument("--model", default="models:/churnml@champion", type=_model_uri, help="model URI")
    p.add_argument("--data", type=_source, help="data folder or DuckDB file (default: the mapping's source)")
    p.add_argument("--mapping", type=_existing_file, help="YAML mapping onto the contract")
    p.add_argument("--as-of", required=True, type=_date, help="scoring date (YYYY-MM-DD)")
    p.add_argument("--out", required=True, type=_output_path,
                   help="scores Parquet file (a folder with --engine spark)")
    p.add_argument("--crm-preset", default="generic", choices=CRM_PRESETS, help="CRM field names (default generic)")
    p.add_argument("--crm-out", type=_output_file, help="CRM fields file (.csv or .parquet)")
    p.add_argument("--db", type=_database_url, help="SQLAlchemy URL to upsert CRM fields into")
    p.add_argument("--db-table", default="churn_risk", type=_identifier,
                   help="database table (one per CRM preset)")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--capacity", type=_positive_int, help="mark the N riskiest accounts red (per "
                   "as_of) instead of the tier thresholds")
    p.add_argument("--config", type=_existing_file, help="model config YAML whose scoring keys "
                   "(tiers, explanation_backend, capacity_per_csm, saveability) override the model's")
    p.add_argument("--plays", type=_existing_file, help="plays YAML: plays and their owners by "
                   "risk area, pair of areas and indicator (default: the packaged plays.yaml)")
    p.add_argument("--capacity-per-csm", type=_positive_int, help="accounts each CSM discusses "
                   "first, ranked by expected ARR at risk (default: the config's, 5)")
    p.add_argument("--force", action="store_true",
                   help="score even when the data differ from the training data in a refused way")
    p.add_argument("--lock-timeout", type=_seconds, default=600.0,
                   help="seconds to wait for another run writing the same --out (default 600)")
    _add_engine(p)
    p.set_defaults(handler=_cmd_score)


def _cmd_score(args) -> int:
    _local_output_file(args)
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.score(args)
    import pandas as pd

    from churnml.report.digest import red_digest
    from churnml.scoring.run import run_score

    manifest = run_score(
        args.model, _data_or_mapping(args), args.as_of, args.out, mapping=args.mapping,
        crm_preset=args.crm_preset, crm_out=args.crm_out, db=args.db, dry_run=args.dry_run,
        table=args.db_table, force=args.force, lock_timeout=args.lock_timeout,
        capacity=args.capacity, config=args.config, plays=args.plays,
        capacity_per_csm=args.capacity_per_csm, progress=not args.json,
    )
    if args.json:
        return _json(manifest)
    if not args.dry_run:
        _say()
        _say(red_digest(pd.read_parquet(args.out), warnings=manifest["warnings"]))
    return 0


# --- audit an existing health score (issue 16) ----------------------------------------------
def _add_audit(sub):
    p = sub.add_parser("audit", help="compare an existing health score with the model on the "
                       "model's out-of-time snapshots")
    p.add_argument("--health-score", required=True, type=_existing_file, help="the existing score: "
                   "CSV or Parquet with account_id, date and health_score (0-100) or health (red / "
                   "yellow / green)")
    p.add_argument("--model", default="models:/churnml@champion", type=_model_uri, help="model URI")
    p.add_argument("--data", type=_source, help="the data the model was trained on (default: the "
                   "mapping's source)")
    p.add_argument("--mapping", type=_existing_file, help="YAML mapping onto the contract")
    p.add_argument("--capacity", type=_positive_int, help="accounts the team works per scoring "
                   "date (default: the model config's capacity)")
    p.add_argument("--max-age-days", type=_positive_int, default=45, help="a health score older "
                   "than this at a snapshot counts as missing (default 45)")
    p.add_argument("--out", type=_output_file, help="write the audit as JSON (for churnml report "
                   "--audit)")
    p.set_defaults(handler=_cmd_audit)


def _cmd_audit(args) -> int:
    from churnml.audit import audit_health_score, write_audit

    audit = audit_health_score(args.health_score, _data_or_mapping(args), model=args.model,
                               mapping=args.mapping, capacity=args.capacity,
                               max_age_days=args.max_age_days)  # fmt: skip
    path = write_audit(audit, args.out) if args.out else None
    if args.json:
        return _json(audit.to_dict())
    _say(audit.format())
    if path is not None:
        _say(f"\nwrote {path}")
    return 0


# --- report (issue 7) ---------------------------------------------------------------------
def _add_report(sub):
    p = sub.add_parser("report", help="write the red-account meeting pack (self-contained HTML)")
    p.add_argument("--scores", required=True, type=_existing_file, help="scores Parquet file written by churnml score")
    p.add_argument("--data", type=_source, help="data folder or DuckDB file: adds CSM and contact "
                   "details (default: the mapping's source, when --mapping is given)")
    p.add_argument("--mapping", type=_existing_file,
                   help="YAML mapping onto the contract (reads contacts and CSMs)")
    p.add_argument("--out", required=True, type=_output_file, help="output HTML file")
    p.add_argument("--include-amber", action="store_true", help="add cards for amber accounts")
    p.add_argument("--audit", type=_existing_file, help="audit JSON written by churnml audit --out: "
                   "adds the existing health score beside the model")
    p.add_argument("--capacity-per-csm", type=_positive_int, help="rank each CSM's book again with "
                   "this capacity (default: the scoring run's)")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args) -> int:
    from churnml.report.digest import run_warnings
    from churnml.report.load import read_people, read_scores_bundle
    from churnml.report.render import render_report, write_report
    from churnml.scoring.score import add_account_details

    bundle = read_scores_bundle(args.scores)
    people = read_people(args.data, args.mapping) if args.data or args.mapping else {}
    notices = run_warnings((bundle["manifest"] or {}).get("warnings"))
    scores = add_account_details(bundle["scores"], people.get("accounts"))
    if people.get("accounts") is not None or args.capacity_per_csm:  # the CSMs may have changed
        from churnml.report.books import ranked

        books = (bundle["manifest"] or {}).get("books") or {}
        scores = ranked(scores, args.capacity_per_csm or books.get("capacity_per_csm") or 5)
    audit = None
    if args.audit:
        from churnml.audit import read_audit

        audit = read_audit(args.audit)
    html = render_report(
        scores,
        bundle["explanations"],
        bundle["history"],
        bundle["families"],
        contacts=people.get("contacts"),
        include_amber=args.include_amber,
        notices=notices,
        personas=bundle["personas"],
        changes=bundle["changes"],
        audit=audit,
    )
    path = write_report(args.out, html)
    missing = [kind for kind in ("explanations", "history", "families", "personas", "changes")
               if bundle[kind] is None]  # fmt: skip
    if args.json:
        return _json({"path": str(path), "bytes": len(html.encode()), "missing_sidecars": missing,
                      "warnings": notices})
    _say(f"wrote {path} ({len(html.encode()) / 1e6:.2f} MB)")
    for notice in notices:
        _say(f"warning: {notice}")
    if missing:
        _say(f"not available (sidecar files missing): {', '.join(missing)}")
    return 0


# --- argument types: checked while parsing, before anything slow ---------------------------
CRM_PRESETS = ("generic", "salesforce", "hubspot")
_URL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mssql", "oracle", "duckdb")


def _date(text: str):
    """A calendar date (YYYY-MM-DD); ``2025-13-45`` is refused while parsing."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-07-01") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, but got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 0, but got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds of at least 0, but got {text!r}")
    return value


def _identifier(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a table name (letters, digits and _, starting with a letter)")
    return text


def _existing_file(text: str) -> str:
    path = Path(text)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise argparse.ArgumentTypeError(f"{text} {what}")
    return text


def _source(text: str) -> str:
    """A folder, a DuckDB file or a database URL."""
    if "://" in text or Path(text).exists():
        return text
    raise argparse.ArgumentTypeError(f"{text} does not exist (give a folder of files, a DuckDB "
                                     f"file or a database URL)")


def _output_file(text: str) -> str:
    """A file path whose folder exists or can be created, and is not a folder itself."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {parent} is not a writable folder")
    return text


def _output_path(text: str) -> str:
    """A file or folder path inside a writable folder (that may still have to be created)."""
    path = Path(text)
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {parent} is not a writable folder")
    return text


def _model_uri(text: str) -> str:
    if text.startswith(("models:/", "runs:/")) or "://" in text or Path(text).exists():
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a model URI: use models:/NAME@ALIAS, models:/NAME/VERSION, "
        f"runs:/RUN_ID/model or a folder holding a saved model")


def _database_url(text: str) -> str:
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
    if scheme not in _URL_SCHEMES:
        raise argparse.ArgumentTypeError(
            f"{_hide_password(text)!r} is not a database URL such as sqlite:///crm.db or "
            f"postgresql+psycopg://user@host/db")
    return text


def _hide_password(url: str) -> str:
    """``postgresql://user:secret@host`` -> ``postgresql://user:***@host``."""
    import re

    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


# --- output -------------------------------------------------------------------------------
def _say(text: str = "") -> None:
    """Print a line for people (control characters in names and ids escaped)."""
    print(printable(text))


def _json(payload) -> int:
    """Print ``payload`` as one JSON document for schedulers; returns exit code 0."""
    print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    return 0


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the sub-command (``churnml --json score ...`` and
    ``churnml score ... --json``)."""
    common = argparse.ArgumentParser(add_help=False,
                                     argument_default=None if defaults else argparse.SUPPRESS)
    common.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also CHURNML_DEBUG=1)")
    common.add_argument("--json", action="store_true",
                        help="print a machine-readable summary (JSON) on standard output")
    loud = common.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true", help="only errors on standard error")
    loud.add_argument("-v", "--verbose", action="store_true", help="more detail, and library warnings")
    if defaults:
        common.set_defaults(debug=False, json=False, quiet=False, verbose=False)
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="churnml",
        description="Renewal-risk toolkit for B2B SaaS customer success.",
        parents=[_common_options(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"churnml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    original = sub.add_parser

    def add_parser(name, **kwargs):  # every sub-command also takes the common options
        return original(name, parents=[_common_options(defaults=False)], **kwargs)

    sub.add_parser = add_parser
    for add in (_add_generate, _add_validate, _add_features, _add_train, _add_tune, _add_score,
                _add_audit, _add_report, _add_init):  # fmt: skip
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from churnml.console import configure, describe_error

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version (0) or a usage error (2), already printed
        return done.code if isinstance(done.code, int) else 2
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    debug = args.debug or os.environ.get("CHURNML_DEBUG", "") not in ("", "0")
    try:
        with configure(quiet=args.quiet, verbose=args.verbose):
            return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `churnml score ... | head`
        sys.stderr.close()
        return 1
    except Exception as error:  # noqa: BLE001 - the one handler: a message, not a traceback
        if debug:
            raise
        code, lines = describe_error(error)
        print(f"churnml {args.command}: error: {printable(lines[0])}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {printable(line)}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
