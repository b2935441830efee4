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

# Bad rows. A row that breaks a row-level rule is quarantined with the rule and a reason (the rules are the
# dbt staging layer's: dbt_project/macros/validation.sql and rules.sql). A run is refused only when a table
# has more than this share of its rows quarantined, and more than one row: a single bad row never stops a
# run. Dagster run config of `raw_extract` (`max_quarantined_share`) overrides it for a run.
MAX_QUARANTINED_SHARE = 0.05

# Parquet declares one type per column, so a column of the wrong type is a fault of the file, not of a row.
# What each logical type of the contract accepts, as DuckDB reads Parquet (values are then read as text and
# parsed row by row, exactly as a CSV value would be). Refused on purpose: a timestamp with a time zone (the
# contract's timestamps are local time without zone), a date where a timestamp is wanted (it has no time of
# day), integers for a date or timestamp (epoch units are ambiguous), floats for identifiers.
_INTEGERS = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
_NUMBERS = (*_INTEGERS, "FLOAT", "DOUBLE", "DECIMAL")
_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS")
PARQUET_TYPES: dict[str, tuple[str, ...]] = {
    "string": ("VARCHAR", "UUID", *_INTEGERS),
    "int": ("VARCHAR", *_NUMBERS),
    "double": ("VARCHAR", *_NUMBERS),
    "bool": ("VARCHAR", "BOOLEAN", *_INTEGERS),
    "date": ("VARCHAR", "DATE", *_TIMESTAMPS),
    "timestamp": ("VARCHAR", *_TIMESTAMPS),
}


def parquet_type_accepted(logical_type: str, duckdb_type: str) -> bool:
    """Whether a Parquet column of ``duckdb_type`` (as DuckDB names it) may hold the contract's ``logical_type``.
    A column with no values at all (type NULL) is accepted for any type."""
    base = duckdb_type.split("(")[0].strip().upper()
    return base in ('"NULL"', "NULL") or base in PARQUET_TYPES[logical_type]
