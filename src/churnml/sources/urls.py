"""Database URLs as sources: recognise them, fill in credentials from the environment, hide them.

A source is a database when it is a SQLAlchemy-style URL (``postgresql://user@host:5432/db``,
``postgresql+psycopg://...``, ``mysql+pymysql://...``, ``sqlite:///file.db``). Credentials come
from the URL itself or from environment variables: ``${NAME}`` anywhere in the URL is replaced by
the variable's value when the source is opened (so a mapping file can say
``source: postgresql://churn:${PGPASSWORD}@db/warehouse`` and hold no secret), and PostgreSQL's own
``PGPASSWORD`` / ``PGPASSFILE`` / ``PGUSER`` are honoured by the driver when the URL leaves them
out. Every URL churnml prints, logs or records goes through :func:`redact` first.
"""

from __future__ import annotations

import os
import re

from churnml.errors import ChurnmlError

__all__ = ["expand_env", "is_database_url", "redact"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: ``user:password@`` in the authority part of a URL
_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/@:]*):[^@/]*@")
#: query parameters that carry secrets (``?password=...``)
_SECRET_PARAMS = re.compile(r"([?&](?:password|passwd|pwd|secret|token|sslpassword)=)[^&]*", re.IGNORECASE)


def is_database_url(source) -> bool:
    """Whether ``source`` is a database URL (``scheme://...``) rather than a path or a dict.

    Examples
    --------
    >>> is_database_url("postgresql://churn@db:5432/warehouse")
    True
    >>> is_database_url("./export")
    False
    """
    return isinstance(source, str) and bool(_SCHEME.match(source.strip()))


def expand_env(url: str, where: str = "source") -> str:
    """``url`` with every ``${NAME}`` replaced by the environment variable ``NAME``.

    Raises
    ------
    ChurnmlError
        A variable is not set (named, never its value).

    Examples
    --------
    >>> import os; os.environ["CHURNML_DOC_PW"] = "s3cret"
    >>> redact(expand_env("postgresql://churn:${CHURNML_DOC_PW}@db/warehouse"))
    'postgresql://churn:***@db/warehouse'
    """
    missing = [name for name in _VARIABLE.findall(url) if name not in os.environ]
    if missing:
        raise ChurnmlError(
            f"{where}: the database URL names environment variable(s) {missing} that are not set",
            hint="export them before running churnml (e.g. export PGPASSWORD=...), or leave the "
            "password out of the URL and let the driver read PGPASSWORD or ~/.pgpass",
        )
    return _VARIABLE.sub(lambda m: os.environ[m.group(1)], url)


def redact(url) -> str:
    """``url`` with its password (and secret query parameters) replaced by ``***``.

    Examples
    --------
    >>> redact("postgresql+psycopg://churn:hunter2@db:5432/warehouse?sslmode=require&password=x")
    'postgresql+psycopg://churn:***@db:5432/warehouse?sslmode=require&password=***'
    >>> redact("postgresql://churn@db/warehouse")
    'postgresql://churn@db/warehouse'
    """
    text = str(url)
    text = _PASSWORD.sub(r"\1:***@", text)
    return _SECRET_PARAMS.sub(r"\1***", text)


def hide_secrets(text: str, url: str) -> str:
    """``text`` (a driver's error message) with the URL's password removed wherever it appears."""
    match = _PASSWORD.match(url)
    out = str(text).replace(url, redact(url))
    if match:
        password = url[match.end(1) + 1 : match.end() - 1]
        if password:
            out = out.replace(password, "***")
    return out
