"""The raw extract contract (spec: raw-extract-contract.md) as data, the one Python copy of it.

The loader, the validation suites and the documentation read this; the dbt staging models implement
the casts. Types are the contract's logical types: string, int, double, bool, date, timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    reference: bool = False  # shipped with the project; an extract's own copy takes precedence

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _person_table(name: str, required: bool) -> Table:
    return Table(
        name,
        (
            Column("crime_number", "string", False),
            Column("person_id", "string", False),
            Column("age", "int"),
            Column("sex", "string"),
            Column("ethnicity", "string"),
        ),
        required=required,
    )


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "crimes",
            (
                Column("crime_number", "string", False),
                Column("record_type", "string", False),
                Column("offence_code", "string", False),
                Column("da_flag", "bool", False),
                Column("reported_at", "timestamp", False),
                Column("committed_from", "timestamp", False),
                Column("committed_to", "timestamp"),
                Column("lsoa_code", "string"),
                Column("risk_level", "string"),
                Column("outcome_code", "int"),
            ),
            required=True,
        ),
        _person_table("offenders", required=True),
        _person_table("victims", required=True),
        _person_table("witnesses", required=False),
        Table(
            "relationships",
            (
                Column("crime_number", "string", False),
                Column("victim_person_id", "string", False),
                Column("offender_person_id", "string"),
                Column("witness_person_id", "string"),
                Column("relationship", "string", False),
            ),
            required=True,
        ),
        Table(
            "custody",
            (
                Column("crime_number", "string", False),
                Column("person_id", "string", False),
                Column("arrested_at", "timestamp"),
                Column("arrest_reason", "string"),
                Column("clearup", "string"),
            ),
        ),
        Table(
            "child_flags",
            (
                Column("crime_number", "string", False),
                Column("children_present", "bool"),
                Column("children_count", "int"),
            ),
        ),
        Table(
            "special_interest_markers",
            (Column("crime_number", "string", False), Column("marker", "string", False)),
            required=True,
        ),
        Table(
            "programme_participants",
            (
                Column("person_id", "string", False),
                Column("programme", "string", False),
                Column("cohort", "string"),
                Column("arm", "string"),
                Column("referred_on", "date"),
                Column("selected_on", "date", False),
                Column("disruption_started_on", "date"),
                Column("full_engagement_on", "date"),
                Column("completed_on", "date"),
                Column("exited_on", "date"),
                Column("exit_reason", "string"),
            ),
        ),
        Table(
            "ref_offences",
            (
                Column("offence_code", "string", False),
                Column("offence_description", "string"),
                Column("offence_group", "string", False),
                Column("ons_css_weight", "double", False),
                Column("cchi_days", "double"),
                Column("substance_related", "bool"),
                Column("weight_source", "string"),
            ),
            required=True,
            reference=True,
        ),
        Table(
            "ref_lsoa",
            (
                Column("lsoa_code", "string", False),
                Column("imd_score", "double"),
                Column("imd_decile", "int"),
            ),
            required=True,
            reference=True,
        ),
        # Not in the force's extract contract: the project's own mapping from offence code to the broad
        # offence type of seed 000's Figure 12. An extract may override it like the other reference tables.
        Table(
            "offence_types",
            (Column("offence_code", "string", False), Column("offence_type", "string", False)),
            required=True,
            reference=True,
        ),
    )
}

DA_MARKERS = (
    "domestic violence protection order",
    "partner-on-partner",
    "honour-based abuse",
    "forced marriage",
    "female genital mutilation",
)
SUBSTANCE_MARKERS = ("drugs involved", "alcohol involved", "solvent abuse")
RISK_LEVELS = ("standard", "medium", "high")
RECORD_TYPES = ("crime", "non-crime")
