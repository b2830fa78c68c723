"""The ``churnml`` command: a thin shell over the public API.

Every sub-command parses its arguments, calls the same functions a notebook would, and
prints tidy frames. Heavy libraries are imported inside the handlers so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="churnml",
        description="Renewal-risk toolkit for B2B SaaS customer success.",
    )
    parser.add_argument("--version", action="version", version="churnml 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_generate, _add_validate):
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
