"""Suites for the raw tables, derived from the contract (``dap.contract``).

Raw tables hold text, so types are checked by pattern. Each row-level expectation carries ``mostly``:
isolated bad rows are quarantined downstream; more than ``max_bad_row_share`` of a column breaking a rule
means the extract itself is wrong, and the check blocks the run.
"""

from __future__ import annotations

import great_expectations as gx

from dap.contract import RECORD_TYPES, RISK_LEVELS, TABLES, Table

TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*$"
DATE = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
INTEGER = r"^\s*-?\d+\s*$"
DOUBLE = r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
BOOLEAN = r"(?i)^\s*(true|false|t|f|1|0|yes|no)\s*$"
PATTERNS = {"timestamp": TIMESTAMP, "date": DATE, "int": INTEGER, "double": DOUBLE, "bool": BOOLEAN}
AGE_RANGE = (0, 110)


def _one_of(values) -> str:
    return "(?i)^\\s*(" + "|".join(v.replace("-", "\\-") for v in values) + ")\\s*$"


def suite_for(table: Table, mostly: float, known_offence_codes=None, known_lsoas=None) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=f"raw_{table.name}")
    add = suite.add_expectation
    helpers = ["age_numeric"] if "age" in table.column_names else []
    add(
        gx.expectations.ExpectTableColumnsToMatchSet(
            column_set=[*table.column_names, "_row_number", *helpers], exact_match=True
        )
    )
    for column in table.columns:
        if not column.nullable:
            add(gx.expectations.ExpectColumnValuesToNotBeNull(column=column.name, mostly=mostly))
        if column.type in PATTERNS:
            add(
                gx.expectations.ExpectColumnValuesToMatchRegex(
                    column=column.name, regex=PATTERNS[column.type], mostly=mostly
                )
            )
    names = set(table.column_names)
    if table.name == "crimes":
        add(gx.expectations.ExpectColumnValuesToBeUnique(column="crime_number", mostly=mostly))
        add(
            gx.expectations.ExpectColumnValuesToMatchRegex(
                column="record_type", regex=_one_of(RECORD_TYPES), mostly=mostly
            )
        )
        add(
            gx.expectations.ExpectColumnValuesToMatchRegex(
                column="risk_level", regex=_one_of(RISK_LEVELS), mostly=mostly
            )
        )
        # ISO timestamps compare correctly as text.
        add(
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="committed_to",
                column_B="committed_from",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                mostly=mostly,
            )
        )
        add(
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="reported_at",
                column_B="committed_from",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                mostly=mostly,
            )
        )
        if known_offence_codes is not None:
            add(
                gx.expectations.ExpectColumnValuesToBeInSet(
                    column="offence_code", value_set=sorted(known_offence_codes), mostly=mostly
                )
            )
        if known_lsoas is not None:
            add(
                gx.expectations.ExpectColumnValuesToBeInSet(
                    column="lsoa_code", value_set=sorted(known_lsoas), mostly=mostly
                )
            )
    if "age" in names:
        add(
            gx.expectations.ExpectColumnValuesToBeBetween(
                column="age_numeric", min_value=AGE_RANGE[0], max_value=AGE_RANGE[1], mostly=mostly
            )
        )
    if table.name == "ref_offences":
        add(gx.expectations.ExpectColumnValuesToBeUnique(column="offence_code"))
    if table.name == "ref_lsoa":
        add(gx.expectations.ExpectColumnValuesToBeUnique(column="lsoa_code"))
    return suite


def frame_sql(table: Table) -> str:
    """The query whose result the suite validates (adds numeric helpers for range checks)."""
    extra = ", TRY_CAST(trim(age) AS DOUBLE) AS age_numeric" if "age" in table.column_names else ""
    return f'SELECT *{extra} FROM raw."{table.name}"'


RAW_TABLES = [t for t in TABLES.values()]
