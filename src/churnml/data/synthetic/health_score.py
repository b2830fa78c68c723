"""A vendor-style health score for the synthetic world: the scorecard a CS platform would show.

Customer-success platforms score account health with a weighted scorecard of a few signals,
each mapped to points by fixed thresholds a CS leader chose. This one is built from the native
tables the way such a platform would, point in time on the first day of every month, for every
customer (100 points):

==============================  ======  ==================================================
signal                          points  thresholds
==============================  ======  ==================================================
seats active in the last 30 d    40     80 %+ 40, 60 %+ 28, 40 %+ 16, any 6, none 0, unknown 20
days since the last activity     15     up to 3 d 15, up to 10 d 8, more 0
support tickets, last 30 d       20     none 20, 1-2 12, 3-5 5, more 0
latest NPS response              25     9-10 25, 7-8 15, 5-6 6, 0-4 0, none 12
==============================  ======  ==================================================

plus a CSM's sticky "gut feel" per account (normal, sd 6 points) and monthly noise (sd 3), both
drawn from a hash of the seed, the account and the date (so a score depends only on the data
before its date); clipped to 0-100. Bands: green from 70, red below 40, yellow between.

Its blind spots are the realistic ones: it never looks at champions or sponsors leaving, at the
success plan's goals, at escalations or ticket severity, or at how old the NPS response is, and
it reads usage volume, not breadth or trend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GREEN_FROM = 70
RED_BELOW = 40
INDICATORS = (
    "active_users_30d", "seats", "license_utilization_30d", "days_since_last_activity",
    "tickets_30d", "nps_latest_score",
)  # fmt: skip
#: indicator -> (lower bounds, points per band from the highest bound down, points when missing)
SCORECARD = {
    "license_utilization_30d": ((0.8, 0.6, 0.4, 1e-9), (40, 28, 16, 6), 0, 20),
    "nps_latest_score": ((9, 7, 5), (25, 15, 6), 0, 12),
}
GUT_FEEL_SD = 6.0
NOISE_SD = 3.0


def _points(values: np.ndarray, bounds, points, below, missing) -> np.ndarray:
    """Points for values at or above each bound (highest first), ``below`` under the last."""
    out = np.full(values.shape, float(below))
    for bound, p in zip(bounds[::-1], points[::-1]):
        out = np.where(values >= bound, float(p), out)
    return np.where(np.isnan(values), float(missing), out)


def _scorecard(features: pd.DataFrame) -> np.ndarray:
    def col(name):
        return pd.to_numeric(features[name]).to_numpy(dtype=np.float64, na_value=np.nan)

    points = sum(_points(col(name), *rule) for name, rule in SCORECARD.items())
    recency = col("days_since_last_activity")
    points = points + np.where(recency <= 3, 15.0, np.where(recency <= 10, 8.0, 0.0))
    tickets = np.nan_to_num(col("tickets_30d"))
    return points + np.select([tickets == 0, tickets <= 2, tickets <= 5], [20.0, 12.0, 5.0], 0.0)


def band(score) -> np.ndarray:
    """red / yellow / green of a 0-100 health score (:data:`RED_BELOW`, :data:`GREEN_FROM`)."""
    score = np.asarray(score, dtype=np.float64)
    return np.where(score >= GREEN_FROM, "green", np.where(score < RED_BELOW, "red", "yellow"))


def _normal(keys: pd.Series, seed: int) -> np.ndarray:
    """A standard normal value per key, fixed by the key and ``seed`` alone."""
    from scipy.special import ndtri

    hashed = pd.util.hash_pandas_object(keys.astype(str), index=False, hash_key=_hash_key(seed))
    return ndtri((hashed.to_numpy(dtype=np.uint64) >> np.uint64(11)) * 2.0**-53 + 2.0**-54)


def _hash_key(seed: int) -> str:
    """A 16-character hash key for pandas' hashing, from the seed."""
    return f"churnml{int(seed) % 10**9:09d}"


def vendor_health_scores(tables: dict, *, seed: int = 0) -> pd.DataFrame:
    """The vendor health score of every customer on the first day of every month of the data.

    Parameters
    ----------
    tables : dict of DataFrame
        The synthetic (or any contract) tables.
    seed : int
        Seeds the CSM's gut feel and the monthly noise.

    Returns
    -------
    DataFrame
        account_id, date (the scoring day; the score reads only data before it), health_score
        (0-100 integer, higher is healthier) and health (red / yellow / green).

    Examples
    --------
    >>> from churnml.datasets import make_saas
    >>> scores = vendor_health_scores(make_saas(n_accounts=40, months=6, seed=1))
    >>> sorted(scores["health"].unique()) <= ["green", "red", "yellow"]
    True
    """
    from churnml.features.catalog import Catalog, load_catalog
    from churnml.features.engine import build_features
    from churnml.snapshots import data_period, make_spine

    first, last = data_period(tables)
    start = (first + pd.offsets.MonthBegin(1)).normalize()
    spine = make_spine(tables, start=start, end=last, cadence="monthly", label="window")
    catalog = load_catalog()
    features = build_features(tables, spine, Catalog([catalog[i] for i in INDICATORS]))
    accounts = features["account_id"].astype("string")
    dates = pd.to_datetime(features["as_of"]).dt.strftime("%Y-%m-%d")
    gut_feel = GUT_FEEL_SD * _normal(accounts, seed)
    noise = NOISE_SD * _normal(accounts + "|" + dates, seed)
    score = np.clip(np.rint(_scorecard(features) + gut_feel + noise), 0, 100).astype(np.int16)
    out = pd.DataFrame(
        {
            "account_id": accounts.to_numpy(),
            "date": pd.to_datetime(features["as_of"]).astype("datetime64[ns]").to_numpy(),
            "health_score": score,
            "health": pd.array(band(score), dtype="string"),
        }
    )
    return out.sort_values(["date", "account_id"], kind="stable").reset_index(drop=True)
