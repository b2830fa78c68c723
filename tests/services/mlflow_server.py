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


class Server:
    """A started server: ``url`` and ``wait()`` (block until ``/health`` answers)."""

    def __init__(self, url, process, root, log, timeout):
        self.url, self.process, self.root, self.log, self.timeout = url, process, root, log, timeout
        self.started_at = time.monotonic()

    def wait(self) -> str:
        deadline = self.started_at + self.timeout
        while not _healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.flush()
                tail = (self.root / "server.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(
                    f"mlflow server at {self.url} did not become healthy within {self.timeout} s "
                    f"(exit code {self.process.poll()}):\n{tail}"
                )
            time.sleep(0.25)
        return self.url


@contextmanager
def mlflow_server(timeout: float = 300.0, *, wait: bool = True):
    """Run ``mlflow server`` for the duration of the ``with`` block; yields its tracking URI, or
    with ``wait=False`` at once a :class:`Server` (call ``.wait()`` before using it), so a test
    can do other work while the server starts (it takes 20 s to minutes on a busy machine)."""
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
        server = Server(url, process, root, log, timeout)
        yield server.wait() if wait else server
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
