"""The raw-extract contract (spec/raw-extract-contract.md) as pyarrow schemas."""

from __future__ import annotations

PERSON_COLUMNS = [
    ("crime_number", "string"),
    ("person_id", "string"),
    ("age", "int64"),
    ("sex", "string"),
    ("ethnicity", "string"),
]

CONTRACT = {
    "crimes": [
        ("crime_number", "string"),
        ("record_type", "string"),
        ("offence_code", "string"),
        ("da_flag", "bool"),
        ("reported_at", "timestamp"),
        ("committed_from", "timestamp"),
        ("committed_to", "timestamp"),
        ("lsoa_code", "string"),
        ("risk_level", "string"),
        ("outcome_code", "int64"),
    ],
    "offenders": PERSON_COLUMNS,
    "victims": PERSON_COLUMNS,
    "witnesses": PERSON_COLUMNS,
    "relationships": [
        ("crime_number", "string"),
        ("victim_person_id", "string"),
        ("offender_person_id", "string"),
        ("witness_person_id", "string"),
        ("relationship", "string"),
    ],
    "custody": [
        ("crime_number", "string"),
        ("person_id", "string"),
        ("arrested_at", "timestamp"),
        ("arrest_reason", "string"),
        ("clearup", "string"),
    ],
    "child_flags": [("crime_number", "string"), ("children_present", "bool"), ("children_count", "int64")],
    "special_interest_markers": [("crime_number", "string"), ("marker", "string")],
    "programme_participants": [
        ("person_id", "string"),
        ("programme", "string"),
        ("cohort", "string"),
        ("arm", "string"),
        ("referred_on", "date"),
        ("selected_on", "date"),
        ("disruption_started_on", "date"),
        ("full_engagement_on", "date"),
        ("completed_on", "date"),
        ("exited_on", "date"),
        ("exit_reason", "string"),
    ],
}
STREAMED_TABLES = [
    "crimes",
    "offenders",
    "victims",
    "witnesses",
    "relationships",
    "custody",
    "child_flags",
    "special_interest_markers",
    "programme_participants",
]
REFERENCE_TABLES = ["ref_offences", "ref_lsoa", "offence_types"]
ALL_TABLES = STREAMED_TABLES + REFERENCE_TABLES


def arrow_type(name: str):
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("s"),
        "date": pa.date32(),
        "double": pa.float64(),
    }[name]


def schema(table: str):
    import pyarrow as pa

    return pa.schema([(name, arrow_type(kind)) for name, kind in CONTRACT[table]])
