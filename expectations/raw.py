"""Suites for the raw tables, derived from the contract (``dap.contract``): what a whole table must be.

These run as blocking checks when the extract is loaded: a table with the wrong columns, or rows that
cannot be told apart, means the load itself is wrong, and nothing downstream may be rebuilt from it.

Faults of single rows are not here on purpose. They are the dbt staging layer's row-level rules, which
quarantine each bad row with its rule and reason (dbt_project/macros/rules.sql), and refuse the run only
when a table's quarantined share passes the bad-row threshold ``max_quarantined_share``
(dbt_project/macros/quarantine_threshold.sql). A second copy of those rules here, with its own tolerance,
would refuse runs that the quarantine accepts, and the other way round.
"""

from __future__ import annotations

import great_expectations as gx

from dap.contract import TABLES, Table


def suite_for(table: Table) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=f"raw_{table.name}")
    suite.add_expectation(
        gx.expectations.ExpectTableColumnsToMatchSet(
            column_set=[*table.column_names, "_row_number"], exact_match=True
        )
    )
    # Every row keeps its place in the file: quarantine and row conservation count rows by it.
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="_row_number"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="_row_number"))
    return suite


def frame_sql(table: Table) -> str:
    """The query whose result the suite validates."""
    return f'SELECT * FROM raw."{table.name}"'


RAW_TABLES = [t for t in TABLES.values()]
