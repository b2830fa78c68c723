"""How the ``churnml`` command talks to a terminal or a scheduler's log.

- :func:`configure` sets up ``logging`` (``--quiet`` / ``--verbose``) and shows churnml's own
  warnings as one ``warning:`` line each, without file names or source lines;
- :func:`printable` escapes control characters, so an account name holding an escape sequence or a
  carriage return cannot rewrite the terminal or forge log lines;
- :func:`describe_error` turns an exception into an exit code and one or two lines that say what
  is wrong and what to do: a user's mistake never shows a traceback (``--debug`` does).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import warnings
from pathlib import Path

__all__ = ["configure", "describe_error", "printable"]

log = logging.getLogger("churnml")

#: C0 controls except newline, DEL and the C1 controls (ESC sequences, CR, backspace, ...)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_PACKAGE = str(Path(__file__).resolve().parent)
#: lines of an error message shown without --debug (a data-quality report lists one per problem)
MAX_LINES = 12


def printable(text) -> str:
    r"""``text`` with control characters shown as escapes (``\x1b``), newlines kept.

    Examples
    --------
    >>> printable("Acme\x1b[2J Corp\r")
    'Acme\\x1b[2J Corp\\x0d'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


@contextlib.contextmanager
def configure(*, quiet: bool = False, verbose: bool = False):
    """Within the block: logging to standard error at WARNING (``quiet``: ERROR, ``verbose``:
    INFO), churnml's warnings as one ``warning: ...`` line each (no file name, no source line),
    other libraries' warnings only with ``verbose``, none with ``quiet``; everything is restored
    afterwards (``main`` may run inside a notebook or a test that records warnings)."""
    from churnml import progress

    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    saved = (log.handlers[:], log.level, log.propagate, warnings.formatwarning)
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False

    def one_line(message, category, filename, lineno, line=None):
        ours = str(Path(filename).resolve()).startswith(_PACKAGE)
        return f"warning: {printable(message)}\n" if ours or verbose else ""

    progress.set_quiet(quiet)
    try:
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            warnings.formatwarning = one_line
            yield
    finally:
        log.handlers[:], level, log.propagate, warnings.formatwarning = saved
        log.setLevel(level)
        progress.set_quiet(False)


class _Formatter(logging.Formatter):
    def format(self, record):
        text = printable(record.getMessage())
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        if record.levelno >= logging.WARNING:
            return f"warning: {text}"
        return text


def _first_lines(text: str, limit: int = MAX_LINES) -> list[str]:
    lines = [line.rstrip() for line in str(text).strip().splitlines() if line.strip()]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more lines; --debug shows all)"]
    return lines or ["(no message)"]


def _library_error(exc: BaseException) -> tuple[str, str | None] | None:
    """(message, hint) for errors of the libraries churnml drives, or None."""
    kind = f"{type(exc).__module__}.{type(exc).__name__}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if kind.startswith("mlflow."):
        return (f"MLflow: {first}",
                "check the model URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model or "
                "a folder) and MLFLOW_TRACKING_URI")
    if kind.startswith("sqlalchemy.") or kind.startswith("psycopg"):
        return (f"database: {first}", "check the database URL, that the server is running and "
                                      "that the user may connect")
    if kind.startswith("pyarrow."):
        return (f"cannot read a file: {first}",
                "the file may be truncated or not Parquet; write it again or point at another one")
    if kind.startswith("_duckdb.") or kind.startswith("duckdb."):
        return f"DuckDB: {first}", None
    if kind.startswith("yaml."):
        return f"not valid YAML: {first}", None
    return None


def describe_error(exc: BaseException) -> tuple[int, list[str]]:
    """Exit code and the lines to print for an exception that ended a command.

    A :class:`~churnml.errors.UsageError` exits 2; data, file, model and connection problems exit
    1; anything else is reported as an internal error (exit 1) with a hint to rerun with
    ``--debug``.
    """
    from churnml.errors import ChurnmlError

    if isinstance(exc, ChurnmlError):
        lines = _first_lines(str(exc))
        if exc.hint:
            lines.append(f"hint: {exc.hint}")
        return exc.exit_code, lines
    library = _library_error(exc)
    if library is not None:
        message, hint = library
        return 1, [message] + ([f"hint: {hint}"] if hint else [])
    if isinstance(exc, FileNotFoundError):
        name = exc.filename or str(exc)
        return 1, [f"not found: {name}" if exc.filename else str(exc)]
    if isinstance(exc, PermissionError):
        return 1, [f"permission denied: {exc.filename or exc}",
                   "hint: check the file's owner and mode, or run as a user that may read it"]
    if isinstance(exc, (ValueError, LookupError, OSError)):
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        return 1, _first_lines(text)
    return 1, [f"internal error: {type(exc).__name__}: {_first_lines(str(exc), 1)[0]}",
               "hint: this looks like a bug in churnml; rerun with --debug for the traceback "
               "and report it"]
