"""Content digests of published tables: the same extract must give the same digests on every run.

Wall-clock columns (how long a step took, when a report was generated) are the only columns allowed to
differ between identical runs: those listed here and any column whose name ends in ``seconds``. They are
left out of the digests.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

VOLATILE_COLUMNS = frozenset(
    {"seconds", "generated_at", "run_id", "dagster_run_id", "started_at_utc", "finished_at_utc"}
)
PUBLISHED_SCHEMAS = ("marts", "analytics")


def table_digests(
    warehouse: Path | str,
    schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
    volatile: frozenset[str] = VOLATILE_COLUMNS,
) -> dict[str, str]:
    """``{"schema.table": md5}`` over the sorted rows of every table in ``schemas`` (order-independent)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN "
            f"({', '.join('?' for _ in schemas)}) ORDER BY 1, 2",
            list(schemas),
        ).fetchall()
        digests = {}
        for schema, table in tables:
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                    "ORDER BY ordinal_position",
                    [schema, table],
                ).fetchall()
                if r[0] not in volatile and not r[0].endswith("seconds")
            ]
            if not columns:
                continue
            row = "CAST(ROW(" + ", ".join(f'"{c}"' for c in columns) + ") AS VARCHAR)"
            digest = con.execute(
                f'SELECT md5(coalesce(string_agg(r, chr(10) ORDER BY r), \'\')) FROM (SELECT {row} AS r FROM "{schema}"."{table}")'
            ).fetchone()[0]
            digests[f"{schema}.{table}"] = digest
        return digests
