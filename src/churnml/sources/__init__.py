"""Where customer tables come from: packaged presets for the standard warehouse schemas of CRM,
billing, support, product-analytics and survey tools, and the mapping scaffold ``churnml init``."""

from churnml.sources.init import init_mapping, propose_mapping
from churnml.sources.preset_spec import load_preset, preset_names
from churnml.sources.preset_sql import compose
from churnml.sources.preview import preview_tables

__all__ = ["compose", "init_mapping", "load_preset", "preset_names", "preview_tables",
           "propose_mapping"]
