"""churnml outside its source tree: the built wheel; the registered model in a fresh environment.

Two fresh virtual environments, built with ``uv`` from its cache (the package registry only for a
dependency that is not cached):

- *app*: the wheel built from this checkout (sdist first, then the wheel from the sdist, as a
  release is built), installed non-editable. Its python generates data, trains 1 trial into a
  SQLite store, scores, and its ``churnml report`` renders the meeting pack.
- *model*: only the registered model's ``requirements.txt``, installed from inside the model
  folder as MLflow's virtualenv and uv environment managers do. churnml comes from the wheel that
  training logged with the model. There ``mlflow models predict``, ``mlflow.pyfunc.load_model``
  and ``mlflow models serve`` take churnml's own feature frame (boolean, integer, string and
  categorical columns, keys and label included).

Neither environment sees the source tree: scripts run with ``python -I`` from a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from services.mlflow_server import free_port

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).with_name("portable")
pytestmark = pytest.mark.slow


def _uv() -> str:
    here = Path(sys.executable).with_name("uv")
    if here.exists():
        return str(here)
    from uv import find_uv_bin  # the uv package the Makefile installs

    return find_uv_bin()


def _run(args, *, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args[:3]} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done


def _uv_install(*args, cwd):
    """``uv pip install`` from the cache; the registry only when something is not cached."""
    command = [_uv(), "pip", "install", "--quiet", *args]
    offline = subprocess.run([*command, "--offline"], cwd=cwd, capture_output=True, text=True)
    if offline.returncode != 0:
        _run(command, cwd=cwd)


class Env:
    """A fresh virtual environment at ``path`` and how to run its programs."""

    def __init__(self, path: Path, work: Path):
        self.path, self.work = path, work
        _run([_uv(), "venv", "--quiet", "--python", sys.executable, path], cwd=work)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def environ(self) -> dict:
        """The test's environment minus anything pointing at the source tree or another venv;
        MLflow pointed at the work folder's store."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "MLFLOW_", "VIRTUAL_ENV", "CONDA"))
        }
        env.update(
            PATH=f"{self.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            VIRTUAL_ENV=str(self.path),
            MLFLOW_TRACKING_URI=f"sqlite:///{self.work / 'mlflow.db'}",
            MLFLOW_DISABLE_TELEMETRY="true",
            DO_NOT_TRACK="1",
            NO_PROXY="127.0.0.1,localhost",
        )
        return env

    def run(self, program, *args, timeout=600) -> subprocess.CompletedProcess:
        return _run(
            [self.path / "bin" / program, *args], cwd=self.work, env=self.environ(), timeout=timeout
        )

    def script(self, name, *args) -> dict:
        """Run ``tests/portable/<name>`` isolated (``-I``: no script folder, no PYTHONPATH on
        ``sys.path``) and return the JSON summary it prints last."""
        done = self.run("python", "-I", SCRIPTS / name, *args)
        return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """sdist of a copy of the checkout, then the wheel from that sdist."""
    tmp = tmp_path_factory.mktemp("portable-build")
    source = tmp / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")
    shutil.copytree(ROOT / "src", source / "src", symlinks=True, ignore=skip)
    for folder in ("features", "models"):  # targets of the package's symlinks
        (source / folder).mkdir()
        for path in (ROOT / folder).glob("*.yaml"):
            shutil.copy2(path, source / folder)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source)
    command = [_uv(), "build", "--quiet", "--out-dir", tmp / "dist", source]
    if subprocess.run([*command, "--offline"], capture_output=True).returncode != 0:
        _run(command, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("churnml-*.whl")
    return wheel


@pytest.fixture(scope="session")
def app(built_wheel, tmp_path_factory) -> Env:
    work = tmp_path_factory.mktemp("portable-app")
    env = Env(work / "venv", work)
    _uv_install("--python", env.python, built_wheel, cwd=work)
    return env


@pytest.fixture(scope="session")
def trained(app) -> dict:
    """What ``tests/portable/train_score.py`` did in the app environment (files in ``work``)."""
    return {**app.script("train_score.py", app.work), "work": app.work}


@pytest.fixture(scope="session")
def model_env(trained, tmp_path_factory) -> Env:
    """A fresh environment with the registered model's requirements only; it works in the app's
    folder (same MLflow store, same feature files)."""
    env = Env(tmp_path_factory.mktemp("portable-model") / "venv", trained["work"])
    _uv_install("--python", env.python, "-r", "requirements.txt", cwd=trained["model_dir"])
    return env


@pytest.fixture(scope="session")
def server(model_env):
    """``mlflow models serve`` of ``@champion`` on 127.0.0.1, started at once (its start takes
    20 s to a minute); call ``wait()`` for its URL."""
    port = free_port()
    log = open(model_env.work / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [model_env.path / "bin" / "mlflow", "models", "serve", "-m", "models:/churnml@champion",
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        cwd=model_env.work, env=model_env.environ(), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def wait(timeout=300.0):
        deadline = time.monotonic() + timeout
        while not _answers(f"{url}/ping"):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (model_env.work / "serve.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"mlflow models serve did not answer (exit {process.poll()}):\n{tail}")
            time.sleep(0.5)
        return url

    yield wait
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log.close()


def _answers(url) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _expected(trained) -> np.ndarray:
    """``ChurnModel.predict_proba`` of the typed feature frame, computed where it was trained."""
    return np.load(trained["work"] / "expected.npy")


def _inside(path, folder) -> bool:
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


# ------------------------------------------------------------------------------- the wheel
def test_wheel_holds_every_package_file_and_one_version(built_wheel):
    import churnml
    from churnml.model.wheel import package_files

    names = set(zipfile.ZipFile(built_wheel).namelist())
    files = {name for name, _ in package_files(ROOT / "src" / "churnml")}
    assert files - names == set()  # report.js, the catalog and model configs behind symlinks, ...
    assert {
        "churnml/report/templates/report.js",
        "churnml/features/catalog_yaml/usage.yaml",
        "churnml/model/configs/default.yaml",
        "churnml/py.typed",
    } <= names
    assert built_wheel.name == f"churnml-{churnml.__version__}-py3-none-any.whl"


def test_wheel_dependencies_core_and_extras(built_wheel):
    from packaging.requirements import Requirement

    with zipfile.ZipFile(built_wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(meta).decode().splitlines()
    requires = [
        Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")
    ]
    core = {r.name for r in requires if r.marker is None}
    assert {"mlflow", "lightgbm", "duckdb", "woodelf-explainer"} <= core
    assert not core & {"shap", "psycopg", "sqlglot"}

    def extra(name):
        return {r.name for r in requires if r.marker and r.marker.evaluate({"extra": name})}

    assert "psycopg" in extra("postgres") and "shap" in extra("shap")
    assert {"psycopg", "sqlglot"} <= extra("test")


def test_cli_version_and_report_from_the_installed_wheel(app, trained):
    import churnml

    assert _inside(trained["churnml_file"], app.path) and not _inside(trained["churnml_file"], ROOT)
    assert app.run("churnml", "--version").stdout.strip() == f"churnml {churnml.__version__}"

    out = app.work / "red_accounts.html"
    app.run("churnml", "report", "--scores", app.work / "scores.parquet", "--out", out)
    script = (ROOT / "src/churnml/report/templates/report.js").read_text().strip().splitlines()
    html = out.read_text()
    assert script[0] in html and script[-1] in html  # report.js came with the wheel


# ------------------------------------------------------------------ the model, elsewhere
def test_model_requirements_name_churnml_by_its_logged_wheel(trained):
    import churnml

    model_dir = Path(trained["model_dir"])
    requirements = (model_dir / "requirements.txt").read_text().split()
    wheel = f"artifacts/churnml-{churnml.__version__}-py3-none-any.whl"
    assert requirements[-1] == wheel and (model_dir / wheel).is_file()
    pinned = {line.split("==")[0] for line in requirements if "==" in line}
    assert {"mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "duckdb"} <= pinned
    assert not pinned & {"pytest", "psycopg", "shap", "sqlglot"}  # extras stay out


def test_load_pyfunc_without_the_source_tree(model_env, trained, server):
    # `server` starts now so that its slow start overlaps this test and the next
    out = model_env.script("load_predict.py", model_env.work / "typed.parquet")
    assert _inside(out["churnml_file"], model_env.path)
    assert not any(_inside(p, ROOT) for p in out["sys_path"] if p)
    columns = out["columns"]
    assert "no_executive_sponsor" in columns["bool"]
    assert {"open_tickets", "days_to_renewal"} <= set(columns["integer"])
    assert {"segment", "lifecycle_stage"} <= set(columns["category"])
    assert {"touch_model", "account_id"} <= set(columns["string"])
    np.testing.assert_allclose(out["probability"], _expected(trained), rtol=1e-9)
    assert set(out["tier"]) <= {"red", "amber", "green"}


def test_mlflow_models_predict_on_a_feature_csv(model_env, trained, server):
    out = model_env.work / "predictions.json"
    model_env.run(
        "mlflow", "models", "predict", "-m", "models:/churnml@champion",
        "-i", model_env.work / "features.csv", "-t", "csv", "--env-manager", "local", "-o", out,
    )
    rows = json.loads(out.read_text())["predictions"]
    np.testing.assert_allclose([r["probability"] for r in rows], _expected(trained), rtol=1e-9)
    assert [r["score"] for r in rows] == [round(r["probability"] * 100) for r in rows]


def test_mlflow_models_serve_answers_json_on_localhost(model_env, trained, server):
    frame = pd.read_parquet(model_env.work / "typed.parquet")
    payload = {"dataframe_split": _split(frame)}
    request = urllib.request.Request(
        f"{server()}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=120) as response:
        rows = json.loads(response.read())["predictions"]
    assert len(rows) == len(frame)
    np.testing.assert_allclose([r["probability"] for r in rows], _expected(trained), rtol=1e-9)
    assert {r["tier"] for r in rows} <= {"red", "amber", "green"}


def _split(frame: pd.DataFrame) -> dict:
    """``frame`` in pandas' split orientation as plain JSON values: exact floats, dates as text,
    categories as their labels, missing as null."""
    columns = {}
    for name, s in frame.items():
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(s):
            s = s.astype("float64")
        s = s.astype(object)
        columns[name] = s.where(s.notna(), None)
    data = pd.DataFrame(columns).to_numpy().tolist()
    return {"columns": list(frame.columns), "data": data}
