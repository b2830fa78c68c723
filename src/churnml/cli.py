"""The ``churnml`` command: a thin shell over the public API.

Every sub-command parses its arguments, calls the same functions a notebook would, and
prints tidy frames. Heavy libraries are imported inside the handlers so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys


def _add_engine(p):
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                   help="duckdb (this machine, default) or spark (account buckets on a cluster)")
    p.add_argument("--spark-master", help="Spark master URL for --engine spark (default: the "
                   "spark-submit session, else local[*])")


def _add_generate(sub):
    p = sub.add_parser("generate", help="write synthetic SaaS customer data (Parquet, one file per table)")
    p.add_argument("--accounts", type=int, default=2000, help="number of accounts (default 2000)")
    p.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--churn-rate", type=float, default=None, help="target renewal churn rate (default ~0.12)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(handler=_cmd_generate)


def _cmd_generate(args) -> int:
    from churnml.data.load import write_tables
    from churnml.data.synthetic import make_saas

    kwargs = {} if args.churn_rate is None else {"churn_rate": args.churn_rate}
    tables = make_saas(n_accounts=args.accounts, months=args.months, seed=args.seed, **kwargs)
    paths = write_tables(tables, args.out)
    for name, path in paths.items():
        print(f"{name:<10} {len(tables[name]):>12,} rows  {path}")
    return 0


def _add_validate(sub):
    p = sub.add_parser("validate", help="check a data folder against the Customer 360 contract")
    p.add_argument("data", help="folder of Parquet/CSV files, a DuckDB file, or a mapping's source")
    p.add_argument("--mapping", help="YAML mapping of your tables and columns onto the contract")
    p.set_defaults(handler=_cmd_validate)


def _cmd_validate(args) -> int:
    from churnml.data.load import load_tables
    from churnml.data.validate import format_report, validate

    tables = load_tables(args.data, mapping=args.mapping, validate=False)
    report = validate(tables, raise_on_fatal=False)
    print(format_report(report))
    return 1 if (report["severity"] == "fatal").any() else 0


# --- features (issue 4) -------------------------------------------------------------------
def _add_features(sub):
    p = sub.add_parser("features", help="build point-in-time indicators for account x as_of snapshots")
    p.add_argument("--data", required=True, help="data folder, DuckDB file, or mapping source")
    p.add_argument("--mapping", help="YAML mapping onto the contract")
    p.add_argument("--as-of", help="one as_of date, or the last date of a cadence (YYYY-MM-DD)")
    p.add_argument("--start", help="first as_of date of a cadence")
    p.add_argument("--cadence", default="monthly", help="as_of cadence between --start and --as-of")
    p.add_argument("--horizon-days", type=int, default=180, help="renewals within this many days")
    p.add_argument("--out", required=True, help="output Parquet file (a folder with --engine spark)")
    _add_engine(p)
    p.set_defaults(handler=_cmd_features)


def _cmd_features(args) -> int:
    import pandas as pd

    from churnml.data.atomic import write_parquet
    from churnml.data.load import load_tables
    from churnml.features.engine import build_features, feature_columns
    from churnml.features.report import indicator_report
    from churnml.snapshots import make_spine

    if not (args.as_of or args.start):
        raise SystemExit("features: give --as-of DATE (one snapshot) or --start and --as-of (a cadence)")
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.features(args)
    tables = load_tables(args.data, mapping=args.mapping)
    when = {"start": args.start, "end": args.as_of, "cadence": args.cadence} if args.start else {}
    spine = make_spine(
        tables, as_of=None if args.start else pd.Timestamp(args.as_of),
        horizon_days=args.horizon_days, **when,
    )
    features = build_features(tables, spine, progress=True)
    path = write_parquet(features, args.out)
    indicators = feature_columns(features)
    print(f"wrote {path}: {len(features):,} snapshot rows x {len(indicators)} indicators "
          f"({features['as_of'].nunique()} as_of dates, {features['label'].notna().sum():,} resolved)")
    for indicator, reason in features.attrs.get("skipped", {}).items():
        print(f"skipped {indicator}: {reason}")
    if features["label"].notna().sum() and features["label"].nunique() > 1:
        report = indicator_report(features, spine).head(12)
        shown = report[["indicator", "family", "coverage", "auc", "risk_when", "decile_1",
                        "decile_10", "leakage"]].rename(
            columns={"decile_1": "churn_low_decile", "decile_10": "churn_high_decile"})
        print("\nindicator report, top 12 by univariate AUC (churn rate in the lowest and highest decile):")
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


# --- train (issue 5) ----------------------------------------------------------------------
def _add_train(sub):
    p = sub.add_parser("train", help="tune, fit, calibrate, evaluate and register the renewal-risk model")
    p.add_argument("--data", required=True, help="data folder, DuckDB file, or mapping source")
    p.add_argument("--mapping", help="YAML mapping onto the contract")
    p.add_argument("--config", help="model config YAML (default: models/default.yaml)")
    p.add_argument("--trials", type=int, help="Optuna trial budget (overrides the config)")
    _add_engine(p)
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args) -> int:
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.train(args)
    from churnml.model.config import load_config
    from churnml.model.training import train

    config = load_config(args.config)
    result = train(args.data, config=config, trials=args.trials, mapping=args.mapping)
    print(result.summary())
    return 0


# --- score (issue 6) ----------------------------------------------------------------------
def _add_score(sub):
    p = sub.add_parser("score", help="score accounts at an as_of date, explain, and write CRM fields")
    p.add_argument("--model", default="models:/churnml@champion", help="model URI")
    p.add_argument("--data", required=True, help="data folder, DuckDB file, or mapping source")
    p.add_argument("--mapping", help="YAML mapping onto the contract")
    p.add_argument("--as-of", required=True, help="scoring date (YYYY-MM-DD)")
    p.add_argument("--out", required=True, help="scores Parquet file")
    p.add_argument("--crm-preset", default="generic", help="generic, salesforce or hubspot")
    p.add_argument("--crm-out", help="CRM fields file (.csv or .parquet)")
    p.add_argument("--db", help="SQLAlchemy URL to upsert CRM fields into")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    _add_engine(p)
    p.set_defaults(handler=_cmd_score)


def _cmd_score(args) -> int:
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.score(args)
    import pandas as pd

    from churnml.report.digest import red_digest
    from churnml.scoring.run import run_score

    run_score(
        args.model, args.data, args.as_of, args.out, mapping=args.mapping,
        crm_preset=args.crm_preset, crm_out=args.crm_out, db=args.db, dry_run=args.dry_run,
    )
    if not args.dry_run:
        print()
        print(red_digest(pd.read_parquet(args.out)))
    return 0


# --- report (issue 7) ---------------------------------------------------------------------
def _add_report(sub):
    p = sub.add_parser("report", help="write the red-account meeting pack (self-contained HTML)")
    p.add_argument("--scores", required=True, help="scores Parquet file written by churnml score")
    p.add_argument("--data", help="data folder (adds CSM and contact details)")
    p.add_argument("--out", required=True, help="output HTML file")
    p.add_argument("--include-amber", action="store_true", help="add cards for amber accounts")
    p.set_defaults(handler=_cmd_report)


def _cmd_report(args) -> int:
    from churnml.report.load import read_contacts, read_scores_bundle
    from churnml.report.render import render_report, write_report

    bundle = read_scores_bundle(args.scores)
    contacts = read_contacts(args.data) if args.data else None
    html = render_report(
        bundle["scores"],
        bundle["explanations"],
        bundle["history"],
        bundle["families"],
        contacts=contacts,
        include_amber=args.include_amber,
    )
    path = write_report(args.out, html)
    missing = [kind for kind in ("explanations", "history", "families") if bundle[kind] is None]
    print(f"wrote {path} ({len(html.encode()) / 1e6:.2f} MB)")
    if missing:
        print(f"not available (sidecar files missing): {', '.join(missing)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="churnml",
        description="Renewal-risk toolkit for B2B SaaS customer success.",
    )
    parser.add_argument("--version", action="version", version="churnml 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_generate, _add_validate, _add_features, _add_train, _add_score, _add_report):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
