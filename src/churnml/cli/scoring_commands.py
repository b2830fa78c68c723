"""``score``, ``audit`` (an existing health score against the model) and ``report``."""

from __future__ import annotations

from churnml.cli import arguments
from churnml.cli.arguments import add_engine, data_or_mapping, local_output_file
from churnml.cli.output import print_json, say


# --- score (issue 6) ----------------------------------------------------------------------
def add_score(sub):
    p = sub.add_parser(
        "score", help="score accounts at an as_of date, explain, and write CRM fields"
    )
    p.add_argument(
        "--model", default="models:/churnml@champion", type=arguments.model_uri, help="model URI"
    )
    arguments.add_data_source(p)
    p.add_argument("--as-of", required=True, type=arguments.date, help="scoring date (YYYY-MM-DD)")
    p.add_argument(
        "--out",
        required=True,
        type=arguments.output_path,
        help="scores Parquet file (a folder with --engine spark)",
    )
    p.add_argument(
        "--crm-preset",
        default="generic",
        choices=arguments.CRM_PRESETS,
        help="CRM field names (default generic)",
    )
    p.add_argument(
        "--crm-out", type=arguments.output_file, help="CRM fields file (.csv or .parquet)"
    )
    p.add_argument(
        "--db", type=arguments.database_url, help="SQLAlchemy URL to upsert CRM fields into"
    )
    p.add_argument(
        "--db-table",
        default="churn_risk",
        type=arguments.identifier,
        help="database table (one per CRM preset)",
    )
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument(
        "--capacity",
        type=arguments.positive_int,
        help="mark the N riskiest accounts red (per as_of) instead of the tier thresholds",
    )
    p.add_argument(
        "--config",
        type=arguments.existing_file,
        help="model config YAML whose scoring keys "
        "(tiers, explanation_backend, capacity_per_csm, saveability) override the model's",
    )
    p.add_argument(
        "--plays",
        type=arguments.existing_file,
        help="plays YAML: plays and their owners by "
        "risk area, pair of areas and indicator (default: the packaged plays.yaml)",
    )
    p.add_argument(
        "--capacity-per-csm",
        type=arguments.positive_int,
        help="accounts each CSM discusses "
        "first, ranked by expected ARR at risk (default: the config's, 5)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="score even when the data differ from the training data in a refused way",
    )
    p.add_argument(
        "--lock-timeout",
        type=arguments.seconds,
        default=600.0,
        help="seconds to wait for another run writing the same --out (default 600)",
    )
    add_engine(p)
    p.set_defaults(handler=_cmd_score)


def _cmd_score(args) -> int:
    local_output_file(args)
    if args.engine == "spark":
        from churnml.spark import commands

        return commands.score(args)
    import pandas as pd

    from churnml.report.digest import red_digest
    from churnml.scoring.run import run_score

    manifest = run_score(
        args.model,
        data_or_mapping(args),
        args.as_of,
        args.out,
        mapping=args.mapping,
        crm_preset=args.crm_preset,
        crm_out=args.crm_out,
        db=args.db,
        dry_run=args.dry_run,
        table=args.db_table,
        force=args.force,
        lock_timeout=args.lock_timeout,
        capacity=args.capacity,
        config=args.config,
        plays=args.plays,
        capacity_per_csm=args.capacity_per_csm,
        progress=not args.json,
    )
    if args.json:
        return print_json(manifest)
    if not args.dry_run:
        say()
        say(red_digest(pd.read_parquet(args.out), warnings=manifest["warnings"]))
    return 0


# --- audit an existing health score (issue 16) ----------------------------------------------
def add_audit(sub):
    p = sub.add_parser(
        "audit",
        help="compare an existing health score with the model on the model's out-of-time snapshots",
    )
    p.add_argument(
        "--health-score",
        required=True,
        type=arguments.existing_file,
        help="the existing score: "
        "CSV or Parquet with account_id, date and health_score (0-100) or health (red / "
        "yellow / green)",
    )
    p.add_argument(
        "--model", default="models:/churnml@champion", type=arguments.model_uri, help="model URI"
    )
    p.add_argument(
        "--data",
        type=arguments.source,
        help="the data the model was trained on (default: the mapping's source)",
    )
    p.add_argument("--mapping", type=arguments.existing_file, help="YAML mapping onto the contract")
    p.add_argument(
        "--capacity",
        type=arguments.positive_int,
        help="accounts the team works per scoring date (default: the model config's capacity)",
    )
    p.add_argument(
        "--max-age-days",
        type=arguments.positive_int,
        default=45,
        help="a health score older than this at a snapshot counts as missing (default 45)",
    )
    p.add_argument(
        "--out",
        type=arguments.output_file,
        help="write the audit as JSON (for churnml report --audit)",
    )
    p.set_defaults(handler=_cmd_audit)


def _cmd_audit(args) -> int:
    from churnml.audit import audit_health_score, write_audit

    audit = audit_health_score(args.health_score, data_or_mapping(args), model=args.model,
                               mapping=args.mapping, capacity=args.capacity,
                               max_age_days=args.max_age_days)  # fmt: skip
    path = write_audit(audit, args.out) if args.out else None
    if args.json:
        return print_json(audit.to_dict())
    say(audit.format())
    if path is not None:
        say(f"\nwrote {path}")
    return 0


# --- report (issue 7) ---------------------------------------------------------------------
def add_report(sub):
    p = sub.add_parser("report", help="write the red-account meeting pack (self-contained HTML)")
    p.add_argument(
        "--scores",
        required=True,
        type=arguments.existing_file,
        help="scores Parquet file written by churnml score",
    )
    p.add_argument(
        "--data",
        type=arguments.source,
        help="data folder or DuckDB file: adds CSM and contact "
        "details (default: the mapping's source, when --mapping is given)",
    )
    p.add_argument(
        "--mapping",
        type=arguments.existing_file,
        help="YAML mapping onto the contract (reads contacts and CSMs)",
    )
    p.add_argument("--out", required=True, type=arguments.output_file, help="output HTML file")
    p.add_argument("--include-amber", action="store_true", help="add cards for amber accounts")
    p.add_argument(
        "--audit",
        type=arguments.existing_file,
        help="audit JSON written by churnml audit --out: "
        "adds the existing health score beside the model",
    )
    p.add_argument(
        "--capacity-per-csm",
        type=arguments.positive_int,
        help="rank each CSM's book again with this capacity (default: the scoring run's)",
    )
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
        return print_json(
            {
                "path": str(path),
                "bytes": len(html.encode()),
                "missing_sidecars": missing,
                "warnings": notices,
            }
        )
    say(f"wrote {path} ({len(html.encode()) / 1e6:.2f} MB)")
    for notice in notices:
        say(f"warning: {notice}")
    if missing:
        say(f"not available (sidecar files missing): {', '.join(missing)}")
    return 0
