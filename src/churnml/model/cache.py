"""Registered model versions cached on local disk, so that scoring loads a version from MLflow once.

Loading ``models:/churnml@champion`` through MLflow costs seconds before any scoring starts
(``benchmarks/cli.py``): importing MLflow's model code, creating a client, resolving the alias,
copying the artifacts to a temporary folder, unpickling. A registry URI is therefore resolved to
``(name, version)`` and the version's identity (its run id, creation time and source: a registry
recreated from scratch that reuses version 1 for another model gets another entry), and the
unpickled model, catalog, config and training facts are kept in one pickle per version under
:func:`cache_dir`. The next load of the same version reads that file and imports nothing of
MLflow.

``models:/NAME@ALIAS`` is resolved at every load, so moving the alias (a new champion) loads the
new version: the cache never answers for an alias, only for the version it names now. For a
SQLite registry (churnml's default, ``sqlite:///<cwd>/mlflow.db``) the alias or version is read
straight from the registry tables with :mod:`sqlite3` (read-only, without MLflow's client and
its schema checks); any other registry (an ``mlflow server`` over HTTP, Databricks), and any
SQLite read that does not give exactly one row, goes through ``MlflowClient``.

``CHURNML_MODEL_CACHE`` names the folder (default ``$XDG_CACHE_HOME/churnml/models``, else
``~/.cache/churnml/models``); ``CHURNML_MODEL_CACHE=off`` turns the cache off. The files are
pickles written by this user's own runs, as trusted as MLflow's own pickled models.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ENV = "CHURNML_MODEL_CACHE"
OFF = ("0", "off", "false", "no", "none")
_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
FORMAT = 2  # bump when the cached payload changes shape


@dataclass(frozen=True)
class VersionRef:
    """A registered model version and what identifies it in its registry."""

    registry: str
    name: str
    version: str
    stamp: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def registry_uri() -> str:
    """The MLflow registry URI this process uses: MLflow's own when MLflow is already imported
    (a notebook may have set it), else ``MLFLOW_REGISTRY_URI``, ``MLFLOW_TRACKING_URI``, or the
    local default ``sqlite:///<cwd>/mlflow.db``."""
    if "mlflow" in sys.modules:
        return sys.modules["mlflow"].get_registry_uri()
    from churnml.model.tracking import default_tracking_uri

    return os.environ.get("MLFLOW_REGISTRY_URI") or default_tracking_uri()


def parse(uri: str):
    """``(name, alias, version)`` of a registry URI (one of alias / version is None), else None."""
    hit = _ALIAS.match(str(uri))
    if hit:
        return hit["name"], hit["alias"], None
    hit = _VERSION.match(str(uri))
    if hit:
        return hit["name"], None, hit["version"]
    return None


def _sqlite_file(registry: str) -> Path | None:
    if not registry.startswith("sqlite:///"):
        return None
    path = Path(registry[len("sqlite:///") :].split("?", 1)[0])
    return path if path.is_file() else None


def _sqlite_lookup(path: Path, name: str, alias, version):
    """``(version, stamp)`` read from a SQLite registry, or None unless exactly one row matches."""
    import sqlite3

    where = ("a.name = ? AND a.alias = ?", (name, alias)) if alias else None
    if where:
        query = (
            "SELECT v.version, v.run_id, v.creation_time, v.source FROM registered_model_aliases a "
            "JOIN model_versions v ON v.name = a.name AND v.version = a.version "
            "WHERE a.name = ? AND a.alias = ?"
        )
        params = (name, alias)
    else:
        query = (
            "SELECT version, run_id, creation_time, source FROM model_versions "
            "WHERE name = ? AND version = ?"
        )
        params = (name, int(version))
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            rows = con.execute(query, params).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    if len(rows) != 1:
        return None
    found, run_id, created, source = rows[0]
    return str(found), f"{run_id}:{created}:{source}"


def _client_lookup(name: str, alias, version):
    from churnml.model.tracking import quiet_mlflow

    quiet_mlflow()
    from mlflow import MlflowClient

    client = MlflowClient()
    found = (
        client.get_model_version_by_alias(name, alias)
        if alias
        else client.get_model_version(name, version)
    )
    return str(found.version), f"{found.run_id}:{found.creation_timestamp}:{found.source}"


def lookup(uri: str) -> VersionRef | None:
    """The version a registry URI names now (an alias resolved), or None for other URIs.

    Raises whatever ``MlflowClient`` raises for an unknown model, version or alias.
    """
    parsed = parse(uri)
    if parsed is None:
        return None
    name, alias, version = parsed
    registry = registry_uri()
    path = _sqlite_file(registry)
    found = _sqlite_lookup(path, name, alias, version) if path is not None else None
    if found is None:
        found = _client_lookup(name, alias, version)
    return VersionRef(registry, name, found[0], found[1])


def cache_dir() -> Path | None:
    """Where cached versions live, or None when ``CHURNML_MODEL_CACHE`` turns the cache off."""
    value = os.environ.get(ENV)
    if value is not None and value.strip().lower() in OFF:
        return None
    if value:
        return Path(value).expanduser()
    return cache_root() / "models"


def cache_root() -> Path:
    """churnml's folder of the user's cache: ``$XDG_CACHE_HOME/churnml``, else
    ``~/.cache/churnml`` (model versions, :mod:`churnml.model.store_template`)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "churnml"


def entry(ref: VersionRef) -> Path | None:
    """The cache file of ``ref`` (None when the cache is off)."""
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(
        "\0".join((str(FORMAT), ref.registry, ref.name, ref.version, ref.stamp)).encode()
    ).hexdigest()[:32]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", ref.name)[:60]
    return folder / f"{safe}-v{ref.version}-{digest}.pkl"


def read(ref: VersionRef) -> dict | None:
    """The cached payload of ``ref`` (catalog, config, info, and the model still pickled: bytes
    for :func:`unpickle_model`, so that the catalog is read without importing scikit-learn and
    LightGBM), or None."""
    path = entry(ref)
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            payload = pickle.load(handle)  # noqa: S301 - written by this user's own runs
    except Exception:  # noqa: BLE001 - a truncated or foreign file is a miss, and replaced
        return None
    return payload if isinstance(payload, dict) and payload.get("format") == FORMAT else None


def unpickle_model(payload: dict):
    """The model of a payload :func:`read` returned."""
    return pickle.loads(payload["model"])  # noqa: S301 - written by this user's own runs


def write(ref: VersionRef, wrapper) -> Path | None:
    """Cache what scoring needs of ``wrapper`` (a loaded ``ChurnPyfunc``); never fails a load."""
    path = entry(ref)
    if path is None:
        return None
    payload = {
        "format": FORMAT,
        "model": pickle.dumps(wrapper.model, protocol=pickle.HIGHEST_PROTOCOL),
        "catalog": wrapper.catalog,
        "config": wrapper.config,
        "info": dict(wrapper.info),
        "uri": ref.uri,
        "stamp": ref.stamp,
    }
    try:
        from churnml.data.atomic import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        return None
    return path
