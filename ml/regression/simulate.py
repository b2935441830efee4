"""Simulated Section C inputs with planted effects, for tests, power checks and benchmarks.

The data-generating code here is independent of the estimators (no design or fit code is imported).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def simulate_section_c_inputs(
    n_offenders: int = 10_000,
    *,
    n_codes: int = 120,
    n_types: int = 12,
    planted_on: str = "offence_code",
    n_planted: int = 10,
    effect_range: tuple[float, float] = (300.0, 900.0),
    share_non_da: float = 0.35,
    n_without_da: int | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Frames shaped like ``dim_offenders`` and ``fct_offences`` with planted additive effects on total DA
    severity, and their truth (term_kind, term, true_effect, planted).

    ``n_offenders`` DA perpetrators, plus ``n_without_da`` people (default 5% of ``n_offenders``) recorded
    only on non-DA crimes: no DA incident, total DA severity 0, random non-DA offences. They are not in
    Section C's population, and a fit that let them in would be biased.

    A latent profile drives DA harm (heavy-tailed), the number of non-DA incidents and the first risk
    grade; among offenders with non-DA history, offence indicators are assigned independently of the profile
    (so OLS controlling for non-DA history is unbiased). Effects are planted on ``offence_code`` or on
    ``offence_type`` indicators (``planted_on``); the other terms are nulls. Codes map to types
    round-robin, and code prevalence among non-DA offenders follows a Zipf-like curve (0.2%–25%).
    """
    if planted_on not in ("offence_code", "offence_type"):
        raise ValueError("planted_on must be 'offence_code' or 'offence_type'")
    rng = np.random.default_rng(seed)
    n = int(n_offenders)
    offender_id = np.array([f"P{i:07d}" for i in range(n)])
    profile = rng.normal(size=n)
    has_non_da = rng.random(n) < share_non_da
    n_non_da = np.where(has_non_da, 1 + rng.poisson(np.exp(0.6 + 0.5 * profile).clip(0, 40)), 0)
    codes = np.array([f"C{j:03d}" for j in range(n_codes)])
    types = np.array([f"type {j % n_types:02d}" for j in range(n_codes)])
    prevalence = 0.25 / (1 + np.arange(n_codes)) ** 0.9
    prevalence = np.clip(prevalence, 0.002, 0.25)[rng.permutation(n_codes)]
    non_da_rows = np.flatnonzero(has_non_da)
    held = rng.random((len(non_da_rows), n_codes)) < prevalence[None, :]
    # Every non-DA offender holds at least one code.
    empty = ~held.any(axis=1)
    held[np.flatnonzero(empty), rng.integers(0, n_codes, empty.sum())] = True
    rows, cols = np.nonzero(held)
    offender_rows = non_da_rows[rows]
    term_names = codes if planted_on == "offence_code" else np.unique(types)
    planted_idx = rng.choice(len(term_names), size=min(n_planted, len(term_names)), replace=False)
    effects = np.zeros(len(term_names))
    effects[planted_idx] = rng.uniform(*effect_range, size=len(planted_idx))
    if planted_on == "offence_code":
        indicator = sp.csr_matrix((np.ones(len(rows)), (offender_rows, cols)), shape=(n, n_codes))
    else:
        type_idx = np.searchsorted(term_names, types[cols])
        indicator = sp.csr_matrix((np.ones(len(rows)), (offender_rows, type_idx)), shape=(n, len(term_names)))
        indicator.data[:] = 1.0
        indicator.sum_duplicates()
        indicator.data[:] = 1.0
    base = np.exp(3.5 + 0.9 * profile + 0.8 * rng.normal(size=n))  # heavy-tailed latent harm
    total = base + indicator @ effects
    # Offence rows: 1–3 rows per held code in non-DA incidents, plus DA rows that must be ignored.
    repeats = 1 + rng.poisson(0.5, len(rows))
    offences = pd.DataFrame(
        {
            "offender_id": np.repeat(offender_id[offender_rows], repeats),
            "offence_code": np.repeat(codes[cols], repeats),
            "offence_description": np.repeat(np.char.add("offence ", codes[cols]), repeats),
            "offence_type": np.repeat(types[cols], repeats),
            "is_da": False,
        }
    )
    da_rows = pd.DataFrame(
        {
            "offender_id": offender_id,
            "offence_code": "DA01",
            "offence_description": "domestic common assault",
            "offence_type": "violence against the person",
            "is_da": True,
        }
    )
    offences = pd.concat([offences, da_rows], ignore_index=True)
    latent_grade = profile + 0.7 * rng.normal(size=n)
    grade = np.select([latent_grade > 1.3, latent_grade > 0.4], ["high", "medium"], "standard")
    n_assess = 1 + rng.poisson(np.exp(0.3 + 0.3 * profile).clip(0, 20))
    n_high = rng.binomial(n_assess, 1 / (1 + np.exp(-(profile - 1.5))))
    has_non_crime = rng.random(n) < 0.6
    non_crime_grade = np.where(
        has_non_crime,
        np.select([latent_grade > 1.6, latent_grade > 0.7], ["high", "medium"], "standard"),
        None,
    )
    offenders = pd.DataFrame(
        {
            "offender_id": offender_id,
            "total_da_severity": total,
            "first_da_risk_level": grade,
            "first_da_incident_severity": np.exp(2.5 + 0.5 * profile + 0.8 * rng.normal(size=n)),
            "first_non_crime_da_risk_level": pd.array(non_crime_grade, dtype="string"),
            "n_risk_assessments": n_assess,
            "n_high_risk": n_high,
            "share_high_risk": n_high / n_assess,
            "ever_high_risk": (n_high > 0) | (grade == "high"),
            "n_non_da_incidents": n_non_da,
            "non_da_volume_band": np.select([n_non_da == 0, n_non_da < 3], ["none", "low"], "high"),
            "is_da_only": ~has_non_da,
        }
    )
    offenders["n_da_incidents"] = 1 + rng.poisson(np.exp(0.2 + 0.4 * profile).clip(0, 30))
    n_extra = int(round(0.05 * n)) if n_without_da is None else int(n_without_da)
    if n_extra:
        extra_id = np.array([f"N{i:07d}" for i in range(n_extra)])
        extra_non_da = 1 + rng.poisson(2.0, n_extra)
        extra = pd.DataFrame(
            {
                "offender_id": extra_id,
                "total_da_severity": 0.0,
                "first_da_risk_level": pd.array([None] * n_extra, dtype="string"),
                "first_da_incident_severity": np.nan,
                "first_non_crime_da_risk_level": pd.array([None] * n_extra, dtype="string"),
                "n_risk_assessments": 0,
                "n_high_risk": 0,
                "share_high_risk": np.nan,
                "ever_high_risk": False,
                "n_non_da_incidents": extra_non_da,
                "non_da_volume_band": np.where(extra_non_da < 3, "low", "high"),
                "is_da_only": False,
                "n_da_incidents": 0,
            }
        )
        holder = rng.integers(0, n_extra, size=3 * n_extra)
        code = rng.integers(0, n_codes, size=3 * n_extra)
        extra_offences = pd.DataFrame(
            {
                "offender_id": extra_id[holder],
                "offence_code": codes[code],
                "offence_description": np.char.add("offence ", codes[code]),
                "offence_type": types[code],
                "is_da": False,
            }
        )
        offenders = pd.concat([offenders, extra], ignore_index=True)
        offences = pd.concat([offences, extra_offences], ignore_index=True)
    truth = pd.DataFrame(
        {
            "term_kind": planted_on,
            "term": term_names,
            "true_effect": effects,
            "planted": effects != 0,
        }
    )
    return offenders, offences, truth


def simulate_time_order(
    offenders: pd.DataFrame, offences: pd.DataFrame, *, years: float = 10.0, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames shaped like ``marts.dim_da_onset`` and ``marts.fct_pre_da_offences`` for simulated inputs.

    Each DA perpetrator's first DA report falls uniformly in a ``years``-long window and each non-DA
    offence's report uniformly in it too; an offence precedes the first DA incident when reported before
    it. (The planted effects of :func:`simulate_section_c_inputs` do not depend on the order, so the
    time-ordered model sees them diluted: a shape test, not a recovery test.)"""
    rng = np.random.default_rng(seed)
    n_da = pd.to_numeric(offenders["n_da_incidents"], errors="coerce").fillna(0).to_numpy()
    perpetrators = offenders.loc[n_da > 0, ["offender_id"]].reset_index(drop=True)
    first = rng.uniform(0, years, len(perpetrators))
    onset = perpetrators.assign(
        first_da_incident_id=perpetrators["offender_id"] + ":1",
        years_observed_before_first_da=first,
        years_observed_from_first_da=years - first,
        n_da_incidents=n_da[n_da > 0].astype(int),
    )
    non_da = offences.loc[~offences["is_da"].astype(bool)].merge(
        onset[["offender_id", "years_observed_before_first_da"]], on="offender_id", how="inner"
    )
    reported = rng.uniform(0, years, len(non_da))
    before = non_da["years_observed_before_first_da"].to_numpy()
    keep = reported < before
    pre = non_da.loc[keep].copy()
    pre["days_before_first_da"] = (before[keep] - reported[keep]) * 365.25
    counts = pre.groupby("offender_id").size()
    onset["n_non_da_incidents_before_first_da"] = onset["offender_id"].map(counts).fillna(0).astype(int)
    return onset, pre.drop(columns=["years_observed_before_first_da"]).reset_index(drop=True)
