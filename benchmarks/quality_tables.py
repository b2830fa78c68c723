"""The tables of the model-quality benchmark (``benchmarks/model_quality.py``).

Telco is read from ``../shared/data``; the synthetic regimes are generated here, seeded, each a
different reason why one baseline or the other wins on real churn tables:

* ``linear_2k`` — 2,000 rows, 22 % positives. Eight informative numeric columns (correlated in
  pairs, two with 5 % missing) enter the log-odds linearly, plus an additive three-level plan
  effect; four noise columns. The logistic regression's home ground: no interaction, no threshold.
* ``interactions_5k`` — 5,000 rows, 27 % positives. Churn comes from interactions of categories:
  a random effect for every (plan × industry) pair of 4 × 12 levels, a (region × channel) effect,
  a usage threshold that matters only on two plans, and a saturating tenure effect. Additive
  models miss the pairs; trees need enough rows per level.
* ``rare_10k`` — 10,000 rows, 7 % positives. A mix of linear terms, a step (no champion), a
  U-shape (seat utilisation far from 1 either way) and one interaction, all weak; the signal is
  spread thin, as in a low-churn enterprise book.
* ``irrelevant_3k`` — 3,000 rows, 25 % positives. Six informative columns (four linear, one
  threshold, one category) hidden among 120 noise numeric columns and 4 noise categories.

Every generator returns ``(X, y)``: a DataFrame with string categories (as a user's table would
have them) and a 0/1 integer array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: ``../shared/data`` seen from the repository (a worktree under ``wt/`` looks one level further up)
TELCO_CSV = next(
    (
        parent / "shared" / "data" / "telco_customer_churn.csv"
        for parent in Path(__file__).resolve().parents[1:4]
        if (parent / "shared" / "data" / "telco_customer_churn.csv").exists()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "data" / "telco_customer_churn.csv",
)


def _labels(rng, logit, rate):
    """0/1 labels from ``logit`` shifted so the expected positive share is ``rate``."""
    low, high = -20.0, 20.0
    for _ in range(60):  # bisection on the intercept
        mid = (low + high) / 2
        if (1 / (1 + np.exp(-(logit + mid)))).mean() < rate:
            low = mid
        else:
            high = mid
    p = 1 / (1 + np.exp(-(logit + low)))
    return (rng.random(len(p)) < p).astype(int)


def linear_2k(seed=0, n=2000):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6))
    cols = {}
    for i in range(4):  # correlated pairs
        cols[f"x{2 * i}"] = base[:, i]
        cols[f"x{2 * i + 1}"] = 0.6 * base[:, i] + 0.8 * rng.normal(size=n)
    for i in range(4):
        cols[f"noise{i}"] = rng.normal(size=n)
    X = pd.DataFrame(cols)
    X["plan"] = rng.choice(["basic", "pro", "enterprise"], n, p=[0.5, 0.3, 0.2])
    beta = np.array([0.9, -0.6, 0.5, 0.4, -0.7, 0.3, 0.35, -0.25])
    logit = X[[f"x{i}" for i in range(8)]].to_numpy() @ beta
    logit = logit + X["plan"].map({"basic": 0.4, "pro": 0.0, "enterprise": -0.5}).to_numpy()
    y = _labels(rng, logit, 0.22)
    for c in ("x1", "x4"):
        X.loc[rng.random(n) < 0.05, c] = np.nan
    return X, y


def interactions_5k(seed=0, n=5000):
    rng = np.random.default_rng(seed)
    plans = np.array(["starter", "team", "business", "enterprise"])
    industries = np.array([f"ind_{i:02d}" for i in range(12)])
    regions = np.array(["na", "emea", "apac", "latam", "anz"])
    channels = np.array(["direct", "partner", "self_serve"])
    plan = rng.integers(0, 4, n)
    industry = rng.integers(0, 12, n)
    region = rng.integers(0, 5, n)
    channel = rng.integers(0, 3, n)
    usage = rng.gamma(2.0, 1.0, n)
    tenure = rng.exponential(24, n)
    seats = rng.lognormal(3, 1, n)
    pair = rng.normal(0, 1.1, (4, 12))
    region_channel = rng.normal(0, 0.8, (5, 3))
    logit = pair[plan, industry] + region_channel[region, channel]
    logit = logit + np.where(np.isin(plan, [0, 1]) & (usage < 1.0), 1.5, 0.0)
    logit = logit - 1.2 * (1 - np.exp(-tenure / 12)) + 0.1 * rng.normal(size=n)
    X = pd.DataFrame(
        {
            "plan": plans[plan],
            "industry": industries[industry],
            "region": regions[region],
            "channel": channels[channel],
            "usage": usage,
            "tenure_months": tenure,
            "seats": seats,
            "nps": rng.integers(0, 11, n).astype(float),
        }
    )
    return X, _labels(rng, logit, 0.27)


def rare_10k(seed=0, n=10000):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "usage_change": rng.normal(0, 1, n),
            "tickets_90d": rng.poisson(1.5, n).astype(float),
            "nps": rng.integers(0, 11, n).astype(float),
            "utilisation": rng.beta(4, 3, n) * 1.6,
            "champion": rng.random(n) < 0.8,
            "tenure_months": rng.exponential(30, n),
            "arr": rng.lognormal(10, 1, n),
            "segment": rng.choice(["smb", "mid", "ent"], n, p=[0.5, 0.35, 0.15]),
        }
    )
    X.loc[rng.random(n) < 0.3, "nps"] = np.nan  # most accounts never answer
    nps = X["nps"].fillna(7).to_numpy()
    logit = -0.6 * X["usage_change"].to_numpy() + 0.25 * X["tickets_90d"].to_numpy()
    logit = logit - 0.12 * (nps - 7) + np.where(X["champion"], 0.0, 0.9)
    logit = logit + 1.4 * (X["utilisation"].to_numpy() - 1.0) ** 2
    logit = logit + np.where((X["segment"] == "smb") & (X["tenure_months"] < 12), 0.7, 0.0)
    return X, _labels(rng, logit, 0.07)


def irrelevant_3k(seed=0, n=3000, noise=120):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, 5))
    tier = rng.choice(["a", "b", "c", "d"], n)
    logit = signal[:, :4] @ np.array([0.8, -0.6, 0.5, 0.4]) + np.where(signal[:, 4] > 0.8, 1.0, 0)
    logit = logit + pd.Series(tier).map({"a": 0.5, "b": 0.0, "c": -0.3, "d": 0.2}).to_numpy()
    X = pd.DataFrame(signal, columns=[f"signal{i}" for i in range(5)])
    X["tier"] = tier
    noise_cols = pd.DataFrame(
        rng.normal(size=(n, noise)), columns=[f"noise{i:03d}" for i in range(noise)]
    )
    X = pd.concat([X, noise_cols], axis=1)
    for i in range(4):
        X[f"noise_cat{i}"] = rng.choice([f"l{j}" for j in range(6)], n)
    return X, _labels(rng, logit, 0.25)


def telco(path=TELCO_CSV):
    """IBM Telco churn: 7,043 rows, 19 features, ``customerID`` dropped, blanks missing."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    y = (raw.pop("Churn").str.strip() == "Yes").astype(int).to_numpy()
    raw = raw.drop(columns="customerID")
    X = raw.apply(lambda s: s.str.strip()).replace("", np.nan)
    for c in ("SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"):
        X[c] = pd.to_numeric(X[c], errors="coerce")
    return X, y


TABLES = {
    "telco": telco,
    "linear_2k": linear_2k,
    "interactions_5k": interactions_5k,
    "rare_10k": rare_10k,
    "irrelevant_3k": irrelevant_3k,
}
