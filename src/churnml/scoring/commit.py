"""One scoring run as one committed unit: staged files, a commit journal, a run id in each file.

A run writes each of its files under a temporary name beside its target
(``.scores.parquet.<random>.tmp``). Nothing is visible until :meth:`Staging.commit`:

1. the journal ``.<out>.commit.json`` (the run id and every ``temporary -> target`` pair, the
   manifest last) is written atomically — this is the commit point;
2. each temporary file is renamed over its target, the manifest last;
3. the journal is removed.

A run killed before step 1 leaves only temporary files, which the next run removes
(:func:`recover`); the previous run's files are untouched. A run killed during step 2 leaves the
journal: the next run finishes the renames before it starts, and until then
``churnml report`` refuses the folder (:func:`pending_journal`). Every Parquet file of a run
carries the run id in its key-value metadata (:data:`RUN_ID_KEY`) and the manifest has it as
``run_id``, so a reader can tell whether the files belong together (:func:`run_id_of`).

``CHURNML_KILL_AT=<step>`` makes the process kill itself with SIGKILL at that step (``stage:<kind>``,
``database``, ``journal``, ``commit:<kind>``, ``committed``): a test hook for interrupted runs.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

from churnml.data.atomic import remove_leftovers, target_mode, temporary_path

RUN_ID_KEY = "churnml.run_id"
KILL_ENV = "CHURNML_KILL_AT"
JOURNAL_SUFFIX = ".commit.json"


def checkpoint(step: str) -> None:
    """Test hook: SIGKILL this process when ``CHURNML_KILL_AT`` names ``step``."""
    if os.environ.get(KILL_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def new_run_id() -> str:
    """A unique run id: UTC time and a random suffix, e.g. ``20251101T080012Z-3f2a9c1d``."""
    import time

    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def journal_path(out) -> Path:
    """``scores.parquet`` -> ``.scores.parquet.commit.json`` in the same folder."""
    out = Path(out)
    return out.with_name(f".{out.name}{JOURNAL_SUFFIX}")


def pending_journal(out) -> Path | None:
    """The journal of an interrupted commit of ``out``, or None."""
    path = journal_path(out)
    return path if path.exists() else None


def run_id_of(path) -> str | None:
    """The run id in a Parquet file's key-value metadata (None when it has none)."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(RUN_ID_KEY.encode())
    return None if value is None else value.decode()


def _relative(path: Path, folder: Path) -> str:
    """``path`` by name when it is in ``folder`` (the journal stays valid when the folder is
    moved or copied), else absolute."""
    return path.name if path.parent.resolve() == folder.resolve() else str(path.resolve())


def _apply(journal: dict, folder: Path) -> None:
    """Rename every staged file of ``journal`` that is still there over its target."""
    for kind, tmp, target in journal["files"]:
        tmp, target = folder / tmp, folder / target  # an absolute path stays absolute
        if tmp.exists():
            os.replace(tmp, target)
        checkpoint(f"commit:{kind}")


def _write_journal(path: Path, journal: dict) -> None:
    from churnml.data.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(journal, indent=1), encoding="utf-8")


def recover(out, targets=()) -> dict:
    """Finish an interrupted commit of ``out`` and remove temporary files left by killed runs.

    Call it under the output lock, before a run stages anything.

    Parameters
    ----------
    out : str or Path
        The run's main output (``scores.parquet``).
    targets : iterable of str or Path
        Every file this run writes (their leftover temporary files are removed).

    Returns
    -------
    dict
        ``completed``: run id of the commit finished here (or None); ``removed``: leftover files.
    """
    journal = pending_journal(out)
    completed = None
    if journal is not None:
        try:
            content = json.loads(journal.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            content = None  # unreadable: written atomically, so this is not ours; drop it
        if content is not None:
            _apply(content, journal.parent)
            completed = content.get("run_id")
        journal.unlink(missing_ok=True)
    removed = []
    for target in {Path(t) for t in (out, journal_path(out), *targets) if t is not None}:
        removed.extend(remove_leftovers(target))
    return {"completed": completed, "removed": sorted(str(p) for p in removed)}


class Staging:
    """The files of one run, written under temporary names and committed together.

    Parameters
    ----------
    out : str or Path
        The run's main output; the journal goes beside it.
    run_id : str
        Written into the journal (and, by the caller, into each file).

    Examples
    --------
    >>> with Staging("out/scores.parquet", new_run_id()) as staging:  # doctest: +SKIP
    ...     staging.stage("scores", "out/scores.parquet", lambda tmp: frame.to_parquet(tmp))
    ...     staging.commit()
    """

    def __init__(self, out, run_id: str):
        self.out = Path(out)
        self.run_id = run_id
        self.files: list[tuple[str, Path, Path]] = []
        self.committed = False

    def stage(self, kind: str, target, write) -> Path:
        """Call ``write(tmp)`` on a new temporary file beside ``target``; returns ``target``.

        The file gets the mode of the file it will replace (else ``0o666`` less the umask).
        """
        target = Path(target)
        if any(t == target for _, _, t in self.files):
            raise ValueError(f"staging: {target} is staged twice in one run")
        tmp = temporary_path(target)
        self.files.append((kind, tmp, target))
        write(tmp)
        os.chmod(tmp, target_mode(target))
        checkpoint(f"stage:{kind}")
        return target

    def commit(self) -> None:
        """Make every staged file visible: journal, renames (in staging order), journal removed."""
        path = journal_path(self.out)
        folder = path.parent
        files = [[k, _relative(t, folder), _relative(f, folder)] for k, t, f in self.files]
        journal = {"run_id": self.run_id, "files": files}
        _write_journal(path, journal)
        self.committed = True  # from here on the next run finishes the renames (``recover``)
        checkpoint("journal")
        _apply(journal, folder)
        path.unlink(missing_ok=True)
        checkpoint("committed")

    def discard(self) -> None:
        """Remove the staged temporary files (a run that failed before its commit)."""
        for _, tmp, _ in self.files:
            tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.committed:
            self.discard()
        return False
