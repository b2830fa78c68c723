"""A new local MLflow store copied from a template instead of built by MLflow's migrations.

Creating a SQLite tracking store (``sqlite:///<cwd>/mlflow.db``, churnml's default) runs every
one of MLflow's schema migrations: about 2 s of CPU for each new store — the first ``churnml
train`` in a folder, each test's temporary store. :func:`seed` copies instead a store that
holds MLflow's tables at their latest revision and nothing else, built once per MLflow version
by MLflow's own code (``mlflow.store.db.utils._initialize_tables``) under
:func:`churnml.model.cache.cache_root`. MLflow then finds its tables, checks their revision and
adds its default experiment, as in a store it has just built.

``CHURNML_STORE_TEMPLATE`` names the template's folder instead; ``CHURNML_STORE_TEMPLATE=off``
turns templates off. Anything else is left to MLflow as before: a store that exists, a database
that is not a local SQLite file, a template that cannot be built or copied.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "CHURNML_STORE_TEMPLATE"


def seed(uri: str) -> bool:
    """Copy the template to the SQLite store of ``uri`` when that file does not exist yet;
    return whether it did. Never overwrites a file, never raises."""
    path = _new_sqlite_file(uri)
    if path is None:
        return False
    try:
        template = _template()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        shutil.copyfile(template, partial)
        try:
            os.link(partial, path)  # fails if another process created the store meanwhile
        finally:
            partial.unlink()
    except Exception:  # noqa: BLE001 - MLflow builds the store itself, as without a template
        return False
    return True


def _new_sqlite_file(uri: str) -> Path | None:
    """The local file of a ``sqlite:///`` URI that does not exist yet, else None."""
    if _folder() is None:
        return None
    if not uri.startswith("sqlite:///") or "?" in uri or uri.endswith(":memory:"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return None if path.exists() else path


def _template() -> Path:
    """The template of this MLflow version, built on first use (atomically: a process that
    finds it finds it whole)."""
    import mlflow
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables

    path = _folder() / f"mlflow-{mlflow.__version__}-store.db"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    engine = sqlalchemy.create_engine(f"sqlite:///{partial}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()
    os.replace(partial, path)
    return path


def _folder() -> Path | None:
    """Where templates live (None: templates off)."""
    from churnml.model.cache import OFF, cache_root

    value = os.environ.get(ENV, "").strip()
    if value.lower() in OFF:
        return None
    return Path(value).expanduser() if value else cache_root()
