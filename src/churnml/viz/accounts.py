"""Per-account waterfall: how each shown driver moves the risk from the base rate."""

from __future__ import annotations

import pandas as pd


def plot_account_waterfall(
    scores: pd.DataFrame,
    explanations: pd.DataFrame,
    account_id: str,
    *,
    families: pd.DataFrame | None = None,
):
    """Horizontal waterfall of one account's shown drivers and protective factors (log-odds),
    or of its risk areas (every family's summed contribution) when ``families`` is given.

    Parameters
    ----------
    scores : DataFrame
        The frame returned by :func:`churnml.score` (needs ``base_value`` and ``log_odds``).
    explanations : DataFrame
        The long frame from :func:`churnml.explain` (``indicator``, ``contribution``, ``sentence``).
    account_id : str
        The account to draw.
    families : DataFrame, optional
        The per-family sums (``ScoringResult.families``): draw the account's areas instead of
        its indicators; they add up to its log-odds exactly.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    row = scores.loc[scores["account_id"].astype(str) == str(account_id)]
    if row.empty:
        raise KeyError(f"account_id {account_id!r} is not in the scores frame ({len(scores)} rows)")
    row = row.iloc[0]
    if families is not None:
        from churnml.features.catalog import area_label

        shown = families[families["account_id"].astype(str) == str(account_id)]
        names = [area_label(f) for f in shown["family"]]
    else:  # indicator rows only (a leading area without one has a generic sentence row)
        shown = explanations[explanations["account_id"].astype(str) == str(account_id)]
        shown = shown[shown["indicator"].notna()]
        names = list(shown["indicator"].astype(str))
    order = shown["contribution"].abs().to_numpy().argsort(kind="stable")[::-1]
    shown, names = shown.iloc[order], [names[i] for i in order]
    base, final = float(row["base_value"]), float(row["log_odds"])
    rest = final - base - float(shown["contribution"].sum())
    # read top to bottom: from the average account, strongest driver first, to this account
    other = "not in any area" if families is not None else "all other indicators"
    labels = ["average account", *names, other, "this account"]
    steps = [*shown["contribution"].astype(float), rest]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(labels) + 1.4))
    ax.barh(0, base, color="#8a949c")
    left = base
    for y, step in enumerate(steps, start=1):
        ax.barh(y, step, left=left, color="#c0392b" if step > 0 else "#2e7d4f")
        ax.annotate(f"{step:+.2f}", (max(left, left + step), y), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
        left += step
    ax.barh(len(labels) - 1, final, color="#8a949c")
    ax.axvline(0, color="black", lw=0.6)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.use_sticky_edges = False  # room around the bars, so every start and end is visible
    ax.margins(x=0.08)
    name = row.get("name", account_id)
    ax.set_title(f"{name}: score {row.get('score', '')} ({row.get('tier', '')})", fontsize=11)
    ax.set_xlabel("log-odds of non-renewal (red bars raise risk, green bars lower it)")
    fig.tight_layout()
    return fig
