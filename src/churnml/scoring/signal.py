"""Whether a model's scores can rank accounts at all ("no signal"), checked at every scoring run.

A model shows **no signal** when either holds:

- its scores barely vary across the scored accounts: the log-odds of the 90th and the 10th
  percentile account differ by less than :data:`MIN_SPREAD` (0.25, an odds ratio of 1.28). For a
  calibrated model whose log-odds are roughly normal this is what a ROC-AUC of about 0.53 gives;
  checked when at least :data:`MIN_ACCOUNTS` accounts are scored;
- its out-of-time test at training could not rule out chance: the lower end of the 95 % bootstrap
  interval of its test ROC-AUC (``training_info_["test_roc_auc_low"]``) is at or below 0.5.

Scoring then says so (a ``no_signal`` warning in the result, the manifest and the CLI digest),
marks no account red (a red tier, or a red list cut at a capacity, would rank accounts the model
cannot tell apart) and keeps the probabilities, which stay calibrated estimates of the book's risk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_SPREAD = 0.25
MIN_ACCOUNTS = 20
QUANTILES = (0.1, 0.9)


def log_odds_spread(probability) -> tuple[float, float, float]:
    """``(spread, p10, p90)``: the log-odds difference between the 90th and 10th percentile
    probabilities, and those probabilities.

    Examples
    --------
    >>> spread, low, high = log_odds_spread(np.linspace(0.109, 0.115, 50))
    >>> round(spread, 3), round(low, 4), round(high, 4)
    (0.048, 0.1096, 0.1144)
    """
    p = np.asarray(probability, dtype=np.float64)
    p = np.clip(p[~np.isnan(p)], 1e-9, 1 - 1e-9)
    if len(p) == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = np.quantile(p, QUANTILES)
    logit = np.log(np.array([low, high]) / (1 - np.array([low, high])))
    return float(logit[1] - logit[0]), float(low), float(high)


def _reasons(model, probability) -> list[str]:
    reasons = []
    n = int(np.count_nonzero(~np.isnan(np.asarray(probability, dtype=np.float64))))
    spread, low, high = log_odds_spread(probability)
    if n >= MIN_ACCOUNTS and spread < MIN_SPREAD:
        reasons.append(
            f"its scores barely vary: 80 % of the {n} accounts lie between probabilities "
            f"{low:.3f} and {high:.3f} (log-odds spread {spread:.2f}, below {MIN_SPREAD})"
        )
    info = getattr(model, "training_info_", None) or {}
    ci_low, ci_high = info.get("test_roc_auc_low"), info.get("test_roc_auc_high")
    if ci_low is not None and np.isfinite(ci_low) and ci_low <= 0.5:
        auc = info.get("test_roc_auc", float("nan"))
        reasons.append(
            f"its out-of-time test ROC-AUC {auc:.3f} (95 % interval {ci_low:.3f}–{ci_high:.3f}) "
            f"does not rule out chance"
        )
    return reasons


def signal_warning(model, probability, *, capacity=None) -> dict | None:
    """A ``no_signal`` warning (kind, indicator, count, message) or None when the model ranks.

    Parameters
    ----------
    model : ChurnModel
        Its ``training_info_`` (from ``train``) gives the test interval when present.
    probability : array-like
        The scored accounts' probabilities.
    capacity : int, optional
        The capacity asked for, named in the message as not applied.
    """
    reasons = _reasons(model, probability)
    if not reasons:
        return None
    cut = f"; the capacity of {capacity} is not applied" if capacity is not None else ""
    return {
        "kind": "no_signal",
        "indicator": None,
        "count": len(np.asarray(probability)),
        "message": (
            f"the model shows no signal: {' and '.join(reasons)}. No account is marked red{cut}: "
            f"a ranking of these accounts would be arbitrary. Retrain (churnml train prints the "
            f"champion gate) or score with a model that passed it"
        ),
    }


def withhold_red(tiers: pd.Categorical) -> pd.Categorical:
    """``tiers`` with every red one made amber (no red list from a model without signal)."""
    out = pd.Categorical(tiers, dtype=tiers.dtype)
    out[np.asarray(out == "red", dtype=bool)] = "amber"
    return out
