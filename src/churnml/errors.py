"""The errors churnml raises for a user's mistake, as opposed to a bug.

The ``churnml`` command prints these as one or two lines without a traceback: a
:class:`UsageError` (a bad argument or option) exits 2, any other :class:`ChurnmlError` (bad data,
an unreadable file, an unknown model, an unreachable database) exits 1. Library callers catch them
like any ``ValueError``.
"""

from __future__ import annotations

__all__ = ["ChurnmlError", "UsageError"]


class ChurnmlError(ValueError):
    """A problem with the user's data, files, models or setup.

    Parameters
    ----------
    message : str
        What is wrong, naming the table, column, file or value.
    hint : str, optional
        What to do about it (printed on a second line by the CLI).
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class UsageError(ChurnmlError):
    """A bad command-line argument or option value (exit code 2)."""

    exit_code = 2
