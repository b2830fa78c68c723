"""Start a throw-away ``mlflow server`` for tests, on 127.0.0.1 at a free port.

:func:`mlflow_server` is a context manager: it runs the virtual environment's ``mlflow server``
as a subprocess with a SQLite backend store and an artifact destination in a fresh temporary
folder, waits for ``/health``, yields the ``http://127.0.0.1:<port>`` tracking URI and stops the
server (its whole process group) and removes the folder on exit. Telemetry is disabled.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mlflow_executable() -> str:
    candidate = Path(sys.executable).with_name("mlflow")
    return str(candidate) if candidate.exists() else shutil.which("mlflow") or "mlflow"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def mlflow_server(timeout: float = 180.0):
    """Run ``mlflow server`` for the duration of the ``with`` block; yields its tracking URI."""
    root = Path(tempfile.mkdtemp(prefix="churnml-mlflow-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed in finally
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [
            _mlflow_executable(),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (root / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(
                    f"mlflow server on port {port} did not become healthy "
                    f"(exit code {process.poll()}):\n{tail}"
                )
            time.sleep(0.25)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # manual check: python tests/services/mlflow_server.py
    started_at = time.perf_counter()
    with mlflow_server() as uri:
        print(uri, f"up in {time.perf_counter() - started_at:.1f} s")
