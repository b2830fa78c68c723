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
import os
import sys

from churnml import __version__
from churnml.cli import data_commands as data
from churnml.cli import model_commands as model
from churnml.cli import scoring_commands as scoring
from churnml.console import printable


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the sub-command (``churnml --json score ...`` and
    ``churnml score ... --json``)."""
    common = argparse.ArgumentParser(
        add_help=False, argument_default=None if defaults else argparse.SUPPRESS
    )
    common.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (also CHURNML_DEBUG=1)"
    )
    common.add_argument(
        "--json",
        action="store_true",
        help="print a machine-readable summary (JSON) on standard output",
    )
    loud = common.add_mutually_exclusive_group()
    loud.add_argument("-q", "--quiet", action="store_true", help="only errors on standard error")
    loud.add_argument(
        "-v", "--verbose", action="store_true", help="more detail, and library warnings"
    )
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
    for add in (data.add_generate, data.add_validate, data.add_features, model.add_train,
                model.add_tune, scoring.add_score, scoring.add_audit, scoring.add_report,
                data.add_init):  # fmt: skip
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


def run() -> None:
    """The ``churnml`` command: :func:`main` on the command line, then exit with its code.

    Before the exit every object is moved out of the garbage collector's sight
    (:func:`gc.freeze`): the interpreter's shutdown would otherwise walk the whole heap of MLflow,
    pandas and LightGBM objects in several collections (0.8 s after ``churnml train``) only to
    free memory the process hands back to the system anyway. Files and connections are closed
    by then; their objects are still freed as the modules are torn down.
    """
    import gc

    code = main()
    gc.freeze()
    sys.exit(code)

