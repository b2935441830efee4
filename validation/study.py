"""The simulation study: run the platform's effect estimators on data from ``validation.dgp`` many times.

For every scenario × true effect × replicate, one world is simulated and evaluated exactly as the platform
evaluates an extract (``ml.evaluation.effects``: the matched DiD with its re-matching bootstrap, the
library's Callaway–Sant'Anna estimator, the naive before/after, the RCT intention to treat, the placebo).
The summary gives, per estimator and outcome, the bias and RMSE of the log rate ratio and the coverage of
the 95% interval, with their Monte Carlo standard errors, and how often the interval excludes "no effect".
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from validation.dgp import ASSUMPTIONS_HOLD, SCENARIOS, World, simulate

OUTCOMES = ("da_incidents", "harm_css", "harm_cchi")
ESTIMATORS = {
    "naive_pre_post": "naive before/after",
    "matched_did": "matched DiD",
    "matched_post": "matched, after-period contrast",
    "library_did": "Callaway–Sant'Anna (diff-diff)",
    "rct_itt": "RCT intention to treat",
    "placebo_did": "placebo DiD (pre-period; truth 0)",
    "matched_did_committed_dates": "matched DiD, committed dates (no knowledge time)",
}
EFFECTS = (0.0, -0.30)
BIAS_TARGET = 0.05
COVERAGE_TARGET = (0.93, 0.97)


@dataclass(frozen=True)
class StudySettings:
    replicates: int = 200
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    effects: tuple[float, ...] = EFFECTS
    world: World = World()
    bootstrap_reps: int = 199
    naive_bootstrap_reps: int = 199
    workers: int = 2
    seed: int = 20240612
    half_sample_fraction: float = 0.5
    outcome_ridge: float | None = None  # the platform's default (chosen by GCV); a number fixes it
    library_only: bool = False  # only Callaway–Sant'Anna (the library estimator), minutes not hours
    library_bootstrap_reps: int = 99
    library_method: str = "dr"


def _effect_settings(settings: StudySettings):
    from ml.evaluation.effects import EffectSettings
    from ml.evaluation.matching import MatchingConfig

    return EffectSettings(
        matching=MatchingConfig(candidate_pool_top_n=600, outcome_ridge=settings.outcome_ridge),
        bootstrap_reps=settings.bootstrap_reps,
        naive_bootstrap_reps=settings.naive_bootstrap_reps,
        reporting_lag_days=90,
        half_sample_fraction=settings.half_sample_fraction,
        library_pool_top_n=600,
        library_bootstrap_reps=settings.library_bootstrap_reps,
        library_method=settings.library_method,
        survival=False,
        seed=0,
    )


def world_inputs(data):
    """A simulated world as the evaluation reads it: the incident index, each participant's offender code
    and selection day, every offender's selection day (NaN if never selected) and the programme mask."""
    from ml.evaluation.incidents import IncidentIndex, to_days

    index = IncidentIndex.build(data.incidents)
    parts = data.participants
    codes = index.code_of(parts["person_id"])
    sel = to_days(parts["selected_on"])
    every = np.full(len(index.offender_ids), np.nan)
    every[codes] = sel
    prog = (parts["programme"] == "programme").to_numpy()
    return index, codes, sel, every, prog


def evaluate_world(data, effect_settings, committed_dates_variant: bool = False) -> list[dict]:
    """The platform's estimates on one simulated world: one row per estimator and outcome."""
    from ml.evaluation.effects import matched_effects, randomised_effects
    from ml.evaluation.incidents import IncidentIndex
    from ml.evaluation.matching import Sources

    index, codes, sel, every, prog = world_inputs(data)
    parts = data.participants
    trial = (parts["programme"] == "trial").to_numpy()
    measures = list(OUTCOMES)
    out: list[dict] = []
    analysis = matched_effects(
        Sources(index), codes[prog], sel[prog], every, measures, effect_settings, "programme"
    )
    for row in analysis.rows:
        if row["design"] in ("naive_pre_post", "matched_did", "matched_post", "library_did", "placebo_did"):
            out.append(_keep(row, row["design"]))
    rct = randomised_effects(
        index,
        codes[trial],
        sel[trial],
        (parts["arm"] == "treatment").to_numpy()[trial],
        None,
        measures,
        replace(effect_settings, survival=False),
        "trial",
    )
    for row in rct:
        if row["design"] == "rct_itt" and str(row.get("estimand", "")).startswith(
            ("rate ratio", "harm ratio")
        ):
            out.append(_keep(row, "rct_itt"))
    if committed_dates_variant:
        naive_incidents = data.incidents.assign(reported_at=data.incidents["started_on"])
        naive_index = IncidentIndex.build(naive_incidents)
        variant = matched_effects(
            Sources(naive_index),
            naive_index.code_of(parts["person_id"])[prog],
            sel[prog],
            every,
            measures,
            replace(effect_settings, library_estimator=False, naive_bootstrap_reps=10),
            "programme",
        )
        for row in variant.rows:
            if row["design"] == "matched_did":
                out.append(_keep(row, "matched_did_committed_dates"))
    return out


def evaluate_world_library(data, effect_settings) -> list[dict]:
    """Only the library estimator on one simulated world (``--library-only``): the same panel and fit as
    :func:`evaluate_world` gives it, without the matched designs."""
    from ml.estimability import attempt
    from ml.evaluation import staggered
    from ml.evaluation.matching import Sources

    index, codes, sel, every, prog = world_inputs(data)
    es = effect_settings
    panel = attempt(
        "library panel",
        staggered.build_panel,
        Sources(index),
        codes[prog],
        sel[prog],
        every,
        list(OUTCOMES),
        es.block_days,
        es.reporting_lag_days,
        es.rfg,
        es.matching,
        es.library_pool_top_n,
    )
    out = []
    for m in OUTCOMES:
        fit = (
            attempt(
                f"library_did, {m}",
                staggered.callaway_santanna,
                panel.value,
                m,
                es.library_method,
                es.library_bootstrap_reps,
                es.seed,
            )
            if panel.ok
            else panel
        )
        row = {"outcome": m, **(fit.value or {})} if fit.ok else {"outcome": m, "status": fit.status}
        row["reason"] = "" if fit.ok else fit.reason
        out.append(_keep(row, "library_did"))
    return out


def _keep(row: dict, estimator: str) -> dict:
    return {
        "estimator": estimator,
        "outcome": row["outcome"],
        "estimate": row.get("estimate"),
        "ci_low": row.get("ci_low"),
        "ci_high": row.get("ci_high"),
        "status": row.get("status", "estimated"),
        "reason": row.get("reason", ""),
        "n_treated": row.get("n_treated"),
    }


def _one(task) -> list[dict]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _one_replicate(task)


def _one_replicate(task) -> list[dict]:
    scenario, effect, rep, seed, settings = task
    data = simulate(scenario, effect, seed, settings.world)
    if settings.library_only:
        rows = evaluate_world_library(data, _effect_settings(settings))
    else:
        rows = evaluate_world(data, _effect_settings(settings), scenario == "prompted_disclosures")
    for r in rows:
        r.update(scenario=scenario, effect=effect, replicate=rep, seed=seed, truth=data.truth_log_ratio)
        if r["estimator"] == "placebo_did":
            r["truth"] = 0.0
    return rows


def run_study(settings: StudySettings, progress=print) -> pd.DataFrame:
    """Every replicate's estimates (long table). Uses ``settings.workers`` processes."""
    tasks = []
    for s_i, scenario in enumerate(settings.scenarios):
        for e_i, effect in enumerate(settings.effects):
            for rep in range(settings.replicates):
                seed = settings.seed + 1_000_000 * s_i + 100_000 * e_i + rep
                tasks.append((scenario, effect, rep, seed, settings))
    rows: list[dict] = []
    start = time.perf_counter()
    workers = max(1, settings.workers)
    if workers == 1:
        results = map(_one, tasks)
    else:
        pool = ProcessPoolExecutor(workers)
        results = pool.map(_one, tasks, chunksize=2)
    try:
        for i, result in enumerate(results, 1):
            rows += result
            if progress and (i % 50 == 0 or i == len(tasks)):
                progress(f"  {i}/{len(tasks)} replicates, {time.perf_counter() - start:.0f} s")
    finally:
        if workers > 1:
            pool.shutdown()
    return pd.DataFrame(rows)


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """scenario × effect × estimator × outcome: bias, RMSE, coverage (with Monte Carlo SEs), rejection."""
    frame = raw.copy()
    frame["estimated"] = (frame["status"] == "estimated") & np.isfinite(frame["estimate"].astype(float))
    frame["log_est"] = np.log(frame["estimate"].astype(float).where(frame["estimated"]))
    frame["err"] = frame["log_est"] - frame["truth"]
    lo = np.log(frame["ci_low"].astype(float))
    hi = np.log(frame["ci_high"].astype(float))
    frame["covers"] = (lo <= frame["truth"]) & (frame["truth"] <= hi)
    frame["rejects_null"] = (lo > 0) | (hi < 0)
    rows = []
    keys = ["scenario", "effect", "estimator", "outcome"]
    for key, g in frame.groupby(keys, sort=False):
        ok = g.loc[g["estimated"] & np.isfinite(g["err"])]
        n = len(ok)
        err = ok["err"].to_numpy()
        cov = float(ok["covers"].mean()) if n else np.nan
        rej = float(ok["rejects_null"].mean()) if n else np.nan
        rows.append(
            dict(
                zip(keys, key, strict=True),
                replicates=int(len(g)),
                estimated=n,
                bias=float(err.mean()) if n else np.nan,
                bias_mcse=float(err.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                rmse=float(np.sqrt(np.mean(err**2))) if n else np.nan,
                coverage=cov,
                coverage_mcse=float(np.sqrt(cov * (1 - cov) / n)) if n else np.nan,
                rejects_no_effect=rej,
            )
        )
    table = pd.DataFrame(rows)
    table["assumptions_hold"] = table["scenario"].map(ASSUMPTIONS_HOLD)
    table["verdict"] = [_verdict(r) for r in table.itertuples(index=False)]
    return table


def _verdict(r) -> str:
    if r.estimated == 0:
        return "not estimable"
    problems = []
    if abs(r.bias) > BIAS_TARGET:
        problems.append(f"bias {r.bias:+.3f}")
    if r.estimator != "naive_pre_post" and not (COVERAGE_TARGET[0] <= r.coverage <= COVERAGE_TARGET[1]):
        problems.append(f"coverage {r.coverage:.0%}")
    if not problems:
        return "meets target"
    return "fails: " + ", ".join(problems)


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))
