"""Per-account waterfall: how each shown driver moves the risk from the base rate."""

from __future__ import annotations

import pandas as pd


def plot_account_waterfall(scores: pd.DataFrame, explanations: pd.DataFrame, account_id: str):
    """Horizontal waterfall of one account's shown drivers and protective factors (log-odds).

    Parameters
    ----------
    scores : DataFrame
        The frame returned by :func:`churnml.score` (needs ``base_value`` and ``log_odds``).
    explanations : DataFrame
        The long frame from :func:`churnml.explain` (``indicator``, ``contribution``, ``sentence``).
    account_id : str
        The account to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    row = scores.loc[scores["account_id"].astype(str) == str(account_id)]
    if row.empty:
        raise KeyError(f"account_id {account_id!r} is not in the scores frame ({len(scores)} rows)")
    row = row.iloc[0]
    shown = explanations[explanations["account_id"].astype(str) == str(account_id)]
    shown = shown.reindex(shown["contribution"].abs().sort_values().index)
    base, final = float(row["base_value"]), float(row["log_odds"])
    rest = final - base - float(shown["contribution"].sum())
    labels = ["other indicators", *shown["indicator"].astype(str)]
    steps = [rest, *shown["contribution"].astype(float)]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(steps) + 1.6))
    left = base
    for y, (name, step) in enumerate(zip(labels, steps)):
        ax.barh(y, step, left=left, color="#c0392b" if step > 0 else "#2e6da4")
        left += step
    ax.set_yticks(range(len(labels)), labels)
    ax.axvline(base, color="grey", lw=0.8, ls="--")
    ax.axvline(final, color="black", lw=0.8)
    name = row.get("name", account_id)
    ax.set_title(f"{name}: score {row.get('score', '')} ({row.get('tier', '')})", fontsize=11)
    ax.set_xlabel("log-odds of non-renewal (dashed: base rate, solid: this account)")
    fig.tight_layout()
    return fig
