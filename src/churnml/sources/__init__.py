"""Where customer tables come from: folders of files, DuckDB files and database URLs (read lazily
where they lie), packaged presets for the standard warehouse schemas of CRM, billing, support,
product-analytics and survey tools, and the mapping scaffold ``churnml init``."""

from churnml.sources.init import init_mapping, propose_mapping
from churnml.sources.lazy import LazyTable
from churnml.sources.preset_spec import load_preset, preset_names
from churnml.sources.preset_sql import compose
from churnml.sources.preview import preview_tables
from churnml.sources.urls import expand_env, is_database_url, redact

__all__ = ["LazyTable", "compose", "expand_env", "init_mapping", "is_database_url", "load_preset",
           "preset_names", "preview_tables", "propose_mapping", "redact"]
