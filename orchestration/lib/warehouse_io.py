"""Reading marts into pandas and writing analytics tables back to DuckDB."""

from __future__ import annotations

import duckdb
import pandas as pd


def read_table(
    con: duckdb.DuckDBPyConnection, relation: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """Read ``schema.table`` (optionally only some columns) into a pandas frame, rows in a fixed order.

    DuckDB scans in parallel, so without an ORDER BY the row order can change from run to run; sampling
    (CLARA) and floating-point sums then change too. Sorting by all columns makes every read, and so every
    published result, the same for the same data.
    """
    cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
    return con.execute(f"SELECT {cols} FROM {relation} ORDER BY ALL").df()


def table_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".", 1)
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])


def write_table(con: duckdb.DuckDBPyConnection, relation: str, frame: pd.DataFrame) -> int:
    """Replace ``schema.table`` with ``frame``; returns the row count written."""
    schema, name = relation.split(".", 1)
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    con.register("_frame_to_write", frame)
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS SELECT * FROM _frame_to_write')
    finally:
        con.unregister("_frame_to_write")
    return len(frame)
