"""Matplotlib figures for notebooks: leading indicators before renewal and per-account waterfalls.

Each function takes the tidy frames the pipeline returns and only draws them.
"""

from churnml.model.plots import shap_summary_figure
from churnml.viz.accounts import plot_account_waterfall
from churnml.viz.indicators import plot_leading_indicators

__all__ = ["plot_account_waterfall", "plot_leading_indicators", "shap_summary_figure"]
