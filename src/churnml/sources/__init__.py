"""Where customer tables come from: folders of files, DuckDB files and database URLs, and the
lazy usage table that DuckDB reads where it lies."""

from churnml.sources.lazy import LazyTable
from churnml.sources.urls import expand_env, is_database_url, redact

__all__ = ["LazyTable", "expand_env", "is_database_url", "redact"]
