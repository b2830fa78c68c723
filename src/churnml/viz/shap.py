"""SHAP summary for notebooks."""

from __future__ import annotations


def plot_shap_summary(model, features, **options):
    """Beeswarm SHAP summary of ``model`` over ``features``, shown inline in a notebook.

    The figure is :func:`churnml.model.plots.shap_summary_figure` (the one MLflow logs), which is
    built without pyplot; pyplot's backend is loaded first so that Jupyter displays it inline.

    Parameters
    ----------
    model : ChurnModel
    features : DataFrame
        Indicator frame (e.g. from :func:`churnml.build_features`).
    **options
        ``max_features``, ``max_rows``, ``seed`` of ``shap_summary_figure``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from churnml.model.plots import shap_summary_figure

    # pyplot loads its backend on the first figure; in Jupyter that backend is the inline one,
    # which also registers the display of figures returned by a cell (like this one)
    plt.close(plt.figure())

    return shap_summary_figure(model, features, **options)
