"""The champion gate: whether a newly registered version may take the ``champion`` alias.

A version is promoted only when every check passes on the out-of-time test rows:

1. ``blockers``: no blocking reason was raised elsewhere (for example a probable leak found by the
   leakage guard: the train result's ``blockers`` list is passed in here);
2. ``above_chance``: the lower end of the 95 % bootstrap interval of its test ROC-AUC (accounts
   resampled, :func:`churnml.model.bootstrap.auc_interval`) is above 0.5;
3. ``beats_logistic`` and ``beats_health_score``: a higher ROC-AUC *and* a higher PR-AUC than
   each baseline fitted on the same rows;
4. ``beats_champion``: it beats the current champion on the same test rows
   (:func:`churnml.model.registry.challenge`), or there is no champion yet.

Otherwise the version is registered but not promoted, and the reason lists every failed check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BASELINES = ("logistic", "health_score")
CHANCE = 0.5


@dataclass(frozen=True)
class Check:
    """One gate check: ``name``, whether it ``passed``, and a ``detail`` with the figures."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateDecision:
    """The outcome of the gate.

    Attributes
    ----------
    promote : bool
        Whether the version takes the ``champion`` alias.
    reason : str
        Why: the failed checks, or what the version beat.
    checks : tuple of Check
    """

    promote: bool
    reason: str
    checks: tuple

    def table(self) -> pd.DataFrame:
        """One row per check: check, passed, detail."""
        return pd.DataFrame(
            [(c.name, c.passed, c.detail) for c in self.checks],
            columns=["check", "passed", "detail"],
        )


def _value(evaluation, model: str, metric: str) -> float:
    try:
        return evaluation.metric(model, metric)
    except KeyError:
        return float("nan")


def chance_check(evaluation, interval, level: float = 0.95) -> Check:
    """``above_chance``: the interval's lower end is above 0.5."""
    auc = _value(evaluation, "model", "roc_auc")
    low, high = (float("nan"), float("nan")) if interval is None else interval
    figures = f"test ROC-AUC {auc:.3f}, {level:.0%} bootstrap interval {low:.3f}–{high:.3f}"
    if np.isfinite(low) and low > CHANCE:
        return Check("above_chance", True, f"above chance ({figures})")
    return Check(
        "above_chance", False, f"not clearly above chance ({figures} does not exclude 0.5)"
    )


def baseline_check(evaluation, baseline: str) -> Check:
    """``beats_<baseline>``: higher ROC-AUC and higher PR-AUC than ``baseline``."""
    pairs = {
        label: (_value(evaluation, "model", metric), _value(evaluation, baseline, metric))
        for label, metric in (("ROC-AUC", "roc_auc"), ("PR-AUC", "pr_auc"))
    }
    if any(not np.isfinite(theirs) for _, theirs in pairs.values()):
        return Check(f"beats_{baseline}", True, f"{baseline} not evaluated")
    lost = [label for label, (ours, theirs) in pairs.items() if not ours > theirs]
    shown = lost or list(pairs)
    figures = " and ".join(f"{m} ({pairs[m][0]:.3f} vs {pairs[m][1]:.3f})" for m in shown)
    if lost:
        return Check(f"beats_{baseline}", False, f"does not beat {baseline} on {figures}")
    return Check(f"beats_{baseline}", True, f"beats {baseline} on {figures}")


def decide(evaluation, interval, champion=None, *, blockers=()) -> GateDecision:
    """Run the gate.

    Parameters
    ----------
    evaluation : Evaluation
        Held-out model (``"model"``) and baselines on the out-of-time test.
    interval : (float, float) or None
        Bootstrap interval of the model's test ROC-AUC.
    champion : (bool, str), optional
        The champion/challenger outcome from :func:`churnml.model.registry.challenge`
        (``(True, "no champion yet")`` when omitted).
    blockers : sequence of str
        Reasons raised elsewhere that forbid promotion (each is a failed check).

    Returns
    -------
    GateDecision

    Examples
    --------
    >>> from churnml.model.evaluation import evaluate
    >>> ev = evaluate([0, 0, 1, 1], {"model": [.1, .2, .8, .9], "logistic": [.1, .3, .2, .9],
    ...                              "health_score": [.4, .3, .2, .9]})
    >>> decide(ev, (0.7, 1.0)).promote
    True
    >>> decide(ev, (0.7, 1.0), blockers=["probable leak: days_to_renewal"]).reason
    'probable leak: days_to_renewal'
    """
    checks = [Check("blocker", False, str(reason)) for reason in blockers]
    checks.append(chance_check(evaluation, interval))
    checks += [baseline_check(evaluation, baseline) for baseline in BASELINES]
    won, detail = (True, "no champion yet") if champion is None else champion
    checks.append(Check("beats_champion", bool(won), detail))
    failed = [c for c in checks if not c.passed]
    if failed:
        return GateDecision(False, "; ".join(c.detail for c in failed), tuple(checks))
    ordered = [checks[-1], *checks[:-1]]  # the champion outcome first, then what it beat
    return GateDecision(True, "; ".join(c.detail for c in ordered), tuple(checks))


def auc_interval_by_account(test: pd.DataFrame, y, p, *, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of the test ROC-AUC, resampling the test rows' accounts."""
    from churnml.model.bootstrap import auc_interval

    clusters = test["account_id"].to_numpy() if "account_id" in test.columns else None
    return auc_interval(y, p, clusters=clusters, seed=seed)
