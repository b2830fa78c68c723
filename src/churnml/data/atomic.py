"""Atomic file writes: write to a temporary file in the same folder, then rename over the target.

A crash or an interrupted run leaves either the previous file or the new one, never half of one.
The temporary file is named ``.<name>.<random>.tmp`` beside the target; a process killed before
the rename leaves it behind, and :func:`remove_leftovers` removes it. The new file gets the mode
of the file it replaces, or ``0o666`` less the umask when there is none (a bare ``mkstemp`` file
would be ``0600`` whatever the umask, and another user's import job could no longer read it).
"""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask: from ``/proc/self/status`` on Linux, else by setting it and putting it
    straight back (under a lock, so no other churnml thread sees the brief change)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def target_mode(path, mode: int | None = None) -> int:
    """Mode for a file written at ``path``: ``mode`` when given, else the mode of the file it
    replaces, else ``0o666`` less the umask."""
    if mode is not None:
        return mode
    try:
        return Path(path).stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def temporary_path(path) -> Path:
    """A new, empty temporary file beside ``path`` (``.<name>.<random>.tmp``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    return Path(name)


def remove_leftovers(path) -> list[Path]:
    """Remove the temporary files an interrupted write of ``path`` left beside it.

    Call it only while no other process writes ``path`` (under the output lock).

    Returns
    -------
    list of Path
        The files removed.
    """
    target = Path(path)
    if not target.parent.is_dir():
        return []
    removed = []
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


@contextmanager
def atomic_path(path, *, mode: int | None = None):
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on error it is removed.

    Parameters
    ----------
    path : str or Path
        The target.
    mode : int, optional
        Permission bits of the new file; default the replaced file's, else ``0o666`` less the
        umask.

    Examples
    --------
    >>> with atomic_path("out/scores.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp, index=False)
    """
    target = Path(path)
    tmp = temporary_path(target)
    try:
        yield tmp
        os.chmod(tmp, target_mode(target, mode))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(frame, path) -> Path:
    """Write ``frame`` to Parquet atomically and return the path."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return Path(path)


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
