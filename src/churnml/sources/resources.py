"""How much of the machine DuckDB may use: every core, and a memory limit from the data and the
machine, so the usage reduction runs in memory instead of spilling to disk.

The limit is eight times the bytes of the source's data (its Parquet / DuckDB files on disk, or a
database's Arrow result in memory), at least 1 GB, and at most half the memory the machine has
available when the connection opens (the kernel's ``MemAvailable``). Eight: usage decoded to
integer columns takes about four times its Parquet bytes, and the hash tables that reduce it as
much again; at four times, 20,000 accounts' usage (258 MB of Parquet) spilled and the whole catalog
took twice as long (``benchmarks/RESULTS.md``). DuckDB takes only the memory it uses: a higher
limit costs a small source nothing. Beyond the limit DuckDB still spills to a temporary folder
rather than fail. ``CHURNML_DUCKDB_MEMORY`` (e.g. ``6GB``) overrides it,
``CHURNML_DUCKDB_THREADS`` the threads.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["duckdb_settings", "memory_limit_bytes"]

MIN_BYTES = 1 << 30
DATA_FACTOR = 8


def _available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * MIN_BYTES


def memory_limit_bytes(data_bytes: int) -> int:
    """``DATA_FACTOR`` x ``data_bytes``, within [1 GB, half the available memory]."""
    ceiling = max(MIN_BYTES, _available() // 2)
    return int(min(max(MIN_BYTES, DATA_FACTOR * int(data_bytes)), ceiling))


def duckdb_settings(data_bytes: int, temp_directory: str | None = None) -> dict:
    """DuckDB settings for a source holding ``data_bytes`` (see the module docstring)."""
    limit = os.environ.get("CHURNML_DUCKDB_MEMORY") or f"{memory_limit_bytes(data_bytes) >> 20}MB"
    threads = int(os.environ.get("CHURNML_DUCKDB_THREADS") or max(2, os.cpu_count() or 2))
    out = {"threads": threads, "memory_limit": limit}
    if temp_directory is not None:
        out["temp_directory"] = str(temp_directory)
    return out
