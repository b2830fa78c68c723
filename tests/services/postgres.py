"""Start a throw-away PostgreSQL server for tests, from Debian's server binaries.

``initdb`` and ``pg_ctl`` refuse to run as root, so when the tests run as root the server runs as
the unprivileged ``postgres`` user (``runuser -u postgres --``). The data directory and the unix
socket live in a fresh temporary folder; the server listens on 127.0.0.1 at a free port and trusts
local connections. :func:`postgres_server` is a context manager yielding a
``postgresql+psycopg://`` URL and stops the server (and removes the folder) on exit.

Run ``bash tests/services/install.sh`` when the binaries are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

SERVICE_USER = "postgres"


def pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


def ensure_installed() -> Path:
    """The binaries folder, running ``tests/services/install.sh`` first when they are missing."""
    found = pg_bin()
    if found is None:
        script = Path(__file__).with_name("install.sh")
        subprocess.run(["bash", str(script)], check=True)
        found = pg_bin()
    if found is None:
        raise RuntimeError("PostgreSQL server binaries not found after tests/services/install.sh")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", SERVICE_USER, "--", *args]


def _run(args, **kwargs):
    result = subprocess.run(
        _as_user([str(a) for a in args]), check=False, capture_output=True, text=True, **kwargs
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@contextmanager
def postgres_server(database: str = "churnml", timeout: float = 30.0):
    """Run PostgreSQL for the duration of the ``with`` block; yields its SQLAlchemy URL."""
    binaries = ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="churnml-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    user = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVICE_USER)
        user = SERVICE_USER
        for path in (root, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(root, 0o700)
    port = free_port()
    started = False
    try:
        _run(
            [
                binaries / "initdb",
                "-D",
                data,
                "-U",
                user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ]
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} "
            f"-c unix_socket_directories={sockets} -c fsync=off"
        )
        _run(
            [
                binaries / "pg_ctl",
                "-D",
                data,
                "-l",
                log,
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ]
        )
        started = True
        _run([binaries / "createdb", "-h", "127.0.0.1", "-p", port, "-U", user, database])
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run(
                _as_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # manual check: python tests/services/postgres.py
    started_at = time.perf_counter()
    with postgres_server() as url:
        print(url, f"up in {time.perf_counter() - started_at:.1f} s")
