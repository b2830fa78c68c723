"""Matplotlib figures for notebooks: leading indicators before renewal and per-account waterfalls.

Each function takes the tidy frames the pipeline returns and only draws them.
"""

from churnml.viz.accounts import plot_account_waterfall
from churnml.viz.indicators import plot_leading_indicators
from churnml.viz.shap import plot_shap_summary

__all__ = ["plot_account_waterfall", "plot_leading_indicators", "plot_shap_summary"]
