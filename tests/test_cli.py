"""The ``churnml`` command fails cleanly: one or two lines, the right exit code, no traceback;
arguments are checked before anything slow; progress only on a terminal; ``--json`` for schedulers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from churnml.cli import main

AS_OF = "2025-11-01"


@pytest.fixture(scope="module")
def project(tmp_path_factory, saas_small):
    """A data folder and an MLflow store holding ``churnml@champion`` (one quick trial)."""
    from churnml.data.load import write_tables
    from churnml.model.registry import promote
    from churnml.model.training import train

    root = tmp_path_factory.mktemp("cli")
    write_tables(saas_small, root / "data")
    store = f"sqlite:///{root}/mlflow.db"
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = store
    try:
        cwd = os.getcwd()
        os.chdir(root)  # artifacts under root/mlruns
        try:
            result = train(str(root / "data"), trials=1, progress=False, figures=False)
            # at this size the model may not pass the champion gate: promote it by hand
            promote("churnml", result.model_version)
        finally:
            os.chdir(cwd)
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    return root, store


def run(args, monkeypatch, capsys, store=None):
    if store is not None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def cli(*args, env=None, **kwargs):
    """The real command in a subprocess (``python -m churnml``)."""
    return subprocess.run([sys.executable, "-m", "churnml", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, **kwargs)


def test_bare_command_prints_help_and_exits_2(monkeypatch, capsys):
    code, out, err = run([], monkeypatch, capsys)
    assert code == 2 and "COMMAND" in err and out == ""


def test_python_m_churnml_works():
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("churnml ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "--data", ".", "--as-of", "2025-13-45", "--out", "s.parquet"], "not a date"),
        (["score", "--data", ".", "--as-of", AS_OF, "--out", "s.parquet", "--crm-preset", "bogus"],
         "invalid choice: 'bogus'"),
        (["score", "--data", "no/such/folder", "--as-of", AS_OF, "--out", "s.parquet"],
         "does not exist"),
        (["score", "--data", ".", "--as-of", AS_OF, "--out", "s.parquet", "--db", "crm.db"],
         "not a database URL"),
        (["train", "--data", ".", "--trials", "0"], "need --storage"),
        (["train", "--data", ".", "--trials", "-1"], "at least 0"),
        (["features", "--data", ".", "--out", "f.parquet"], "give --as-of"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message, monkeypatch, capsys):
    code, _, err = run(args, monkeypatch, capsys)
    assert code == 2
    assert message in err


def test_bad_date_is_refused_before_the_model_loads():
    code = (
        "import contextlib, io, json, sys\n"
        "from churnml.cli import main\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        "    code = main(['score', '--data', '.', '--as-of', '2025-02-30', '--out', 's.parquet'])\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m.startswith('mlflow'))]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    exit_code, loaded = json.loads(done.stdout.splitlines()[-1])
    assert exit_code == 2 and loaded == []


def test_unknown_alias_names_the_aliases_that_exist(project, monkeypatch, capsys):
    root, store = project
    code, _, err = run(["score", "--model", "models:/churnml@nope", "--data", root / "data",
                        "--as-of", AS_OF, "--out", root / "x" / "s.parquet"],
                       monkeypatch, capsys, store)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2, err
    assert "no alias 'nope'" in lines[0] and "champion (version 1)" in lines[0]
    assert not (root / "x").exists()


def test_corrupt_parquet_and_unreachable_database_are_one_line_errors(
    project, tmp_path, monkeypatch, capsys
):
    root, store = project
    data = tmp_path / "data"
    data.mkdir()
    for f in (root / "data").iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    usage = data / "usage.parquet"
    usage.write_bytes(usage.read_bytes()[:4000])  # truncated
    code, _, err = run(["score", "--data", data, "--as-of", AS_OF, "--out", tmp_path / "s.parquet"],
                       monkeypatch, capsys, store)
    assert code == 1 and "usage.parquet" in err and len(err.strip().splitlines()) <= 2

    url = "postgresql+psycopg://churn:s3cret@127.0.0.1:1/crm"
    code, _, err = run(["score", "--data", root / "data", "--as-of", AS_OF,
                        "--out", tmp_path / "t.parquet", "--db", url], monkeypatch, capsys, store)
    assert code == 1 and "database" in err and "s3cret" not in err


def test_debug_shows_the_traceback(project, monkeypatch, capsys):
    root, store = project
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    args = ["score", "--model", "models:/churnml@nope", "--data", str(root / "data"),
            "--as-of", AS_OF, "--out", str(root / "y.parquet")]
    with pytest.raises(ValueError, match="no alias 'nope'"):
        main([*args, "--debug"])
    monkeypatch.setenv("CHURNML_DEBUG", "1")
    with pytest.raises(ValueError, match="no alias 'nope'"):
        main(args)


def test_json_summary_and_escaped_names(project, tmp_path, monkeypatch, capsys):
    root, store = project
    data = tmp_path / "data"
    data.mkdir()
    for f in (root / "data").iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    accounts = pd.read_parquet(data / "accounts.parquet")
    accounts["name"] = "Evil\x1b[2J\rCorp"
    accounts.to_parquet(data / "accounts.parquet")
    args = ["score", "--data", data, "--as-of", AS_OF, "--out", tmp_path / "s.parquet"]

    code, out, _ = run([*args, "--json"], monkeypatch, capsys, store)
    manifest = json.loads(out)
    assert code == 0 and manifest["rows"] == len(pd.read_parquet(tmp_path / "s.parquet"))
    assert manifest["as_of"] == AS_OF

    code, out, _ = run(args, monkeypatch, capsys, store)
    assert code == 0
    assert "\x1b" not in out and "\r" not in out


def test_control_characters_in_ids_are_escaped(project, tmp_path, monkeypatch, capsys):
    root, _ = project
    data = tmp_path / "data"
    data.mkdir()
    for f in (root / "data").iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    tickets = pd.read_parquet(data / "tickets.parquet")
    tickets.loc[0, "account_id"] = "A\x1b[2Jevil\rX"  # an orphan key shown as an example
    tickets.to_parquet(data / "tickets.parquet")
    code, out, _ = run(["validate", data], monkeypatch, capsys)
    assert code == 0
    assert "A\\x1b[2Jevil\\x0dX" in out
    assert "\x1b" not in out and "\r" not in out


def test_progress_bars_only_on_a_terminal(monkeypatch):
    from churnml import progress

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.enabled()
    assert not progress.enabled(requested=False)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not progress.enabled()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.delenv("TQDM_DISABLE")
    assert not progress.enabled()


def test_a_scheduled_run_logs_no_progress_frames(project, tmp_path):
    root, _ = project
    done = cli("features", "--data", root / "data", "--as-of", AS_OF,
               "--out", tmp_path / "f.parquet")
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "Traceback" not in done.stderr
    assert Path(tmp_path / "f.parquet").exists()


def test_the_command_exits_with_mains_code_after_freezing_the_heap(monkeypatch):
    # `churnml` (churnml.cli:run) skips the shutdown's collections over the whole heap
    import gc
    import importlib

    cli_main = importlib.import_module("churnml.cli.main")  # the module, not the function

    frozen = []
    monkeypatch.setattr(cli_main, "main", lambda: 3)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    with pytest.raises(SystemExit) as done:
        cli_main.run()
    assert done.value.code == 3 and frozen == [True]
    bad = [sys.executable, "-m", "churnml", "score", "--data", ".", "--as-of", "2025-02-30",
           "--out", "s.parquet"]  # fmt: skip
    assert subprocess.run(bad, check=False, capture_output=True, text=True).returncode == 2
