"""A small data-generating process for the simulation study, written independently of the platform.

Nothing here imports the evaluation library or the synthetic extract generator: the people, their offending,
what gets recorded and reported, and how a programme picks its cohort are all decided by the rules below,
so an error shared by the estimators and the data they are tested on cannot hide.

* **People.** Each person has a stable monthly rate of DA incidents, ``rate_i = base_i · exp(0.5·z_i)``,
  where ``base_i`` is gamma distributed and ``z_i`` a standard normal *latent risk* the data only partly
  shows (through risk grades). On top, a transient multiplier ``exp(u_it)`` with ``u`` a monthly AR(1)
  (ρ = 0.8, σ = 0.7): people go through hot spells and come back, which is what makes a cohort chosen on
  recent harm fall without any programme (regression to the mean).
* **Incidents.** Poisson counts per month, each on a random day of its month. Harm on two scales with
  heavy tails: a CSS-like ``exp(3.5 + h_i + 1.1·e)`` and a CCHI-like ``exp(1.5 + 1.3·h_i + 1.6·e')``
  (``h_i`` a person's harm propensity, ``e, e'`` correlated 0.6): the second is heavier and only partly
  tied to the first, as CCHI is to CSS.
* **Recording and reporting.** 85% of incidents are recorded. Recorded ones are reported after a delay:
  85% within two days, 10% after an exponential delay of 20 days, 5% are historic disclosures 6 months to
  4 years later. Anything reported after the end of the extract is not in it. Each recorded incident gets
  a risk grade: high with probability ``logistic(−2.2 + 1.2·z_i + 0.3·log harm)``, else medium or standard.
* **The programme ("observational").** At six panel dates, six months apart, the panel ranks the people not
  yet selected on what had been *reported* by that day, by its own rule per scenario (below), and selects
  the top ``per_panel`` after adding Gumbel noise (panel judgement). From the selection date the
  programme removes each later incident with probability ``−effect`` (so the true rate ratio is
  ``1 + effect`` for counts and for harm).
* **A randomised trial** runs beside it at two other dates: among people not on the programme with two or
  more reported incidents in the last year, ``2 × rct_per_arm`` are drawn and split at random.

Selection rules (scenarios):

* ``recorded_harm``: score = log(1 + CSS harm in 12 months) + 0.5·log(1 + incidents in 12 months);
* ``harm_and_risk``: the same + 0.8 × high-risk graded incidents in 12 months;
* ``latent_risk``: the same + 0.8·z_i — the panel knows something (e.g. from MARAC) the extract does not
  record (the matched design's assumption fails);
* ``prompted_disclosures``: selection as ``recorded_harm``; after selection, each of a participant's
  *unrecorded* incidents of the two years before is disclosed with probability 0.5 within six months
  (recorded, committed before selection, reported after it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SCENARIOS = {
    "recorded_harm": "selection on recorded harm only",
    "harm_and_risk": "selection on recorded harm plus the recorded risk grade",
    "latent_risk": "selection partly on a latent risk the data only partly shows",
    "prompted_disclosures": "selection on recorded harm; the programme prompts historic disclosures",
}
ASSUMPTIONS_HOLD = {
    "recorded_harm": True,
    "harm_and_risk": True,
    "latent_risk": False,
    "prompted_disclosures": True,
}
EPOCH_START = np.datetime64("2014-01-01")


@dataclass(frozen=True)
class World:
    n_people: int = 2500
    months: int = 84
    first_panel_month: int = 36
    n_panels: int = 6
    panel_every_months: int = 6
    per_panel: int = 20
    rct_months: tuple[int, ...] = (39, 51)
    rct_per_arm: int = 25
    mean_rate_per_month: float = 0.05
    rate_shape: float = 0.7
    ar: float = 0.8
    sigma: float = 0.7
    recorded_share: float = 0.85
    noise_scale: float = 0.5


@dataclass
class SimulatedData:
    incidents: (
        pd.DataFrame
    )  # offender_id, started_on, reported_at, is_da, severity, cchi_days, risk_level, is_non_crime
    participants: pd.DataFrame  # person_id, programme, arm, selected_on
    truth_log_ratio: float
    n_selected: int


def _month_start(world: World) -> np.ndarray:
    return np.round(np.arange(world.months + 1) * 30.4375).astype(np.int64)  # day offsets


def simulate(scenario: str, effect: float, seed: int, world: World | None = None) -> SimulatedData:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {list(SCENARIOS)}")
    world = world or World()
    rng = np.random.default_rng(seed)
    n, t = world.n_people, world.months
    z = rng.standard_normal(n)  # latent risk
    base = rng.gamma(world.rate_shape, world.mean_rate_per_month / world.rate_shape, n)
    rate = base * np.exp(0.5 * z - 0.125)
    harm_propensity = 0.5 * rng.standard_normal(n)
    u = np.empty((n, t))
    u[:, 0] = rng.normal(0, world.sigma, n)
    step = world.sigma * np.sqrt(1 - world.ar**2)
    for m in range(1, t):
        u[:, m] = world.ar * u[:, m - 1] + rng.normal(0, step, n)
    counts = rng.poisson(rate[:, None] * np.exp(u - world.sigma**2 / 2))
    person, month = np.nonzero(counts)
    k = counts[person, month]
    person, month = np.repeat(person, k), np.repeat(month, k)
    starts = _month_start(world)
    day = starts[month] + (rng.random(len(month)) * np.diff(starts)[month]).astype(np.int64)
    e1 = rng.standard_normal(len(day))
    e2 = 0.6 * e1 + 0.8 * rng.standard_normal(len(day))
    css = np.exp(3.5 + harm_propensity[person] + 1.1 * e1)
    cchi = np.exp(1.5 + 1.3 * harm_propensity[person] + 1.6 * e2)
    recorded = rng.random(len(day)) < world.recorded_share
    u_delay = rng.random(len(day))
    delay = np.where(
        u_delay < 0.85,
        rng.integers(0, 3, len(day)),
        np.where(u_delay < 0.95, rng.exponential(20, len(day)), rng.uniform(180, 1460, len(day))),
    ).astype(np.int64)
    reported = day + delay
    p_high = 1 / (1 + np.exp(-(-2.2 + 1.2 * z[person] + 0.3 * np.log(css))))
    u_grade = rng.random(len(day))
    grade = np.where(u_grade < p_high, "high", np.where(u_grade < p_high + 0.35, "medium", "standard"))
    alive = np.ones(len(day), bool)

    def history(as_of: int, what: np.ndarray):
        """Per person: reported-by-``as_of`` sums over incidents in the 12 months before ``as_of``."""
        known = alive & recorded & (reported < as_of) & (day < as_of) & (day >= as_of - 365)
        return np.bincount(person[known], what[known], minlength=n)

    selected_day = np.full(n, -1, np.int64)
    selected_prog = np.full(n, "", object)
    arm = np.full(n, None, object)
    panels = [world.first_panel_month + i * world.panel_every_months for i in range(world.n_panels)]
    events = sorted([(m, "panel") for m in panels] + [(m, "rct") for m in world.rct_months])
    for m, kind in events:
        as_of = int(starts[m])
        n12 = history(as_of, np.ones(len(day)))
        free = selected_day < 0
        if kind == "rct":
            eligible = np.flatnonzero(free & (n12 >= 2))
            take = min(len(eligible), 2 * world.rct_per_arm)
            chosen = rng.choice(eligible, take, replace=False)
            selected_day[chosen] = as_of
            selected_prog[chosen] = "trial"
            arm[chosen] = np.where(np.arange(take) < take // 2, "treatment", "control")
            continue
        h12 = history(as_of, css)
        score = np.log1p(h12) + 0.5 * np.log1p(n12)
        if scenario == "harm_and_risk":
            score = score + 0.8 * history(as_of, (grade == "high").astype(float))
        elif scenario == "latent_risk":
            score = score + 0.8 * z
        eligible = np.flatnonzero(free & (n12 >= 1))
        noisy = score[eligible] + world.noise_scale * rng.gumbel(size=len(eligible))
        chosen = eligible[np.argsort(-noisy, kind="stable")[: world.per_panel]]
        selected_day[chosen] = as_of
        selected_prog[chosen] = "programme"

    # The effect: incidents committed on or after selection are removed with probability −effect.
    treated = (selected_prog == "programme") | (arm == "treatment")
    after = treated[person] & (day >= selected_day[person])
    alive &= ~(after & (rng.random(len(day)) < -effect))

    if scenario == "prompted_disclosures":
        sel = selected_day[person]
        historic = (
            (selected_prog[person] == "programme")
            & ~recorded
            & alive
            & (day < sel)
            & (day >= sel - 730)
            & (rng.random(len(day)) < 0.5)
        )
        recorded = recorded | historic
        reported = np.where(historic, sel + rng.integers(0, 183, len(day)), reported)

    extract_end = int(starts[-1])
    keep = alive & recorded & (reported < extract_end)
    ids = np.array([f"S{i:06d}" for i in range(n)], dtype=object)
    incidents = pd.DataFrame(
        {
            "offender_id": ids[person[keep]],
            "started_on": (EPOCH_START + day[keep].astype("timedelta64[D]")),
            "reported_at": (EPOCH_START + reported[keep].astype("timedelta64[D]")),
            "is_da": True,
            "severity": np.round(css[keep], 1),
            "cchi_days": np.round(cchi[keep], 1),
            "risk_level": grade[keep],
            "is_non_crime": False,
        }
    )
    on = np.flatnonzero(selected_day >= 0)
    participants = pd.DataFrame(
        {
            "person_id": ids[on],
            "programme": selected_prog[on],
            "arm": arm[on],
            "selected_on": EPOCH_START + selected_day[on].astype("timedelta64[D]"),
        }
    )
    return SimulatedData(
        incidents, participants, float(np.log1p(effect)), int((selected_prog == "programme").sum())
    )
