"""``generate``, ``validate``, ``init`` and ``features``: the data side of the command."""

from __future__ import annotations

from churnml.cli import arguments
from churnml.cli.arguments import add_engine, data_or_mapping, hide_password, local_output_file
from churnml.cli.output import print_json, say
from churnml.errors import UsageError


def add_generate(sub):
    p = sub.add_parser(
        "generate", help="write synthetic SaaS customer data (Parquet, one file per table)"
    )
    p.add_argument("--accounts", type=int, default=2000, help="number of accounts (default 2000)")
    p.add_argument("--months", type=int, default=24, help="months of history (default 24)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--churn-rate", type=float, default=None, help="target renewal churn rate (default ~0.12)"
    )
    p.add_argument(
        "--export",
        choices=["subscriptions", "salesforce", "hubspot"],
        help="write a foreign-shaped export instead: subscriptions (a billing export "
        "with its mapping.yaml), or a vendor set: salesforce / hubspot with stripe, "
        "zendesk, segment and delighted, one sub-folder per system (map it with init; "
        "--out may be a postgresql:// URL: one schema per system)",
    )
    p.add_argument(
        "--health-score",
        action="store_true",
        help="also write health_scores.parquet: a "
        "vendor-style health score per account and month (for churnml audit)",
    )
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
            return print_json(rows)
        for name, count in rows.items():
            say(f"{name:<34} {count:>12,} rows")
        say(f"next: churnml init {hide_password(args.out)}")
        return 0
    if args.export:
        from churnml.data.synthetic.export import write_export

        return write_export(tables, args.out, seed=args.seed)
    paths = write_tables(tables, args.out)
    if args.json:
        return print_json(
            {name: {"rows": len(tables[name]), "path": str(path)} for name, path in paths.items()}
        )
    for name, path in paths.items():
        say(f"{name:<10} {len(tables[name]):>12,} rows  {path}")
    return 0


def add_validate(sub):
    p = sub.add_parser("validate", help="check a data folder against the Customer 360 contract")
    p.add_argument(
        "data",
        nargs="?",
        type=arguments.source,
        help="folder of Parquet/CSV files or a DuckDB file (default: the mapping's source)",
    )
    p.add_argument(
        "--mapping",
        type=arguments.existing_file,
        help="YAML mapping of your tables and columns onto the contract",
    )
    p.add_argument(
        "--preview",
        action="store_true",
        help="print the first rows of each mapped contract table first",
    )
    p.set_defaults(handler=_cmd_validate)


def _cmd_validate(args) -> int:
    from churnml.data.load import open_tables
    from churnml.data.validate import format_report, validate
    from churnml.label_report import audit_tables

    tables = open_tables(data_or_mapping(args), mapping=args.mapping, validate=False)
    if args.preview and not args.json:
        from churnml.data.mapping import read_mapping
        from churnml.sources.preview import preview_tables

        say(preview_tables(tables, read_mapping(args.mapping) if args.mapping else None) + "\n")
    report = validate(tables, raise_on_fatal=False)
    fatal = bool((report["severity"] == "fatal").any())
    audit = None if fatal else audit_tables(tables)
    if args.json:
        print_json(
            {
                "fatal": int((report["severity"] == "fatal").sum()),
                "findings": report.astype(str).to_dict("records"),
                "labels": None if audit is None else {k: str(v) for k, v in audit.summary.items()},
            }
        )
    else:
        say(format_report(report))
        if audit is not None:
            say("\n" + audit.format())
    return 1 if fatal else 0


# --- init: a mapping proposed from a source's tables (issue 13) ----------------------------
def add_init(sub):
    p = sub.add_parser(
        "init",
        help="recognise the presets in a folder of exports (or a database) "
        "and write a commented mapping to finish by hand",
    )
    p.add_argument(
        "source",
        type=arguments.source,
        help="folder of exports (sub-folders are schemas), DuckDB file or database URL",
    )
    p.add_argument(
        "--out",
        type=arguments.output_file,
        help="mapping file to write (default: "
        "SOURCE/mapping.yaml, or ./mapping.yaml for a database URL)",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(handler=_cmd_init)


def _cmd_init(args) -> int:
    from churnml.sources.init import init_mapping

    result = init_mapping(args.source, args.out, force=args.force)
    if args.json:
        return print_json(
            {"path": str(result.path), "tables": result.tables, "todos": result.todos}
        )
    say(f"wrote {result.path}: " + ", ".join(f"{t} ({p})" for t, p in result.tables.items()))
    say(
        f"{result.todos} TODO lines need a human; then: churnml validate --mapping "
        f"{result.path} --preview"
    )
    return 0


# --- features (issue 4) -------------------------------------------------------------------
def add_features(sub):
    p = sub.add_parser(
        "features", help="build point-in-time indicators for account x as_of snapshots"
    )
    arguments.add_data_source(p)
    p.add_argument(
        "--as-of",
        type=arguments.date,
        help="one as_of date, or the last date of a cadence (YYYY-MM-DD)",
    )
    p.add_argument("--start", type=arguments.date, help="first as_of date of a cadence")
    p.add_argument("--cadence", default="monthly", help="as_of cadence between --start and --as-of")
    p.add_argument(
        "--horizon-days",
        type=arguments.positive_int,
        default=180,
        help="renewals within this many days",
    )
    p.add_argument(
        "--label",
        default="auto",
        choices=["auto", "renewal", "window"],
        help="label definition (default auto: renewal when contracts carry outcomes)",
    )
    p.add_argument(
        "--out",
        required=True,
        type=arguments.output_path,
        help="output Parquet file (a folder with --engine spark)",
    )
    add_engine(p)
    p.set_defaults(handler=_cmd_features)


def _cmd_features(args) -> int:
    import pandas as pd

    from churnml.data.atomic import write_parquet
    from churnml.data.load import open_tables
    from churnml.features.engine import build_features, feature_columns
    from churnml.features.report import indicator_report
    from churnml.snapshots import make_spine

    if not (args.as_of or args.start):
        raise UsageError(
            "features: give --as-of DATE (one snapshot) or --start and --as-of (a cadence)"
        )
    local_output_file(args)
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.features(args)
    tables = open_tables(data_or_mapping(args), mapping=args.mapping)
    when = {"start": args.start, "end": args.as_of, "cadence": args.cadence} if args.start else {}
    spine = make_spine(
        tables,
        as_of=None if args.start else pd.Timestamp(args.as_of),
        horizon_days=args.horizon_days,
        label=args.label,
        **when,
    )
    features = build_features(tables, spine, progress=True)
    path = write_parquet(features, args.out)
    indicators = feature_columns(features)
    if args.json:
        return print_json(
            {
                "path": str(path),
                "rows": len(features),
                "indicators": len(indicators),
                "as_of_dates": int(features["as_of"].nunique()),
                "resolved": int(features["label"].notna().sum()),
                "skipped": dict(features.attrs.get("skipped", {})),
            }
        )
    say(
        f"wrote {path}: {len(features):,} snapshot rows x {len(indicators)} indicators "
        f"({features['as_of'].nunique()} as_of dates, {features['label'].notna().sum():,} resolved)"
    )
    skipped = features.attrs.get("skipped", {})
    if skipped:  # each is listed once, with its reason, as the features are built
        say(f"{len(skipped)} indicators skipped: the tables lack columns they read (listed above)")
    from churnml.label_report import label_audit

    say("\n" + label_audit(spine).format())
    if features["label"].notna().sum() and features["label"].nunique() > 1:
        import warnings

        with warnings.catch_warnings():  # its leak warnings are printed below, with the calendar's
            warnings.filterwarnings("ignore", message=".*separates churned from retained")
            report = indicator_report(features, spine).head(12)
        shown = report[
            [
                "indicator",
                "family",
                "coverage",
                "auc",
                "risk_when",
                "decile_1",
                "decile_10",
                "leakage",
            ]
        ].rename(columns={"decile_1": "churn_low_decile", "decile_10": "churn_high_decile"})
        say(
            "\nindicator report, top 12 by univariate AUC (churn rate in the lowest and highest decile):"
        )
        say(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        from churnml.features.leakage import describe_leaks, leakage_report

        say("\n" + "\n".join(describe_leaks(leakage_report(features, tables))))
    return 0
