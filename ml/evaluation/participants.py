"""Programme participants brought by an evaluator: normalisation and validation.

Rows come from marts.dim_programme_participants (already filtered by the stage-order rules upstream) or
straight from an evaluator's own table with the extract's ``programme_participants`` columns. Validation is
repeated here so a frame handed to the library directly fails with a message that names the person, the
programme and the dates.

Stage-order rules (a NULL stage is skipped):
* ``referred_on <= selected_on``;
* ``selected_on <= disruption_started_on``, ``selected_on <= full_engagement_on``;
* ``disruption_started_on``, ``full_engagement_on <= completed_on``;
* every stage ``<= exited_on``;
* ``selected_on`` is required; one row per (person, programme).
Disruption and full engagement are not ordered against each other: they can run side by side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.evaluation.incidents import to_days

STAGE_COLUMNS = (
    "referred_on",
    "selected_on",
    "disruption_started_on",
    "full_engagement_on",
    "completed_on",
    "exited_on",
)
STAGE_LABELS = {
    "referred_on": "referred",
    "selected_on": "selected",
    "disruption_started_on": "disruption started",
    "full_engagement_on": "fully engaged",
    "completed_on": "completed",
    "exited_on": "exited",
}
# (earlier, later) pairs that must hold when both are present.
ORDER_RULES = (
    ("referred_on", "selected_on"),
    ("selected_on", "disruption_started_on"),
    ("selected_on", "full_engagement_on"),
    ("disruption_started_on", "completed_on"),
    ("full_engagement_on", "completed_on"),
    ("selected_on", "completed_on"),
    ("referred_on", "exited_on"),
    ("selected_on", "exited_on"),
    ("disruption_started_on", "exited_on"),
    ("full_engagement_on", "exited_on"),
    ("completed_on", "exited_on"),
)
TREATMENT_ARMS = {"treatment", "treated", "intervention"}
CONTROL_ARMS = {"control", "usual care", "comparison"}


class ParticipantError(ValueError):
    """Participants that cannot be evaluated: not in the extract, or stage dates out of order."""

    def __init__(self, problems: pd.DataFrame):
        self.problems = problems
        lines = [
            f"  person {r.person_id!s} in programme {r.programme!r}: {r.problem}"
            for r in problems.head(20).itertuples(index=False)
        ]
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(
            f"{len(problems)} programme_participants row(s) cannot be evaluated:\n" + "\n".join(lines) + more
        )


def normalise_participants(participants: pd.DataFrame) -> pd.DataFrame:
    """Accept person_id or offender_id; add missing optional columns; parse dates to days (``*_day``)."""
    frame = participants.copy()
    if "person_id" not in frame and "offender_id" in frame:
        frame["person_id"] = frame["offender_id"]
    if "offender_id" not in frame:
        frame["offender_id"] = frame["person_id"]
    missing = [c for c in ("person_id", "programme", "selected_on") if c not in frame]
    if missing:
        raise ValueError(f"programme_participants is missing required column(s): {', '.join(missing)}")
    frame["person_id"] = frame["person_id"].astype(str)
    frame["offender_id"] = frame["offender_id"].astype(str)
    frame["programme"] = frame["programme"].astype(str)
    for column in ("cohort", "arm", "exit_reason"):
        if column not in frame:
            frame[column] = None
    frame["arm"] = frame["arm"].astype(object).where(frame["arm"].notna(), None)
    frame["arm"] = frame["arm"].map(lambda a: a.strip().lower() if isinstance(a, str) else None)
    for column in STAGE_COLUMNS:
        if column not in frame:
            frame[column] = pd.NaT
        frame[f"{column[:-3]}_day"] = to_days(frame[column])
    return frame.reset_index(drop=True)


def participant_problems(participants: pd.DataFrame, known_offender_ids=None) -> pd.DataFrame:
    """One row per problem: person_id, programme, problem (a sentence naming the dates)."""
    frame = participants if "selected_day" in participants else normalise_participants(participants)
    problems = []

    def add(mask, text_fn):
        for row in frame.loc[mask].itertuples(index=False):
            problems.append({"person_id": row.person_id, "programme": row.programme, "problem": text_fn(row)})

    add(frame["selected_day"].isna(), lambda r: "selected_on is missing (it is required)")
    if known_offender_ids is not None:
        known = pd.Index(pd.Series(list(known_offender_ids)).astype(str))
        add(
            ~frame["person_id"].isin(known),
            lambda r: "person_id is not in the extract (no offender with this id in the incident mart)",
        )
    dup = frame.duplicated(["person_id", "programme"], keep="first")
    add(dup, lambda r: "appears more than once for this programme")
    for earlier, later in ORDER_RULES:
        a, b = frame[f"{earlier[:-3]}_day"], frame[f"{later[:-3]}_day"]
        bad = a.notna() & b.notna() & (b < a)
        add(
            bad,
            lambda r, e=earlier, later_col=later: (
                f"stage dates out of order: {e} = {_fmt(getattr(r, e))} is after {later_col} = {_fmt(getattr(r, later_col))}"
            ),
        )
    return pd.DataFrame(problems, columns=["person_id", "programme", "problem"])


def validate_participants(
    participants: pd.DataFrame, known_offender_ids=None, raise_on_error: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise and validate. Returns (valid rows, problems); raises ``ParticipantError`` on any problem
    unless ``raise_on_error`` is False, in which case rows with a problem are dropped."""
    frame = normalise_participants(participants)
    problems = participant_problems(frame, known_offender_ids)
    if len(problems) and raise_on_error:
        raise ParticipantError(problems)
    bad = frame.set_index(["person_id", "programme"]).index.isin(
        problems.set_index(["person_id", "programme"]).index
    )
    return frame.loc[~bad].reset_index(drop=True), problems


def is_randomised(rows: pd.DataFrame) -> bool:
    arms = set(rows["arm"].dropna())
    return bool(arms & TREATMENT_ARMS) and bool(arms & CONTROL_ARMS)


def arm_group(rows: pd.DataFrame) -> np.ndarray:
    """'treatment' / 'control' / None per row."""
    arm = rows["arm"]
    return np.where(arm.isin(TREATMENT_ARMS), "treatment", np.where(arm.isin(CONTROL_ARMS), "control", None))


def _fmt(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "NULL"
    return str(pd.Timestamp(value).date())
