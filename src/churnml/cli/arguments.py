"""Argument types checked while parsing, before anything slow, and the options several
commands share (engine, data or mapping)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from churnml.errors import UsageError

CRM_PRESETS = ("generic", "salesforce", "hubspot")
_URL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mssql", "oracle", "duckdb")


def date(text: str):
    """A calendar date (YYYY-MM-DD); ``2025-13-45`` is refused while parsing."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-07-01"
        ) from None


def whole(minimum: int):
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be a whole number of at least {minimum}, but got {text!r}"
            )
        return value

    return parse


positive_int, count = whole(1), whole(0)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds of at least 0, but got {text!r}"
        )
    return value


def identifier(text: str) -> str:
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a table name (letters, digits and _, starting with a letter)"
        )
    return text


def existing_file(text: str) -> str:
    path = Path(text)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise argparse.ArgumentTypeError(f"{text} {what}")
    return text


def source(text: str) -> str:
    """A folder, a DuckDB file or a database URL."""
    if "://" in text or Path(text).exists():
        return text
    raise argparse.ArgumentTypeError(
        f"{text} does not exist (give a folder of files, a DuckDB file or a database URL)"
    )


def output_file(text: str) -> str:
    """A file path whose folder exists or can be created, and is not a folder itself."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {parent} is not a writable folder")
    return text


def output_path(text: str) -> str:
    """A file or folder path inside a writable folder (that may still have to be created)."""
    path = Path(text)
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write {text}: {parent} is not a writable folder")
    return text


def model_uri(text: str) -> str:
    if text.startswith(("models:/", "runs:/")) or "://" in text or Path(text).exists():
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a model URI: use models:/NAME@ALIAS, models:/NAME/VERSION, "
        f"runs:/RUN_ID/model or a folder holding a saved model"
    )


def database_url(text: str) -> str:
    scheme = text.split("://", 1)[0].split("+", 1)[0].lower() if "://" in text else ""
    if scheme not in _URL_SCHEMES:
        raise argparse.ArgumentTypeError(
            f"{hide_password(text)!r} is not a database URL such as sqlite:///crm.db or "
            f"postgresql+psycopg://user@host/db"
        )
    return text


def hide_password(url: str) -> str:
    """``postgresql://user:secret@host`` -> ``postgresql://user:***@host``."""
    import re

    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


# --- options several commands share ----------------------------------------------------------
def add_data_source(p):
    """``--data`` (a folder, DuckDB file or database URL) and ``--mapping``."""
    p.add_argument(
        "--data",
        type=source,
        help="data folder or DuckDB file (default: the mapping's source)",
    )
    p.add_argument("--mapping", type=existing_file, help="YAML mapping onto the contract")


def add_engine(p):
    p.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="duckdb (this machine, default) or spark (account buckets on a cluster)",
    )
    p.add_argument(
        "--spark-master",
        help="Spark master URL for --engine spark (default: the "
        "spark-submit session, else local[*])",
    )


def local_output_file(args) -> None:
    """The local engine writes one file: ``--out`` must not be a folder (Spark writes a folder)."""
    if args.engine != "spark" and Path(args.out).is_dir():
        raise UsageError(
            f"{args.command}: --out {args.out} is a folder; give a file name "
            f"(a folder is for --engine spark)"
        )


def data_or_mapping(args):
    """``--data`` (or the positional data), which may be left out when ``--mapping`` names a
    ``source:`` (``load_tables`` reads it from the mapping then)."""
    if args.data is None and args.mapping is None:
        raise UsageError(
            f"{args.command}: give --data (a folder or DuckDB file) or --mapping with a source:"
        )
    return args.data
