"""The running churnml packed as a wheel (logged with every model), and the model's requirements."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib.metadata import version

import pytest

import churnml
from churnml.model import wheel as wheel_module
from churnml.model.wheel import build_wheel, package_files, wheel_name


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_holds_the_imported_package_and_its_metadata(packed):
    assert packed.name == wheel_name(churnml.__version__)
    names = zipfile.ZipFile(packed).namelist()
    info = f"churnml-{churnml.__version__}.dist-info"
    package = [name for name, _ in package_files(wheel_module._package_root())]
    assert names[: len(package)] == package
    assert {
        "churnml/model/wheel.py",
        "churnml/report/templates/report.js",
        "churnml/features/catalog_yaml/usage.yaml",  # behind a symlinked folder
        "churnml/model/configs/default.yaml",
        "churnml/py.typed",
    } <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    dist_info = ("METADATA", "WHEEL", "RECORD", "entry_points.txt")
    assert {f"{info}/{name}" for name in dist_info} <= set(names)
    with zipfile.ZipFile(packed) as archive:
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "Name: churnml" in metadata and f"Version: {churnml.__version__}" in metadata
    assert "churnml = churnml.cli:run" in entry_points


def test_wheel_record_hashes_every_member(packed):
    with zipfile.ZipFile(packed) as archive:
        (record,) = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
        rows = [line.split(",") for line in archive.read(record).decode().splitlines()]
        assert sorted(name for name, *_ in rows) == sorted(archive.namelist())
        for name, digest, size in rows:
            if name == record:
                assert digest == size == ""
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == f"sha256={expected.decode()}" and int(size) == len(data), name


def test_wheel_is_reproducible(packed, tmp_path):
    assert build_wheel(tmp_path).read_bytes() == packed.read_bytes()


def test_package_files_follow_symlinks_and_skip_bytecode_and_hidden_files(tmp_path):
    root, shared = tmp_path / "pkg", tmp_path / "shared"
    (root / "__pycache__").mkdir(parents=True)
    shared.mkdir()
    (root / "__init__.py").write_text("")
    (root / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    (root / "stale.pyc").write_bytes(b"")
    (root / ".swp").write_text("")
    (shared / "a.yaml").write_text("a: 1\n")
    (root / "catalog").symlink_to(shared, target_is_directory=True)
    assert [name for name, _ in package_files(root)] == ["pkg/__init__.py", "pkg/catalog/a.yaml"]


def test_metadata_of_another_version_is_not_copied():
    metadata, entry_points = wheel_module.distribution_metadata("0.0.0.dev1")
    assert metadata.splitlines()[1:3] == ["Name: churnml", "Version: 0.0.0.dev1"]
    assert "Requires-Dist" not in metadata
    assert "churnml = churnml.cli:run" in entry_points


def test_model_requirements_pin_core_dependencies_and_name_the_wheel():
    from churnml.model.training import _requirements

    requirements = _requirements("churnml-9.9-py3-none-any.whl")
    assert requirements[-1] == "artifacts/churnml-9.9-py3-none-any.whl"
    pins = dict(line.split("==") for line in requirements[:-1])
    for package in ("mlflow", "lightgbm", "scikit-learn", "duckdb", "woodelf-explainer", "scipy"):
        assert pins[package] == version(package)
    assert not set(pins) & {"pytest", "psycopg", "playwright", "sqlglot", "shap"}
    assert len(pins) == len(set(pins))


def test_cli_version_is_the_package_version(capsys):
    from churnml.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"churnml {churnml.__version__}"
    assert version("churnml") == churnml.__version__  # pyproject reads the same attribute
