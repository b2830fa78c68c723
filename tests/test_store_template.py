"""A new local MLflow store is copied from a template of MLflow's schema, not migrated."""

from __future__ import annotations

import sqlite3

import pytest


def schema(path) -> list:
    """Tables, indexes and the schema revision; a table's columns and constraints as a set
    (MLflow's own migrations do not always write two CHECK constraints in the same order)."""
    with sqlite3.connect(path) as con:
        found = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        revision = con.execute("SELECT version_num FROM alembic_version").fetchall()
    parts = [(kind, name, sorted(p.strip().rstrip(",") for p in (sql or "").splitlines()))
             for kind, name, sql in found]  # fmt: skip
    return [parts, revision]


def experiments(uri) -> dict:
    from mlflow import MlflowClient

    found = MlflowClient(uri).search_experiments()
    return {e.name: (e.experiment_id, e.artifact_location) for e in found}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHURNML_STORE_TEMPLATE", str(tmp_path / "templates"))
    return tmp_path


def head() -> str:
    from mlflow.store.db.utils import _get_latest_schema_revision

    return _get_latest_schema_revision()


def test_a_new_store_is_the_store_mlflow_builds(folder, monkeypatch):
    import mlflow

    from churnml.model.store_template import seed
    from churnml.model.tracking import configure

    seeded = f"sqlite:///{folder / 'seeded.db'}"
    assert seed(seeded) and (folder / "seeded.db").exists()  # copied, not built by MLflow
    configure(seeded)
    templates = list((folder / "templates").glob("*"))
    assert [t.name for t in templates] == [f"mlflow-store-{head()}.db"]
    monkeypatch.setenv("CHURNML_STORE_TEMPLATE", "off")
    built = f"sqlite:///{folder / 'built.db'}"
    configure(built)  # MLflow's own migrations

    assert schema(folder / "seeded.db") == schema(folder / "built.db")
    assert experiments(seeded) == experiments(built)  # Default and churnml, artifacts in ./mlruns
    assert experiments(seeded)["churnml"][1] == (folder / "mlruns").as_uri()
    assert schema(templates[0])[0] == schema(folder / "built.db")[0]
    with sqlite3.connect(templates[0]) as con:  # nothing of a store's content in the template
        assert con.execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)

    client = mlflow.MlflowClient(seeded)  # the copied store works as any other
    run = client.create_run(experiments(seeded)["churnml"][0]).info.run_id
    client.log_metric(run, "auc", 0.8)
    client.create_registered_model("churnml")
    assert client.get_run(run).data.metrics == {"auc": 0.8}


def test_an_existing_file_or_another_database_is_left_alone(folder):
    from churnml.model.store_template import seed

    existing = folder / "mine.db"
    existing.write_bytes(b"not a store")
    assert not seed(f"sqlite:///{existing}")
    assert existing.read_bytes() == b"not a store"
    assert not seed("postgresql://user@127.0.0.1/mlflow")
    assert not seed("sqlite:///:memory:")
    assert not (folder / "templates").exists()  # nothing built for them


def test_templates_off_or_unbuildable_leave_the_store_to_mlflow(folder, monkeypatch):
    from churnml.model.store_template import seed
    from churnml.model.tracking import configure

    monkeypatch.setenv("CHURNML_STORE_TEMPLATE", "off")
    assert not seed(f"sqlite:///{folder / 'a.db'}") and not (folder / "a.db").exists()

    blocked = folder / "blocked"
    blocked.write_text("a file where the template folder would be")
    monkeypatch.setenv("CHURNML_STORE_TEMPLATE", str(blocked))
    assert not seed(f"sqlite:///{folder / 'b.db'}") and not (folder / "b.db").exists()
    configure(f"sqlite:///{folder / 'b.db'}")  # MLflow builds it, as without templates
    assert "churnml" in experiments(f"sqlite:///{folder / 'b.db'}")


def test_a_damaged_template_is_replaced_and_never_copied(folder):
    from churnml.model.store_template import seed
    from churnml.model.tracking import configure

    template = folder / "templates" / f"mlflow-store-{head()}.db"
    template.parent.mkdir()
    template.write_bytes(b"half a file")
    assert not seed(f"sqlite:///{folder / 'a.db'}")
    assert not (folder / "a.db").exists() and not template.exists()
    configure(f"sqlite:///{folder / 'a.db'}")  # MLflow builds this one
    assert seed(f"sqlite:///{folder / 'b.db'}") and template.exists()  # a sound template again
    assert schema(folder / "b.db") == schema(folder / "a.db")
    assert not list(folder.rglob("*.partial"))  # no temporary file left anywhere


def test_the_store_path_is_read_as_sqlalchemy_reads_it(folder):
    from churnml.model.store_template import seed
    from churnml.model.tracking import configure

    uri = f"sqlite:///{folder}/my%20runs/mlflow.db"  # a percent-encoded space
    assert seed(uri) and (folder / "my runs" / "mlflow.db").exists()  # where SQLite opens it
    assert not (folder / "my%20runs" / "mlflow.db").exists()
    configure(uri)  # MLflow opens the copy
    assert "churnml" in experiments(uri)
    assert not seed(uri)  # it exists now
