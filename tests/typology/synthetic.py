"""Synthetic marts for the typology tests: ``dim_offenders``, ``fct_incidents``, ``fct_offences``, victims and
relationships with the data-model column names, drawn from latent offender profiles with known labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.features import PCA_FEATURES

# (median DA incidents, median non-DA incidents) of each latent profile: E, E, A, B, D.
PROFILE_VOLUMES = [(1, 0), (1, 0), (6, 1), (8, 10), (2, 6)]
COUNT_COLUMNS = {
    "n_da_incidents",
    "n_non_da_incidents",
    "n_da_victims",
    "n_non_da_victims",
    "n_da_lsoas",
    "n_non_da_lsoas",
    "n_times_da_victim",
    "n_times_non_da_victim",
}
NON_DA_COLUMNS = [c for c in PCA_FEATURES if "non_da" in c]


@dataclass
class SyntheticMarts:
    dim_offenders: pd.DataFrame
    fct_incidents: pd.DataFrame
    fct_offences: pd.DataFrame
    victims: pd.DataFrame
    relationships: pd.DataFrame
    truth: pd.Series  # profile per offender_id


def make_marts(
    n: int = 3000, separation: float = 6.0, seed: int = 0, missing_age_share: float = 0.03
) -> SyntheticMarts:
    rng = np.random.default_rng(seed)
    k = len(PROFILE_VOLUMES)
    profile = rng.choice(k, size=n, p=[0.35, 0.25, 0.15, 0.1, 0.15])
    centres = rng.normal(0.0, separation / 2, size=(k, len(PCA_FEATURES)))
    z = centres[profile] + rng.normal(0.0, 1.0, size=(n, len(PCA_FEATURES)))
    dim = pd.DataFrame(z * 10 + 50, columns=PCA_FEATURES)
    for column in COUNT_COLUMNS:
        dim[column] = np.maximum(np.round(dim[column] / 10), 1).astype(int)
    da = np.array([v[0] for v in PROFILE_VOLUMES])[profile]
    non_da = np.array([v[1] for v in PROFILE_VOLUMES])[profile]
    dim["n_da_incidents"] = np.maximum(1, da + rng.integers(-1, 2, size=n) * (da > 1))
    dim["n_non_da_incidents"] = np.where(non_da == 0, 0, np.maximum(1, non_da + rng.integers(-1, 2, size=n)))
    da_only = dim["n_non_da_incidents"] == 0
    dim.loc[da_only, NON_DA_COLUMNS] = 0
    dim["mean_da_severity"] = np.abs(dim["mean_da_severity"]) * (1 + profile)
    dim["total_da_severity"] = dim["mean_da_severity"] * dim["n_da_incidents"]
    dim.insert(0, "offender_id", [f"P{i:06d}" for i in range(n)])
    dim["modal_sex"] = rng.choice(["male", "female"], size=n, p=[0.76, 0.24])
    dim["modal_ethnicity"] = rng.choice(["A", "B", "W"], size=n)
    dim["has_missing_age"] = rng.random(n) < missing_age_share
    dim["has_missing_offender_age"] = dim["has_missing_age"] & (rng.random(n) < 0.5)
    dim["has_missing_victim_age"] = dim["has_missing_age"]
    dim["is_da_perpetrator"] = True
    dim["is_da_only"] = da_only
    dim["n_da_substance_incidents"] = rng.binomial(dim["n_da_incidents"], 0.25)
    dim["n_non_da_substance_incidents"] = rng.binomial(dim["n_non_da_incidents"], 0.2)
    dim["n_da_non_crime_incidents"] = rng.binomial(dim["n_da_incidents"], 0.5)
    dim["first_da_risk_level"] = rng.choice(["standard", "medium", "high"], size=n, p=[0.6, 0.28, 0.12])
    dim["first_non_crime_da_risk_level"] = rng.choice(["standard", "medium", "high", None], size=n)

    incidents, offences, victims, relationships = [], [], [], []
    start = np.datetime64("2011-01-01")
    for i, row in enumerate(dim.itertuples(index=False)):
        days = np.sort(rng.integers(0, 3650, size=row.n_da_incidents + row.n_non_da_incidents))
        kinds = rng.permutation([True] * row.n_da_incidents + [False] * row.n_non_da_incidents)
        for seq, (day, is_da) in enumerate(zip(days, kinds, strict=True), start=1):
            incident_id = f"{row.offender_id}:{seq}"
            crime = f"C{i:06d}{seq:03d}"
            severity = float(rng.choice([5, 50, 150, 700]))
            non_crime = bool(is_da and rng.random() < 0.5)
            risk = rng.choice(["standard", "medium", "high"]) if is_da else None
            when = pd.Timestamp(start + np.timedelta64(int(day), "D")) + pd.Timedelta(
                hours=int(rng.integers(0, 24))
            )
            incidents.append(
                (
                    incident_id,
                    row.offender_id,
                    seq,
                    is_da,
                    non_crime,
                    risk,
                    bool(rng.random() < 0.25),
                    severity,
                )
            )
            offences.append(
                (
                    crime,
                    row.offender_id,
                    incident_id,
                    "8N" if is_da else "49",
                    "assault" if is_da else "theft",
                    "violence without injury" if is_da else "theft from a shop",
                    is_da,
                    non_crime,
                    severity,
                    when,
                    when + pd.Timedelta(hours=2),
                    "E01000001",
                    3,
                    risk,
                    16 if is_da else 1,
                    30.0,
                    False,
                )
            )
            victims.append((crime, f"V{i:06d}", int(rng.integers(18, 70)), rng.choice(["male", "female"])))
            relationships.append(
                (crime, f"V{i:06d}", row.offender_id, None, "partner" if is_da else "stranger")
            )
    fct_incidents = pd.DataFrame(
        incidents,
        columns=[
            "incident_id",
            "offender_id",
            "incident_seq",
            "is_da",
            "is_non_crime",
            "risk_level",
            "substance_flag",
            "severity",
        ],
    )
    fct_offences = pd.DataFrame(
        offences,
        columns=[
            "crime_number",
            "offender_id",
            "incident_id",
            "offence_code",
            "offence_description",
            "offence_type",
            "is_da",
            "is_non_crime",
            "severity",
            "committed_from",
            "reported_at",
            "lsoa_code",
            "imd_decile",
            "risk_level",
            "outcome_code",
            "offender_age",
            "substance_flag",
        ],
    )
    # One offender is also the victim of another's offence, so timelines show victimisations.
    victims.append((offences[0][0], dim["offender_id"].iloc[1], 30, "male"))
    return SyntheticMarts(
        dim_offenders=dim,
        fct_incidents=fct_incidents,
        fct_offences=fct_offences,
        victims=pd.DataFrame(victims, columns=["crime_number", "person_id", "age", "sex"]),
        relationships=pd.DataFrame(
            relationships,
            columns=[
                "crime_number",
                "victim_person_id",
                "offender_person_id",
                "witness_person_id",
                "relationship",
            ],
        ),
        truth=pd.Series(profile, index=dim["offender_id"], name="profile"),
    )
