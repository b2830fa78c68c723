"""Where customer tables come from: packaged presets for the standard warehouse schemas of CRM,
billing, support, product-analytics and survey tools, and the mapping scaffold ``churnml init``."""

from churnml.sources.preset_spec import load_preset, preset_names
from churnml.sources.preset_sql import compose

__all__ = ["compose", "load_preset", "preset_names"]
