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


#: Rows of a table validated beside the rows that could fail (so the frame is never empty).
SAMPLE_ROWS = 1_000


def frame_sql(table: Table, sample_rows: int = SAMPLE_ROWS) -> str:
    """The query whose result the suite validates: every row whose ``_row_number`` is null or repeated (the
    only rows on which the suite's row expectations can fail) and the first ``sample_rows`` of the others,
    with all of the table's columns. The suite's verdict, its failing counts and examples are the same as on
    the whole table, but the frame holds only the suspect rows: a national extract's tens of millions of
    rows are never read into memory to find none."""
    source = f'raw."{table.name}"'
    return f"""
        WITH repeated AS (
            SELECT _row_number FROM {source} WHERE _row_number IS NOT NULL GROUP BY 1 HAVING count(*) > 1
        )
        SELECT * FROM {source} WHERE _row_number IS NULL OR _row_number IN (SELECT _row_number FROM repeated)
        UNION ALL
        (SELECT * FROM {source} WHERE _row_number NOT IN (SELECT _row_number FROM repeated)
         ORDER BY _row_number LIMIT {int(sample_rows)})
    """


RAW_TABLES = [t for t in TABLES.values()]
