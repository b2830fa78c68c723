"""Batch scoring, tiers, trend history, CRM fields and writers, run manifest."""

from churnml.scoring.crm import WriteResult, load_presets, to_crm, write_crm
from churnml.scoring.score import ScoringResult, score, score_frame, score_result
from churnml.scoring.tiers import assign_tiers
from churnml.scoring.trend import apply_trend, read_runs, update_runs

__all__ = [
    "ScoringResult",
    "WriteResult",
    "apply_trend",
    "assign_tiers",
    "load_presets",
    "read_runs",
    "score",
    "score_frame",
    "score_result",
    "to_crm",
    "update_runs",
    "write_crm",
]
