"""Point-in-time indicators: the declarative catalog, the DuckDB engine and the indicator report."""

from churnml.features.catalog import Catalog, Indicator, load_catalog
from churnml.features.engine import build_features, feature_columns

__all__ = ["Catalog", "Indicator", "build_features", "feature_columns", "load_catalog"]
