"""The same extract as CSV and as Parquet builds the same marts (issue: CSV and Parquet both accepted)."""

from __future__ import annotations

import pytest

from dap.digest import table_digests
from tests.helpers import build_marts, generate_extract

pytestmark = pytest.mark.slow


def test_csv_extract_builds_the_same_marts_as_parquet(tiny_extract, tiny_warehouse, tmp_path):
    csv_extract = generate_extract("tiny", 1, tmp_path / "csv_extract", fmt="csv")  # the tiny_extract seed
    assert {p.suffix for p in csv_extract.glob("*.*")} == {".csv"}
    csv_warehouse = tmp_path / "warehouse.duckdb"
    build_marts(csv_extract, csv_warehouse)
    parquet_marts = table_digests(tiny_warehouse, schemas=("marts",))
    assert set(parquet_marts) >= {"marts.fct_offences", "marts.fct_incidents", "marts.dim_offenders"}
    assert table_digests(csv_warehouse, schemas=("marts",)) == parquet_marts
