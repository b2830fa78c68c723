"""A new local MLflow store copied from a template instead of built by MLflow's migrations.

Creating a SQLite tracking store (``sqlite:///<cwd>/mlflow.db``, churnml's default) runs every
one of MLflow's schema migrations: about 1 s of CPU for each new store — the first ``churnml
train`` in a folder, each test's temporary store. :func:`seed` copies instead a store that
holds MLflow's tables at their latest revision and nothing else, built once per schema revision
by MLflow's own code (``mlflow.store.db.utils._initialize_tables``) under
:func:`churnml.model.cache.cache_root`. MLflow then finds its tables, checks their revision and
adds its default experiment, as in a store it has just built. A copy whose revision is not the
one MLflow expects (a damaged template) is removed, with the template, before MLflow sees it.

``CHURNML_STORE_TEMPLATE`` names the template's folder instead; ``CHURNML_STORE_TEMPLATE=off``
turns templates off. Anything else is left to MLflow as before: a store that exists, a database
that is not a local SQLite file, a template that cannot be built or copied.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from contextlib import closing, contextmanager
from pathlib import Path

ENV = "CHURNML_STORE_TEMPLATE"


def seed(uri: str) -> bool:
    """Copy the template to the SQLite store of ``uri`` when that file does not exist yet;
    return whether it did. Never overwrites a file, never raises."""
    try:
        folder, path = _folder(), sqlite_file(uri)
        if folder is None or path is None or path.exists():
            return False
        from mlflow.store.db.utils import _get_latest_schema_revision

        head = _get_latest_schema_revision()
        template = _template(folder, head)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _partial(path.parent) as partial:
            shutil.copyfile(template, partial)
            if _revision(partial) != head:  # a damaged template: MLflow builds this store
                template.unlink(missing_ok=True)
                return False
            os.link(partial, path)  # fails if another process created the store meanwhile
    except Exception:  # noqa: BLE001 - MLflow builds the store itself, as without a template
        return False
    return True


def sqlite_file(uri: str) -> Path | None:
    """The local file of a ``sqlite:///`` URI, decoded as SQLAlchemy decodes it (``%20`` is a
    space); None for another database or an in-memory one."""
    if not uri.startswith("sqlite:///"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _template(folder: Path, head: str) -> Path:
    """The template of MLflow's schema revision ``head`` in ``folder``, built on first use
    (atomically: a process that finds it finds it whole)."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    path = folder / f"mlflow-store-{head}.db"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _partial(path.parent) as partial:
        engine = sqlalchemy.create_engine(f"sqlite:///{partial}")
        try:
            _initialize_tables(engine)
        finally:
            engine.dispose()
        os.replace(partial, path)
    return path


@contextmanager
def _partial(folder: Path):
    """A new temporary file name in ``folder`` (unique across processes and threads), removed
    on leaving unless it was moved away."""
    handle, name = tempfile.mkstemp(dir=folder, prefix=".churnml-", suffix=".partial")
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _revision(path: Path) -> str | None:
    """The schema revision of the SQLite store at ``path`` (None: not a store)."""
    try:
        with closing(sqlite3.connect(path)) as con:
            found = con.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return None
    return found[0][0] if len(found) == 1 else None


def _folder() -> Path | None:
    """Where templates live (None: templates off)."""
    from churnml.model.cache import OFF, cache_root

    value = os.environ.get(ENV, "").strip()
    if value.lower() in OFF:
        return None
    return Path(value).expanduser() if value else cache_root()
