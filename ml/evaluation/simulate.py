"""A small, fast simulated DA incident panel with a known programme effect, for tests and benchmarks.

Each person has a stable rate (gamma heterogeneity) times a transient monthly multiplier (a log-AR(1)
process), so people selected at a time of high recent offending fall back without any programme — the
regression to the mean the evaluation must see through. Programmes:

* a *matched* programme: at each monthly panel date, people not yet selected are ranked by RFG (observable
  history only) and the top ``per_panel`` by RFG score plus noise are selected;
* a *randomised* programme: at each panel date the top ``2 × per_panel`` eligible are randomised 1:1.

The effect thins each treated person's DA incidents on or after selection with keep-probability
``1 + effect``, so the true rate ratio is ``1 + effect``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.evaluation.incidents import IncidentIndex, from_days, to_days
from ml.evaluation.rfg import RFGConfig, score_rfg


@dataclass
class SimulatedPanel:
    incidents: pd.DataFrame
    offenders: pd.DataFrame
    participants: pd.DataFrame
    truth: dict


def simulate_panel(
    n_offenders: int = 4000,
    years: int = 8,
    start: str = "2013-01-01",
    seed: int = 0,
    matched_effect: float = -0.30,
    rct_effect: float = -0.20,
    per_panel: int = 10,
    n_panels: int = 18,
    rct_per_panel: int = 12,
    mean_rate_per_year: float = 0.45,
    shape: float = 0.6,
    ar: float = 0.8,
    sigma: float = 0.6,
    selection_noise: float = 1.0,
    matched_programme: str = "DRIVE",
    rct_programme: str = "focused deterrence",
) -> SimulatedPanel:
    rng = np.random.default_rng(seed)
    months = years * 12
    base_rate = rng.gamma(shape, mean_rate_per_year / 12 / shape, n_offenders)
    u = np.zeros((n_offenders, months))
    u[:, 0] = rng.normal(0, sigma, n_offenders)
    innovation = sigma * np.sqrt(1 - ar**2)
    for m in range(1, months):
        u[:, m] = ar * u[:, m - 1] + rng.normal(0, innovation, n_offenders)
    lam = base_rate[:, None] * np.exp(u - sigma**2 / 2)
    counts = rng.poisson(lam)
    person, month = np.nonzero(counts)
    reps = counts[person, month]
    person, month = np.repeat(person, reps), np.repeat(month, reps)
    start_day = int(to_days([start])[0])
    month_start = to_days(pd.date_range(start, periods=months + 1, freq="MS"))
    length = np.diff(month_start)
    day = (month_start[month] + np.floor(rng.random(len(month)) * length[month])).astype(np.int64)
    ids = np.array([f"P{i:06d}" for i in range(n_offenders)], dtype=object)
    severity = np.round(rng.lognormal(3.5, 1.2, len(day)), 1)
    incidents = pd.DataFrame(
        {
            "incident_id": [f"{ids[p]}:{i}" for i, p in enumerate(person)],
            "offender_id": ids[person],
            "is_da": True,
            "started_on": from_days(day).to_numpy(),
            "severity": severity,
            "cchi_days": np.round(severity * rng.lognormal(0.5, 0.8, len(day)), 1),
            "is_non_crime": rng.random(len(day)) < 0.35,
        }
    )
    offenders = pd.DataFrame(
        {
            "offender_id": ids,
            "modal_sex": rng.choice(["male", "female"], n_offenders, p=[0.8, 0.2]),
            "modal_ethnicity": rng.choice(
                ["White", "Asian", "Black", "Mixed", "Other"], n_offenders, p=[0.7, 0.15, 0.08, 0.04, 0.03]
            ),
            "age_at_first_da_incident": np.round(rng.normal(33, 10, n_offenders).clip(16, 80), 1),
        }
    )
    first = incidents.groupby("offender_id")["started_on"].min()
    offenders["first_da_on"] = offenders["offender_id"].map(first)

    # Panels: monthly, starting after three years of history, ending a year before the end.
    index = IncidentIndex.build(incidents, offender_ids=ids)
    panel_days = month_start[36 : 36 + n_panels].astype(int)
    rfg = RFGConfig()
    selected: dict[str, tuple[str, int, str | None]] = {}
    for d in panel_days:
        snap = score_rfg(index, [from_days([d]).iloc[0]], rfg)
        snap = snap.loc[~snap["offender_id"].isin(selected)]
        noisy = snap["rfg_score"].to_numpy() + selection_noise * rng.gumbel(size=len(snap))
        order = np.argsort(-noisy, kind="stable")
        chosen = snap["offender_id"].to_numpy()[order[:per_panel]]
        for pid in chosen:
            selected[pid] = (matched_programme, int(d), None)
        rest = snap.loc[~snap["offender_id"].isin(chosen)]
        trial = rest["offender_id"].to_numpy()[: 2 * rct_per_panel]
        arms = rng.permutation(
            np.repeat(["treatment", "control"], [len(trial) - len(trial) // 2, len(trial) // 2])
        )
        for pid, arm in zip(trial, arms, strict=True):
            selected[pid] = (rct_programme, int(d), arm)

    # Thin treated people's incidents on or after selection.
    sel = pd.DataFrame(
        [(pid, p, d, a) for pid, (p, d, a) in selected.items()],
        columns=["person_id", "programme", "selected_day", "arm"],
    )
    inc_days = to_days(incidents["started_on"])
    sel_map = sel.set_index("person_id")
    joined = sel_map.reindex(incidents["offender_id"].to_numpy())
    effect = np.where(
        joined["programme"].to_numpy() == matched_programme,
        matched_effect,
        np.where(joined["arm"].to_numpy() == "treatment", rct_effect, 0.0),
    )
    after = inc_days >= joined["selected_day"].to_numpy(dtype=float)
    drop = after & (rng.random(len(incidents)) > 1 + effect)
    incidents = incidents.loc[~drop].reset_index(drop=True)

    # Stages: disruption within 30 days; ~60% fully engaged by 90 days; ~40% complete by 270 days.
    n = len(sel)
    s = sel["selected_day"].to_numpy(dtype=float)
    disruption = s + rng.integers(0, 30, n)
    engaged = np.where(rng.random(n) < 0.6, s + rng.integers(30, 120, n), np.nan)
    completed = np.where(
        ~np.isnan(engaged) & (rng.random(n) < 0.65), engaged + rng.integers(120, 240, n), np.nan
    )
    latest = np.fmax(disruption, np.where(np.isnan(engaged), s, engaged))
    exited = np.where(
        ~np.isnan(completed),
        completed,
        np.where(rng.random(n) < 0.5, latest + rng.integers(30, 240, n), np.nan),
    )
    reason = np.where(
        ~np.isnan(completed),
        "completed",
        np.where(~np.isnan(exited), rng.choice(["declined", "moved away", "removed - victim risk"], n), None),
    )
    is_rct = sel["programme"].to_numpy() == rct_programme
    participants = pd.DataFrame(
        {
            "person_id": sel["person_id"],
            "programme": sel["programme"],
            "cohort": np.where(is_rct, "phase 1", "pilot"),
            "arm": sel["arm"],
            "referred_on": from_days(s - rng.integers(0, 20, n)).to_numpy(),
            "selected_on": from_days(s).to_numpy(),
            "disruption_started_on": from_days(
                np.where(is_rct & (sel["arm"] == "control"), np.nan, disruption)
            ).to_numpy(),
            "full_engagement_on": from_days(
                np.where(is_rct & (sel["arm"] == "control"), np.nan, engaged)
            ).to_numpy(),
            "completed_on": from_days(
                np.where(is_rct & (sel["arm"] == "control"), np.nan, completed)
            ).to_numpy(),
            "exited_on": from_days(exited).to_numpy(),
            "exit_reason": reason,
        }
    )
    truth = {
        matched_programme: {"effect": matched_effect, "n_selected": int((~is_rct).sum())},
        rct_programme: {
            "effect": rct_effect,
            "n_treatment": int((sel["arm"] == "treatment").sum()),
            "n_control": int((sel["arm"] == "control").sum()),
        },
        "start_day": start_day,
    }
    return SimulatedPanel(incidents, offenders, participants, truth)
