"""Leading indicators in the months before renewal, churned versus renewed accounts."""

from __future__ import annotations

import pandas as pd

DEFAULT_INDICATORS = (
    "active_users_change_30d",
    "license_utilization_30d",
    "high_priority_tickets_90d",
    "account_nps_180d",
    "champion_left_90d",
    "goals_achieved_share",
)


def leading_indicator_table(features: pd.DataFrame, indicators=DEFAULT_INDICATORS, *, label="label"):
    """Mean of each indicator by months before renewal and outcome (resolved snapshots only).

    Returns a tidy frame: indicator, months_to_renewal, outcome ("churned"/"renewed"), mean, n.
    """
    missing = [c for c in (label, "days_to_renewal") if c not in features.columns]
    if missing:
        raise ValueError(f"features frame is missing column(s) {missing} needed for this plot")
    present = [i for i in indicators if i in features.columns]
    if not present:
        raise ValueError(f"none of the indicators {list(indicators)} is in the features frame")
    resolved = features[features[label].notna()]
    frame = resolved[present].astype("float64").assign(
        # days 1-30 are month 0, ..., days 151-180 month 5: full 30-day buckets
        months_to_renewal=((resolved["days_to_renewal"].astype("float64") - 1).clip(lower=0) // 30)
        .astype(int),
        outcome=resolved[label].map({1: "churned", 0: "renewed"}).astype(str),
    )
    long = frame.melt(["months_to_renewal", "outcome"], var_name="indicator")
    return (
        long.groupby(["indicator", "months_to_renewal", "outcome"], observed=True)["value"]
        .agg(mean="mean", n="count")
        .reset_index()
    )


def plot_leading_indicators(features: pd.DataFrame, indicators=DEFAULT_INDICATORS, *, label="label"):
    """One small panel per indicator: churned (red) vs renewed (blue) as renewal approaches.

    Parameters
    ----------
    features : DataFrame
        Output of :func:`churnml.build_features` (needs ``label`` and ``days_to_renewal``).
    indicators : sequence of str
        Indicator ids to draw; ids missing from the frame are left out.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    table = leading_indicator_table(features, indicators, label=label)
    names = list(dict.fromkeys(table["indicator"]))
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    colours = {"churned": "#c0392b", "renewed": "#2e6da4"}
    for ax, name in zip(axes.flat, names):
        part = table[table["indicator"] == name]
        for outcome, line in part.groupby("outcome"):
            ax.plot(line["months_to_renewal"], line["mean"], marker="o", label=outcome,
                    color=colours.get(outcome))
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("months to renewal")
        ax.invert_xaxis()
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(frameon=False)
    fig.tight_layout()
    return fig
