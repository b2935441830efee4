"""The cases of the robustness matrix: generated extracts, and variants made from them by small, readable
transformations (a table removed, a column blanked, a programme rewritten).

Every case is a contract-valid extract: the publication rule (docs/publication-rule.md) says each must
publish. ``expect`` names analyses the case is built to break; the matrix asserts they are marked not
estimable, so a case cannot pass by accident without exercising its path.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

OPTIONAL_TABLES = ("witnesses", "custody", "child_flags", "programme_participants")
REFERENCE_COPIES = ("ref_offences", "ref_lsoa", "offence_types")

# Run config that keeps a case cheap where it does not need the full computation: a short K sweep without
# stability seeds, a small final fit, 99 bootstrap replicates, no dbt docs and no column lineage (both
# depend on the SQL, not on the data). Cases that exercise lineage keep them (`FULL_LINEAGE`).
QUICK_CONFIG = {
    "ops": {
        "analytics__k_sweep": {
            "config": {"k_max": 6, "samples": 3, "stability_seeds": [], "subsample_size": 2000, "threads": 1}
        },
        "analytics__offender_clusters": {"config": {"samples": 5, "sampsize": 400}},
        "programme_evaluation": {"config": {"bootstrap_reps": 99}},
        "reports__dbt_docs": {"config": {"enabled": False}},
        "dbt_models": {"config": {"column_lineage": False}},
    }
}
FULL_LINEAGE = {
    "reports__dbt_docs": {"config": {"enabled": True}},
    "dbt_models": {"config": {"column_lineage": True}},
}


@dataclass(frozen=True)
class Base:
    """A generated extract: ``synth.generate(scale, seed, fmt=fmt)``."""

    scale: str | int
    seed: int
    fmt: str = "parquet"

    @property
    def name(self) -> str:
        return f"{self.scale}-seed{self.seed}-{self.fmt}"


@dataclass(frozen=True)
class Expect:
    """What a case must publish: rows of ``table`` whose ``column`` contains ``value``, with ``status``
    (all of them with ``every``, else at least one), and ``reason`` in the reason of those rows."""

    table: str
    column: str
    value: str
    reason: str = ""
    every: bool = True
    status: str = "not estimable"


@dataclass(frozen=True)
class Case:
    name: str
    base: Base
    transform: Callable[[Path], None] | None = None
    expect: tuple[Expect, ...] = ()
    lineage: bool = False  # keep dbt docs and column lineage on
    note: str = ""
    cost: float = 1.0  # relative run time, to balance the workers

    def run_config(self) -> dict:
        ops = {**QUICK_CONFIG["ops"], **(FULL_LINEAGE if self.lineage else {})}
        return {"ops": ops}


# ── reading and writing an extract's tables in their own format ─────────────────────────────────────


def table_path(extract: Path, table: str) -> Path:
    for suffix in ("parquet", "csv"):
        path = extract / f"{table}.{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"{table} not in {extract}")


def read(extract: Path, table: str) -> pd.DataFrame:
    path = table_path(extract, table)
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write(extract: Path, table: str, frame: pd.DataFrame) -> None:
    """Write ``frame`` back in the table's own file and schema."""
    path = table_path(extract, table)
    if path.suffix == ".parquet":
        schema = pq.read_schema(path)
        pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)
    else:
        frame.to_csv(path, index=False)


def copy_extract(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("_truth"))
    return destination


# ── transformations ────────────────────────────────────────────────────────────────────────────────


def remove(*tables: str) -> Callable[[Path], None]:
    def transform(extract: Path) -> None:
        for table in tables:
            table_path(extract, table).unlink()

    return transform


def set_column(table: str, column: str, value) -> Callable[[Path], None]:
    def transform(extract: Path) -> None:
        frame = read(extract, table)
        frame[column] = value
        write(extract, table, frame)

    return transform


def _da_crime_days(extract: Path) -> pd.DataFrame:
    """person_id and day of every DA crime (the force's flag) of the extract."""
    crimes = read(extract, "crimes")
    offenders = read(extract, "offenders")
    crimes["day"] = pd.to_datetime(crimes["committed_from"]).dt.date
    da = crimes.loc[crimes["da_flag"].astype(str).str.lower() == "true", ["crime_number", "day"]]
    return offenders[["crime_number", "person_id"]].merge(da, on="crime_number")


def _participants(rows: list[dict]) -> pd.DataFrame:
    columns = ["person_id", "programme", "cohort", "arm", "referred_on", "selected_on", "disruption_started_on",
               "full_engagement_on", "completed_on", "exited_on", "exit_reason"]  # fmt: skip
    return pd.DataFrame([{c: row.get(c) for c in columns} for row in rows], columns=columns)


def programmes(*kinds: str) -> Callable[[Path], None]:
    """Replace programme_participants with one programme of each of ``kinds``:

    ``rct``          "RCT only": 40 people with DA history, randomised 1:1 on one date (arms only);
    ``no_arms``      the generated DRIVE cohort (a matched design, no arms);
    ``single``       "single person": one person;
    ``empty_pool``   "empty pool": everyone with a crime on or before an early selection date, so that
                     nobody is left to compare them with (nobody else is eligible at that date).
    """

    def transform(extract: Path) -> None:
        crimes_days = _da_crime_days(extract)
        people = (
            crimes_days.groupby("person_id", as_index=False)["day"].min().sort_values(["day", "person_id"])
        )
        last = people["day"].max()
        frames = []
        for kind in kinds:
            if kind == "no_arms":
                frame = read(extract, "programme_participants")
                frames.append(frame.loc[frame["arm"].isna() | (frame["arm"].astype(str) == "")])
                continue
            if kind == "rct":
                on = last - timedelta(days=700)  # people with a DA crime in the year before randomisation
                recent = crimes_days.loc[crimes_days["day"].between(on - timedelta(days=365), on)]
                chosen = sorted(set(recent["person_id"]))[:40]
                rows = [
                    {
                        "person_id": person,
                        "programme": "RCT only",
                        "cohort": "trial",
                        "selected_on": on,
                        "arm": "treatment" if i % 2 == 0 else "control",
                        "full_engagement_on": on + timedelta(days=30) if i % 4 == 0 else None,
                    }
                    for i, person in enumerate(chosen)
                ]
            elif kind == "single":
                on = last - timedelta(days=500)
                person = people.loc[people["day"] < on, "person_id"].iloc[-1]
                rows = [{"person_id": person, "programme": "single person", "selected_on": on}]
            elif kind == "empty_pool":
                crimes, offenders = read(extract, "crimes"), read(extract, "offenders")
                on = sorted(people["day"])[9] + timedelta(
                    days=1
                )  # just after the tenth DA perpetrator's first
                committed = pd.to_datetime(crimes["committed_from"]).dt.date
                reported = pd.to_datetime(crimes["reported_at"]).dt.date
                early = crimes.loc[committed.le(on) | reported.le(on), "crime_number"]
                everyone = sorted(set(offenders.loc[offenders["crime_number"].isin(early), "person_id"]))
                rows = [{"person_id": p, "programme": "empty pool", "selected_on": on} for p in everyone]
            else:
                raise ValueError(kind)
            frames.append(_participants(rows))
        frame = pd.concat(frames, ignore_index=True).drop_duplicates(["person_id", "programme"])
        write(extract, "programme_participants", frame)

    return transform


# ── the matrix ─────────────────────────────────────────────────────────────────────────────────────

TINY = Base("tiny", 1)
EFFECTS = "analytics.effect_estimates"
MODELS = "analytics.regression_model_fit"
TYPOLOGY = "analytics.typology_fit"


def cases() -> list[Case]:
    matrix = [
        Case("tiny seed 1", TINY),
        *[Case(f"tiny seed {seed}", Base("tiny", seed)) for seed in (2, 3)],
        *[Case(f"tiny seed {seed} (CSV)", Base("tiny", seed, "csv"), cost=1.2) for seed in (4, 5)],
        Case("demo seed 1", Base("demo", 1), cost=3.0),
    ]
    matrix += [Case(f"without {table}", TINY, remove(table)) for table in OPTIONAL_TABLES]
    programme_cases = (
        Expect(EFFECTS, "design", "rct_itt", every=False, status="estimated"),
        Expect(EFFECTS, "programme", "single person"),
        Expect(
            EFFECTS, "programme", "empty pool", "no eligible, unselected person to compare with", every=False
        ),
    )
    matrix += [
        Case(
            "without the extract's reference copies",
            TINY,
            remove(*REFERENCE_COPIES),
            note="ref_offences, ref_lsoa and offence_types: the copies shipped with the project are used",
        ),
        Case(
            "without every optional table",
            TINY,
            remove(*OPTIONAL_TABLES, *REFERENCE_COPIES),
            lineage=True,
            note="only crimes, offenders, victims, relationships, special_interest_markers; with dbt docs and "
            "column lineage, which is where absent tables used to fail",
        ),
        Case(
            "programmes: arms only (RCT), no arms, a single person, an empty comparison pool",
            TINY,
            programmes("rct", "no_arms", "single", "empty_pool"),
            expect=programme_cases,
            note="four programmes in one extract: the evaluation treats each on its own",
        ),
        Case(
            "nobody with non-DA offending",
            TINY,
            set_column("crimes", "da_flag", True),
            expect=(Expect(MODELS, "model", "offence_", "no offence indicator to estimate"),),
        ),
        Case(
            "nobody with a risk grade",
            TINY,
            set_column("crimes", "risk_level", None),
            expect=(Expect(MODELS, "model", "risk_", "no offender has"),),
        ),
        Case("every crime a non-crime incident", TINY, set_column("crimes", "record_type", "non-crime")),
        Case("20 offenders", Base(20, 3), expect=(Expect(MODELS, "model", "", every=False),)),
    ]
    return matrix


@dataclass
class Result:
    """What one case's `dap run` did (written by the runner, read by the tests and the table)."""

    case: str
    exit_code: int | None
    published: bool
    seconds: float
    cpu_seconds: float
    not_estimable: list[str] = field(default_factory=list)
    output_tail: str = ""
