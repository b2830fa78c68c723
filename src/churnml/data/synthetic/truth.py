"""Explanations measured against the synthetic world's true causes.

The world knows why each renewal churned: the oracle's ``primary_driver``, the driver with the
largest contribution to its log-odds (:mod:`churnml.data.synthetic.causes`), which maps onto the
indicator family that observes it (:data:`~churnml.data.synthetic.causes.DRIVER_FAMILY`:
adoption → usage, relationship → champion, support → support, value → value, sentiment → nps,
commercial → contract). An explanation ranks families per account; its **top-1 hit rate** is the
share of churned terms whose true family it ranks first, its **top-2 hit rate** the share it ranks
first or second. Three rankings are compared on the same rows:

- :func:`model_families`: the model's contributions summed per family (``churnml.explain``);
- :func:`scorecard_families`: the health scorecard's weakest component
  (:class:`churnml.model.baselines.HealthScore`), each component's risk on its family;
- :func:`permutation_families`: one global ranking, families by permutation importance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnml.data.synthetic.causes import DRIVER_FAMILY, DRIVERS

__all__ = [
    "churned_snapshots",
    "hit_rates",
    "measure_explanations",
    "model_families",
    "permutation_families",
    "red_list_diversity",
    "scorecard_families",
    "true_causes",
]


def true_causes(oracle: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The world's primary driver of each row's renewal term, and the family that observes it.

    Parameters
    ----------
    oracle : DataFrame
        ``make_saas(...)["oracle"]``.
    rows : DataFrame
        Snapshot rows with ``contract_id`` (a renewal-label spine or feature frame).

    Returns
    -------
    DataFrame
        Aligned with ``rows``: ``primary_driver``, ``true_family`` and one ``contribution_*``
        column per driver (NaN for terms the world did not decide inside its window).
    """
    columns = ["primary_driver"] + [f"contribution_{d}" for d in DRIVERS]
    lookup = oracle.drop_duplicates("contract_id").set_index("contract_id")[columns]
    out = lookup.reindex(rows["contract_id"].astype(str).to_numpy()).reset_index(drop=True)
    out.index = rows.index
    out.insert(1, "true_family", out["primary_driver"].map(DRIVER_FAMILY).astype("string"))
    return out


def churned_snapshots(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest snapshot of every churned renewal term (label 1), one row per ``contract_id``:
    what the CSM last saw before the customer decided."""
    churned = frame[frame["label"].eq(1).fillna(False).to_numpy(dtype=bool)]
    latest = churned.sort_values("as_of", kind="stable").drop_duplicates("contract_id", keep="last")
    return latest.sort_index()


def hit_rates(ranking: pd.DataFrame, true_family) -> dict:
    """How often a family ranking names the true family first (top-1) or among two (top-2).

    Parameters
    ----------
    ranking : DataFrame
        One row per account, one column per family; higher = riskier (``-inf`` = not ranked).
    true_family : array-like
        The true family of each row; rows without one are left out.

    Returns
    -------
    dict
        ``top1``, ``top2`` (shares) and ``n`` (rows counted).

    Examples
    --------
    >>> ranking = pd.DataFrame({"usage": [3.0, 1.0], "support": [1.0, 2.0], "nps": [2.0, 0.0]})
    >>> hit_rates(ranking, ["nps", "usage"])
    {'top1': 0.0, 'top2': 1.0, 'n': 2}
    """
    truth = pd.Series(true_family, index=ranking.index, dtype="string")
    known = truth.notna().to_numpy()
    scores = ranking.to_numpy(dtype=float)[known]
    order = np.argsort(-scores, axis=1, kind="stable")[:, :2]
    named = np.asarray(ranking.columns, dtype=object)[order]
    truth = truth[known].to_numpy(dtype=object)
    first = named[:, 0] == truth
    second = (named[:, 1] == truth) if named.shape[1] > 1 else np.zeros_like(first)
    n = int(known.sum())
    return {
        "top1": float(first.mean()) if n else float("nan"),
        "top2": float((first | second).mean()) if n else float("nan"),
        "n": n,
    }


def model_families(model, rows: pd.DataFrame) -> pd.DataFrame:
    """The model's contributions summed per indicator family (rows × families), from
    :func:`churnml.explain.explain_all`."""
    from churnml.explain import explain_all

    families = explain_all(model, rows.reset_index(drop=True)).families
    n = len(rows)
    labels = families["family"].to_numpy(dtype=object)
    columns = list(dict.fromkeys(labels))
    values = families["contribution"].to_numpy(dtype=float).reshape(n, len(columns))
    return pd.DataFrame(values, columns=columns, index=rows.index)


def scorecard_families(scorecard, rows: pd.DataFrame, catalog) -> pd.DataFrame:
    """The health scorecard's component risks per family (the riskiest component of each family;
    families the scorecard has no component for are ``-inf``)."""
    risks = scorecard.component_risks(rows)
    family = {c: catalog[c].family for c in risks.columns}
    grouped = risks.T.groupby(pd.Series(family)).max().T
    for name in DRIVER_FAMILY.values():
        if name not in grouped:
            grouped[name] = -np.inf
    return grouped


def permutation_families(model, rows: pd.DataFrame, catalog, *, repeats: int = 3, seed: int = 0):
    """One global ranking: each family's permutation importance on ``rows`` (the drop in ROC-AUC
    when all its columns are shuffled together, mean of ``repeats``), the same for every row."""
    from sklearn.metrics import roc_auc_score

    y = rows["label"].astype(int).to_numpy()
    reference = roc_auc_score(y, model.predict_proba(rows)[:, 1])
    columns = [c for c in model.feature_names_in_ if c in catalog.ids]
    by_family = pd.Series({c: catalog[c].family for c in columns})
    rng = np.random.default_rng(seed)
    importance = {}
    for family, members in by_family.groupby(by_family):
        drops = []
        for _ in range(repeats):
            order = rng.permutation(len(rows))
            shuffled = rows.copy()
            for c in members.index:
                shuffled[c] = rows[c].to_numpy()[order]
            drops.append(reference - roc_auc_score(y, model.predict_proba(shuffled)[:, 1]))
        importance[family] = float(np.mean(drops))
    return pd.Series(importance).sort_values(ascending=False)


def red_list_diversity(scores: pd.DataFrame) -> dict:
    """Share of the most common top reason (``reason_code_1``) and play among red accounts."""
    red = scores[scores["tier"].astype("string").eq("red").fillna(False).to_numpy(dtype=bool)]
    out = {"red": len(red)}
    for column in ("reason_code_1", "play"):
        counts = red[column].astype("string").value_counts(dropna=True)
        out[f"{column}_top"] = counts.index[0] if len(counts) else None
        out[f"{column}_share"] = float(counts.iloc[0] / len(red)) if len(red) else float("nan")
    return out


def measure_explanations(train_tables: dict, unseen_tables: dict, *, trials=3, dates=6) -> dict:
    """Train like ``churnml train`` (no MLflow) on one world, judge its explanations on another.

    Parameters
    ----------
    train_tables, unseen_tables : dict of DataFrame
        ``make_saas`` outputs of two seeds; the model never sees ``unseen_tables``.
    trials : int
        Tuning trials.
    dates : int
        The red list is read over the unseen world's last ``dates`` monthly scoring dates.

    Returns
    -------
    dict
        ``hits`` (DataFrame: model, health_score, permutation × top1, top2, n: rankings of the
        latest snapshot of each churned term against its true family), ``causes`` (the true family
        mix of those churns), ``permutation`` (family importances on the unseen world), ``red``
        (:func:`red_list_diversity` plus the mix and top share of the leading family).
    """
    from churnml.model.baselines import HealthScore
    from churnml.model.training import build_training_frame, train

    result = train(train_tables, trials=trials, log=False, progress=False, figures=False)
    model, catalog = result.model, result.model.catalog_
    frame = build_training_frame(unseen_tables, model.config_, catalog)
    rows = churned_snapshots(frame)
    truth = true_causes(unseen_tables["oracle"], rows)["true_family"]
    importance = permutation_families(model, frame[frame["label"].notna()], catalog)
    rankings = {
        "model": model_families(model, rows),
        "health_score": scorecard_families(HealthScore().fit(result.features), rows, catalog),
        "permutation": pd.DataFrame([importance.to_dict()] * len(rows), index=rows.index),
    }
    hits = pd.DataFrame({name: hit_rates(r, truth) for name, r in rankings.items()}).T
    return {
        "hits": hits,
        "causes": truth.value_counts(normalize=True),
        "permutation": importance,
        "red": _red_list(model, frame, dates),
    }


def _red_list(model, frame: pd.DataFrame, dates: int) -> dict:
    """Red-list diversity over the last ``dates`` scoring dates of ``frame``, with the share of
    the leading family (the family with the largest summed contribution) among red accounts."""
    from churnml.scoring.score import score_frame

    last = np.sort(frame["as_of"].unique())[-dates:]
    result = score_frame(model, frame[frame["as_of"].isin(last)].drop(columns=["label"]))
    top = result.families.sort_values("contribution", ascending=False, kind="stable")
    top = top.drop_duplicates(["account_id", "as_of"]).set_index(["account_id", "as_of"])["family"]
    scores = result.scores
    keys = pd.MultiIndex.from_frame(scores[["account_id", "as_of"]].astype({"account_id": str}))
    scores = scores.assign(top_family=top.reindex(keys).to_numpy())
    out = red_list_diversity(scores)
    red = scores[scores["tier"].astype("string").eq("red").fillna(False).to_numpy(dtype=bool)]
    families = red["top_family"].astype("string").value_counts(normalize=True)
    out["top_family_mix"] = {k: round(float(v), 3) for k, v in families.items()}
    out["top_family_share"] = float(families.iloc[0]) if len(families) else float("nan")
    return out
