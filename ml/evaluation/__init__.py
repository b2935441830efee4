"""Outcome evaluation for DA perpetrator programmes (DRIVE, focused deterrence): RFG selection, reoffending,
six-month harm blocks, and effect estimates that survive regression to the mean. Plain library: no Dagster,
no dbt. Start with ``run_evaluation``.
"""

from ml.evaluation.incidents import IncidentIndex, from_days, to_days
from ml.evaluation.matching import MatchingConfig, build_design
from ml.evaluation.participants import ParticipantError, validate_participants
from ml.evaluation.pipeline import EvaluationConfig, EvaluationResult, run_evaluation
from ml.evaluation.rfg import RFGConfig, concentration, power_few, score_rfg

__all__ = [
    "EvaluationConfig",
    "EvaluationResult",
    "IncidentIndex",
    "MatchingConfig",
    "ParticipantError",
    "RFGConfig",
    "concentration",
    "from_days",
    "build_design",
    "power_few",
    "run_evaluation",
    "score_rfg",
    "to_days",
    "validate_participants",
]
