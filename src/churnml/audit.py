"""Audit an existing health score: the team's own score beside the model on the same snapshots.

Most CS teams already have a health score (0-100, or red / yellow / green) from their CS
platform, per account and date. :func:`audit_health_score` puts it beside the model on the
model's own out-of-time test snapshots — the latest resolved ``as_of`` dates, from the training
run's ``test_start`` on — scored by the model that was evaluated there (the registered version's
held-out model, which never saw those outcomes). Each snapshot (account, ``as_of``) takes the
latest health score dated strictly before ``as_of`` and at most ``max_age_days`` old (the same
point-in-time rule as every indicator); snapshots without one are counted and left out, so both
scores are measured on the same rows:

- ROC-AUC and PR-AUC (a higher risk = a lower health score);
- at the team's capacity (``capacity`` accounts per ``as_of``, the model config's by default):
  lift (churn rate among them over the base rate), recall and the share of churned ARR captured;
- the share of churners among the accounts each score rates safest, as many as the existing
  score calls green (the same share for both, so neither gains from a wider green band);
- the disagreements: accounts that churned while the existing score called them green and the
  model flagged them (among the accounts it would have the team work at that capacity), and the
  reverse (the model's tier was green, the existing score flagged them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churnml.data.health_scores import read_health_scores
from churnml.errors import ChurnmlError

MAX_AGE_DAYS = 45
METRIC_TEXT = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "lift_at_capacity": "Lift at capacity",
    "recall_at_capacity": "Churners among the accounts worked",
    "arr_captured_at_capacity": "Churned ARR among the accounts worked",
    "churners_in_green_share": "Churners among the accounts rated safest",
}
DISAGREEMENTS = {
    "missed_by_health_score": "churned: green by the health score, flagged by the model",
    "missed_by_model": "churned: green by the model, flagged by the health score",
}


@dataclass
class HealthScoreAudit:
    """The existing health score beside the model on the same out-of-time snapshots.

    Attributes
    ----------
    metrics : DataFrame
        metric, label, model, health_score (one row per metric of :data:`METRIC_TEXT`).
    disagreements : DataFrame
        account_id, as_of, name, csm, arr, health_score, health, probability, tier, kind
        (:data:`DISAGREEMENTS`), one row per account (its latest test snapshot), most ARR first.
    summary : dict
        Test period and dates, rows, rows with a health score, churned, capacity, the model.
    """

    metrics: pd.DataFrame
    disagreements: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def format(self, examples: int = 5) -> str:
        """Printable text: the side-by-side table and the disagreements."""
        s = self.summary
        table = self.metrics.set_index("label")[["model", "health_score"]]
        lines = [
            (
                f"Out-of-time snapshots {s['test_dates'][0]} to {s['test_dates'][-1]}: "
                f"{s['rows']} rows with a health score ({s['churned']} churned; "
                f"{s['without_health_score']} without a health score left out); capacity "
                f"{s['capacity']} accounts per scoring date; model {s['model']}"
            ),
            table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="-"),
        ]
        for kind, text in DISAGREEMENTS.items():
            rows = self.disagreements[self.disagreements["kind"] == kind]
            noun = "account" if len(rows) == 1 else "accounts"
            lines.append(f"\n{len(rows)} {noun} {text}" + (":" if len(rows) else ""))
            for r in rows.head(examples).to_dict("records"):
                score = "" if pd.isna(r["health_score"]) else f"{r['health_score']:.0f} "
                name = r["account_id"] if pd.isna(r["name"]) else r["name"]
                lines.append(
                    f"  {name} ({r['account_id']}), ARR {r['arr']:,.0f}: health {score}"
                    f"{r['health']}, model {r['probability']:.0%} {r['tier']}"
                )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-ready: ``summary``, ``metrics`` and ``disagreements`` as records."""

        def records(frame):
            plain = frame.astype(object)
            return plain.where(frame.notna(), None).to_dict("records")

        disagreements = self.disagreements.assign(
            as_of=self.disagreements["as_of"].dt.strftime("%Y-%m-%d")
        )
        return {
            "summary": self.summary,
            "metrics": records(self.metrics),
            "disagreements": records(disagreements),
        }

    @classmethod
    def from_dict(cls, data: dict) -> HealthScoreAudit:
        """The audit written by :meth:`to_dict` (e.g. ``churnml audit --out audit.json``)."""
        disagreements = pd.DataFrame(data.get("disagreements") or [], columns=DISAGREEMENT_COLUMNS)
        disagreements["as_of"] = pd.to_datetime(disagreements["as_of"])
        return cls(pd.DataFrame(data["metrics"]), disagreements, dict(data["summary"]))


DISAGREEMENT_COLUMNS = [
    "account_id", "as_of", "name", "csm", "arr", "health_score", "health", "probability", "tier",
    "kind",
]  # fmt: skip


def _model_parts(model) -> tuple:
    """(the model to score the test snapshots with, its config, training info, a description):
    a registered version's held-out model, or the given fitted model."""
    if isinstance(model, (str, Path)):
        from churnml.model.registry import load_model, load_wrapper

        loaded = load_model(str(model))
        holdout = getattr(load_wrapper(str(model)), "holdout", None)
        name = f"{model} (version {loaded.model_version_})" if loaded.model_version_ else str(model)
        if holdout is None:
            return loaded, loaded.config_, loaded.training_info_, f"{name}, deployed model"
        for attr in ("catalog_", "config_", "training_info_"):
            setattr(holdout, attr, getattr(loaded, attr))
        return holdout, loaded.config_, loaded.training_info_, f"{name}, held-out model"
    from churnml.model.config import load_config

    config = getattr(model, "config_", None) or load_config()
    return model, config, dict(getattr(model, "training_info_", None) or {}), "the given model"


def out_of_time_snapshots(tables: dict, model, config, info: dict) -> pd.DataFrame:
    """Features and labels of the model's out-of-time test snapshots: the resolved ``as_of``
    dates from ``info["test_start"]`` on, else the latest ``config.test_snapshots`` of them."""
    from churnml.features.engine import build_features
    from churnml.snapshots import data_period, make_spine

    first, last = data_period(tables)
    label = info.get("label") or config.label
    options = {"horizon_days": config.horizon_days, "label": label,
               "downgrade_churn_share": config.downgrade_churn_share}  # fmt: skip
    spine = make_spine(tables, start=first, end=last, cadence=config.cadence, **options)
    resolved = spine.groupby("as_of")["label"].apply(lambda s: s.notna().mean() >= 0.9)
    dates = resolved.index[resolved.to_numpy(dtype=bool)]
    if info.get("test_start"):
        dates = dates[dates >= pd.Timestamp(info["test_start"])]
    else:
        dates = dates[-max(1, int(config.test_snapshots)) :]
    if len(dates) == 0:
        raise ChurnmlError(
            f"audit: no resolved snapshot from the model's test start {info.get('test_start')} "
            f"to the end of the data ({last.date()})",
            hint="audit on the data the model was trained on (its test snapshots must be resolved)",
        )
    test = spine[spine["as_of"].isin(dates) & spine["label"].notna()]
    return build_features(tables, test.reset_index(drop=True), getattr(model, "catalog_", None))


def _join(test: pd.DataFrame, health: pd.DataFrame, max_age_days: int) -> pd.DataFrame:
    """Each snapshot with the latest health score dated before its as_of (NaN when none, or
    older than ``max_age_days``)."""
    left = test.assign(
        account_id=test["account_id"].astype("string"),
        as_of=pd.to_datetime(test["as_of"]).astype("datetime64[ns]"),
        _row=np.arange(len(test)),
    ).sort_values("as_of", kind="stable")
    right = health.rename(columns={"date": "_health_date"}).sort_values("_health_date")
    right = right.assign(as_of=right["_health_date"])
    joined = pd.merge_asof(
        left, right, on="as_of", by="account_id", allow_exact_matches=False,
        direction="backward", tolerance=pd.Timedelta(days=int(max_age_days)),
    )  # fmt: skip
    return joined.sort_values("_row").reset_index(drop=True)


def worked(risk, as_of, capacity: int) -> np.ndarray:
    """True for the ``capacity`` riskiest rows of each ``as_of`` (the accounts a team works)."""
    from churnml.model.evaluation import top_mask

    counts = pd.Series(as_of).value_counts()
    return top_mask(risk, as_of, {d: min(int(capacity), int(c)) for d, c in counts.items()})


def _metrics(y, scores: dict, tops: dict, arr, green_share: float) -> pd.DataFrame:
    """One row per metric with a column per score (see the module docstring); ``tops`` marks
    each score's worked accounts."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    churned_arr = np.nan_to_num(arr) * y
    rows = {m: {"metric": m, "label": t} for m, t in METRIC_TEXT.items()}
    rows["churners_in_green_share"]["label"] += f" ({green_share:.0%}, the health score's green)"
    safest = round(green_share * len(y))
    for name, risk in scores.items():
        top = tops[name]
        safe = np.zeros(len(y), dtype=bool)
        safe[np.argsort(risk, kind="stable")[:safest]] = True
        values = {
            "roc_auc": roc_auc_score(y, risk),
            "pr_auc": average_precision_score(y, risk),
            "lift_at_capacity": y[top].mean() / y.mean(),
            "recall_at_capacity": y[top].sum() / y.sum(),
            "arr_captured_at_capacity": churned_arr[top].sum() / churned_arr.sum(),
            "churners_in_green_share": y[safe].sum() / y.sum(),
        }
        for metric, value in values.items():
            rows[metric][name] = float(value)
    return pd.DataFrame(list(rows.values()))


def _disagreements(rows: pd.DataFrame, tables: dict) -> pd.DataFrame:
    """Churned accounts one score called green while the other flagged them (``worked_*``),
    latest snapshot each."""
    churned = rows[rows["label"] == 1]
    kinds = np.select(
        [(churned["health"] == "green") & churned["worked_model"],
         (churned["tier"] == "green") & churned["worked_health_score"]],
        list(DISAGREEMENTS), default="",
    )  # fmt: skip
    out = churned.assign(kind=kinds)
    out = out[out["kind"] != ""].sort_values("as_of").drop_duplicates("account_id", keep="last")
    accounts = tables.get("accounts")
    if accounts is not None and "account_id" in accounts:
        info = accounts.drop_duplicates("account_id").set_index(
            accounts["account_id"].astype("string")
        )
        for column in ("name", "csm"):
            if column in info:
                out[column] = out["account_id"].map(info[column].astype("string"))
    for column in ("name", "csm"):
        if column not in out:
            out[column] = pd.NA
    out = out.sort_values(["kind", "arr"], ascending=[True, False], kind="stable")
    return out.reindex(columns=DISAGREEMENT_COLUMNS).reset_index(drop=True)


def audit_health_score(
    health_scores,
    data=None,
    *,
    model="models:/churnml@champion",
    mapping=None,
    capacity: int | None = None,
    max_age_days: int = MAX_AGE_DAYS,
    green_from: float = 70,
    red_below: float = 40,
    seed: int = 0,
) -> HealthScoreAudit:
    """Put an existing health score beside the model on the model's out-of-time snapshots.

    Parameters
    ----------
    health_scores : str, Path or DataFrame
        The existing score per account and date (see :func:`churnml.data.health_scores.read_health_scores`).
    data : str, Path or dict, optional
        The customer tables the model was trained on (anything ``load_tables`` reads).
    model : str or ChurnModel
        A registry URI (its held-out model scores the test snapshots) or a fitted model.
    mapping : str, Path or dict, optional
        Mapping for ``load_tables``.
    capacity : int, optional
        Accounts the team works per scoring date; default the model config's ``capacity``.
    max_age_days : int
        A health score older than this at a snapshot's ``as_of`` counts as missing.
    green_from, red_below : float
        Bands of a numeric health score without a band column.
    seed : int
        Breaks ties between equal scores at random (bands tie a lot), reproducibly.

    Returns
    -------
    HealthScoreAudit

    Examples
    --------
    >>> audit = audit_health_score("health_scores.csv", "data/")  # doctest: +SKIP
    >>> print(audit.format())  # doctest: +SKIP
    """
    from churnml.data.load import load_tables
    from churnml.scoring.tiers import assign_tiers, model_base_rate

    health = read_health_scores(health_scores, green_from=green_from, red_below=red_below)
    model, config, info, described = _model_parts(model)
    tables = data if isinstance(data, dict) else load_tables(data, mapping)
    test = out_of_time_snapshots(tables, model, config, info)
    joined = _join(test, health, max_age_days)
    has = joined["risk"].notna().to_numpy()
    if not has.any():
        raise ChurnmlError(
            f"audit: none of the {len(test)} test snapshots ({_dates_text(test)}) has a health "
            f"score dated before its as_of within {max_age_days} days",
            hint="check the health scores' account ids and dates against the data",
        )
    rows = joined[has].sample(frac=1.0, random_state=seed).reset_index(drop=True)  # random ties
    probability = model.predict_proba(rows)[:, 1]
    tiers = assign_tiers(probability, tiers=config.tiers, base_rate=model_base_rate(model))
    capacity = int(capacity or config.capacity)
    scores = {"model": probability, "health_score": rows["risk"].to_numpy(dtype=np.float64)}
    tops = {name: worked(risk, rows["as_of"].to_numpy(), capacity) for name, risk in scores.items()}
    rows = rows.assign(
        probability=probability, tier=np.asarray(tiers, dtype=object),
        worked_model=tops["model"], worked_health_score=tops["health_score"],
    )  # fmt: skip
    y = rows["label"].astype(int).to_numpy()
    metrics = _metrics(
        y, scores, tops, pd.to_numeric(rows["arr"]).to_numpy(dtype=np.float64),
        float((rows["health"] == "green").mean()),
    )  # fmt: skip
    summary = {
        "test_dates": [str(d.date()) for d in sorted(pd.to_datetime(test["as_of"]).unique())],
        "snapshots": len(test),
        "rows": int(has.sum()),
        "without_health_score": int((~has).sum()),
        "churned": int(y.sum()),
        "capacity": capacity,
        "green_share": float((rows["health"] == "green").mean()),
        "model": described,
        "label": info.get("label") or config.label,
    }
    return HealthScoreAudit(metrics, _disagreements(rows, tables), summary)


def _dates_text(test: pd.DataFrame) -> str:
    dates = sorted(pd.to_datetime(test["as_of"]).dt.date.unique())
    return ", ".join(str(d) for d in dates[:4]) + (" ..." if len(dates) > 4 else "")


def write_audit(audit: HealthScoreAudit, path) -> Path:
    """Write ``audit`` as JSON atomically (what ``churnml report --audit`` reads)."""
    from churnml.scoring.atomic import write_json

    return write_json(audit.to_dict(), path)


def read_audit(path) -> HealthScoreAudit:
    """The audit written by :func:`write_audit`."""
    import json

    return HealthScoreAudit.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
