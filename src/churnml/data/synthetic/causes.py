"""Why a renewal churns: the churn log-odds as a sum of the drivers' effects, plus noise.

For every term the world decides, each driver (:mod:`churnml.data.synthetic.drivers`) adds an
effect to the log-odds of churn, read from its state just before the decision:

- **adoption** (chronic): the adoption level of the last three months, and its fall against the
  three months before;
- **relationship** (acute, and chronic without a sponsor): the gap left by a champion or decision
  maker who left (largest in the weeks after the departure, halved once a successor starts);
- **support** (acute): the account's defect load of the last three months (escalation storms);
- **value** (chronic): the value realised over the last six months (goals met partly or fully);
- **sentiment** (chronic): opinion beyond what the others explain, last three months;
- **commercial** (acute, unseen): budget pressure (which also shows as earlier downgrades) and a
  budget cut or price increase at this renewal, which no table shows.

Each driver's risk starts only beyond a threshold (a sharp but smooth hinge): most accounts
carry little risk from any one driver, a few carry much, as in real books.

Each effect is centred on its mean over the decided terms, like a SHAP value on the expected
value, so ``log_odds = base + sum(contributions) + noise`` and a driver's contribution says how
much it moved this renewal away from a typical one. The largest contribution of a churned term is
its **primary driver**, the true cause an explanation should name. ``base`` holds the intercept
(set for the churn rate) and the lower per-term churn of monthly billing.

Each driver maps onto the indicator family that observes it (:data:`DRIVER_FAMILY`); commercial
pressure maps onto ``contract`` (ARR, seats, earlier downgrades, renewal calendar).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.drivers import relationship_gap, window_mean

DRIVERS = ("adoption", "relationship", "support", "value", "sentiment", "commercial")
#: the world's drivers onto the catalog's indicator families
DRIVER_FAMILY = {
    "adoption": "usage",
    "relationship": "champion",
    "support": "support",
    "value": "value",
    "sentiment": "nps",
    "commercial": "contract",
}
#: (log-odds per unit, the state beyond which the risk starts) of each driver's risk signal
ADOPTION, ADOPTION_FALL = (1.7, 0.6), 0.8  # low adoption; a fall weighs 0.8 of a low level
RELATIONSHIP = (1.4, 0.0)  # the relationship gap
SUPPORT = (1.4, 0.1)  # defect load
VALUE = (1.85, 0.5)  # value not realised
SENTIMENT = (1.6, 0.45)  # sour opinion
BUDGET, SHOCK, SHOCK_SHARE = (1.0, 0.0), 2.4, 0.025  # budget pressure; a cut or price rise
NOTICE_MONTHS = 2  # the decision reads the drivers up to the months before the notice period
SHARPNESS = 8.0  # how abruptly risk starts at a driver's threshold (softplus sharpness)
MONTHLY_OFFSET = -1.6  # month-to-month terms churn far less per term
NOISE_SD = 0.1  # what no driver explains


def driver_effects(w, acct: np.ndarray, end: np.ndarray, shock: np.ndarray) -> pd.DataFrame:
    """Each driver's (uncentred) effect on the log-odds of churn at the terms ending at ``end``.

    Parameters
    ----------
    w : World
    acct : ndarray of int
        Account position of each term.
    end : ndarray of datetime64[D]
        The terms' end dates; the decision reads the months before the month of ``end``.
    shock : ndarray of bool
        Terms hit by a budget cut or price increase at the renewal.
    """
    last = np.searchsorted(w.month_starts, end.astype("datetime64[D]")) - 1 - NOTICE_MONTHS
    level = window_mean(w.adoption, acct, last, 3)
    before = window_mean(w.adoption, acct, last - 3, 3)
    decided = end.astype("datetime64[D]") - np.timedelta64(int(NOTICE_MONTHS * 30), "D")
    effects = pd.DataFrame(
        {
            "adoption": _risk(-level + ADOPTION_FALL * (before - level), *ADOPTION),
            "relationship": _risk(relationship_gap(w, acct, decided), *RELATIONSHIP),
            "support": _risk(window_mean(w.friction, acct, last, 4), *SUPPORT),
            "value": _risk(-window_mean(w.value, acct, last, 9), *VALUE),
            "sentiment": _risk(-window_mean(w.sentiment, acct, last, 6), *SENTIMENT),
            "commercial": _risk(w.budget[acct], *BUDGET) + SHOCK * shock,
        }
    )
    return effects


def _risk(signal: np.ndarray, slope: float, start: float) -> np.ndarray:
    """``slope`` log-odds per unit of ``signal`` beyond ``start``, smoothly zero before it (a
    softplus): an account far above the risky range is not made ever safer."""
    return slope * np.logaddexp(0.0, SHARPNESS * (signal - start)) / SHARPNESS


def contributions(effects: pd.DataFrame, decided: np.ndarray) -> pd.DataFrame:
    """Effects centred on their mean over the ``decided`` terms (NaN for the others)."""
    centred = effects - effects[decided].mean() if decided.any() else effects * 0.0
    return centred.where(pd.Series(decided, index=effects.index), np.nan, axis=0)


def primary_driver(contrib: pd.DataFrame) -> np.ndarray:
    """The driver with the largest contribution per term (None where none is known)."""
    values = contrib[list(DRIVERS)].to_numpy(dtype=float)
    known = ~np.isnan(values).all(axis=1)
    best = np.argmax(np.where(np.isnan(values), -np.inf, values), axis=1)
    return np.where(known, np.asarray(DRIVERS, dtype=object)[best], None)
