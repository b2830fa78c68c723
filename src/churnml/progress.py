"""Progress bars that appear only where someone watches them.

A bar is drawn when the caller asks for one *and* standard error is a terminal; cron, CI and
scheduler logs therefore never fill with carriage-return frames. ``TQDM_DISABLE=1`` (tqdm's own
switch) and ``churnml --quiet`` turn every bar off.
"""

from __future__ import annotations

import os
import sys

__all__ = ["bar", "enabled", "set_quiet"]

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Turn every progress bar off (``churnml --quiet``) or back on."""
    global _QUIET
    _QUIET = bool(quiet)


def enabled(requested: bool = True) -> bool:
    """Whether a bar the caller asked for (``requested``) should be drawn."""
    if not requested or _QUIET:
        return False
    if os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


def bar(iterable=None, *, requested: bool = True, **kwargs):
    """A ``tqdm`` bar, disabled unless :func:`enabled`; use like ``tqdm(iterable, **kwargs)``."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not enabled(requested), **kwargs)
