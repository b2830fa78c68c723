"""The output lock of a scoring run: ``<output>.lock`` beside each file the run writes.

A run holds an exclusive ``fcntl.flock`` on the lock file of ``--out`` (and of ``--crm-out``)
while it reads the score history, writes and commits its files, so two runs writing the same
output take turns: the second waits up to ``timeout`` seconds, then fails with a
:class:`~churnml.errors.ChurnmlError` naming the holder. The system releases the lock when its
process ends, a ``kill -9`` included, so a killed run never blocks the next one. The lock files
stay in place (removing one while another process waits on it would break the lock).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from churnml.errors import ChurnmlError

LOCK_SUFFIX = ".lock"
#: seconds a run waits for another run writing the same output
DEFAULT_TIMEOUT = 600.0
POLL_SECONDS = 0.1
log = logging.getLogger(__name__)


def lock_path(path) -> Path:
    """``scores.parquet`` -> ``scores.parquet.lock`` in the same folder."""
    path = Path(path)
    return path.with_name(path.name + LOCK_SUFFIX)


def _holder(lock_file: Path) -> str:
    try:
        text = lock_file.read_text(encoding="utf-8").strip()
    except OSError:
        return "another process"
    return text or "another process"


@contextmanager
def _flock(target: Path, timeout: float):
    import fcntl

    lock_file = lock_path(target)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + max(0.0, float(timeout))
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting and timeout > 0:
                    waiting = True
                    log.warning(
                        "another churnml run is writing %s (%s); waiting up to %g s",
                        target,
                        _holder(lock_file),
                        timeout,
                    )
                if time.monotonic() >= deadline:
                    raise ChurnmlError(
                        f"another churnml run is writing {target} ({_holder(lock_file)} holds "
                        f"{lock_file}); waited {timeout:g} s",
                        hint="let that run finish, or wait longer (--lock-timeout SECONDS); a lock "
                        "is released when its process ends, even when it is killed",
                    ) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.write(fd, f"pid {os.getpid()} since {stamp}\n".encode())
        yield lock_file
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def output_lock(paths, *, timeout: float = DEFAULT_TIMEOUT):
    """Hold the lock of every path in ``paths`` (``None`` entries skipped) for the block.

    Locks are taken in sorted order of the resolved paths, so two runs never deadlock.

    Parameters
    ----------
    paths : iterable of str or Path
        The outputs (``scores.parquet``, the CRM file).
    timeout : float
        Seconds to wait for each lock before raising :class:`~churnml.errors.ChurnmlError`.

    Examples
    --------
    >>> with output_lock(["out/scores.parquet"], timeout=60):  # doctest: +SKIP
    ...     ...  # read the history, write and commit the run's files
    """
    targets = sorted({Path(p).resolve() for p in paths if p is not None})
    with ExitStack() as stack:
        held = [stack.enter_context(_flock(t, timeout)) for t in targets]
        yield held
