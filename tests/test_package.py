"""The package imports fast and has no side effects; the CLI answers --help without heavy imports."""

import json
import subprocess
import sys

HEAVY = ("pandas", "numpy", "duckdb", "lightgbm", "mlflow", "optuna", "shap", "sklearn", "jinja2")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


def test_import_churnml_loads_no_heavy_library():
    loaded = _modules_after("import churnml")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_cli_help_loads_no_heavy_library():
    code = (
        "import contextlib, io\n"
        "from churnml.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main([])\n"
    )
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_public_api_names_resolve():
    import churnml

    for name in churnml.__all__:
        assert getattr(churnml, name) is not None, name


def test_unknown_attribute_is_a_clear_error():
    import pytest

    import churnml

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = churnml.nope
