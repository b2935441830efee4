"""dbt builds run DuckDB under a memory limit (DA_DUCKDB_MEMORY_LIMIT) so that they spill instead of growing."""

from __future__ import annotations

import re

import duckdb

from dap import settings


def test_the_profile_and_the_settings_share_one_default_and_duckdb_accepts_it(monkeypatch):
    profile = (settings.DBT_PROJECT_DIR / "profiles.yml").read_text()
    defaults = re.findall(r"env_var\('DA_DUCKDB_MEMORY_LIMIT', '([^']+)'\) or '([^']+)'", profile)
    assert defaults == [(settings.DEFAULT_DUCKDB_MEMORY_LIMIT, settings.DEFAULT_DUCKDB_MEMORY_LIMIT)]
    monkeypatch.delenv("DA_DUCKDB_MEMORY_LIMIT", raising=False)
    assert settings.duckdb_memory_limit() == settings.DEFAULT_DUCKDB_MEMORY_LIMIT
    monkeypatch.setenv("DA_DUCKDB_MEMORY_LIMIT", " 2GB ")
    assert settings.duckdb_memory_limit() == "2GB"
    con = duckdb.connect(config={"memory_limit": settings.DEFAULT_DUCKDB_MEMORY_LIMIT})
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    assert limit == "5.5 GiB"  # DuckDB reports 6 GB (10^9 bytes) in GiB
