"""A platform run with Dagster's run and event storage in PostgreSQL (deploy/dagster-postgres.yaml)."""

from __future__ import annotations

import shutil

import pytest

from dap import settings
from tests.e2e.conftest import make_platform
from tests.postgres_server import postgres_bin_dir, postgres_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_run_with_postgres_backed_dagster(tiny_extract, tmp_path_factory):
    if postgres_bin_dir() is None:
        pytest.skip(
            "PostgreSQL server binaries not installed (Debian package 'postgresql'; .ci/run installs it)"
        )
    import psycopg2

    platform = make_platform(tmp_path_factory, tiny_extract, "postgres")
    platform.dagster_home.mkdir(parents=True)
    shutil.copy(
        settings.PROJECT_ROOT / "deploy" / "dagster-postgres.yaml", platform.dagster_home / "dagster.yaml"
    )
    with postgres_server() as (host, port, user):
        connection = psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE dagster")
        connection.close()
        env = {
            "DAGSTER_PG_USERNAME": user,
            "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
            "DAGSTER_PG_HOST": host,
            "DAGSTER_PG_DB": "dagster",
            "DAGSTER_PG_PORT": str(port),
        }
        result = platform.dap("run", **env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

        connection = psycopg2.connect(host=host, port=port, user=user, dbname="dagster")
        cursor = connection.cursor()
        cursor.execute("SELECT status FROM runs")
        assert [r[0] for r in cursor.fetchall()] == ["SUCCESS"]
        cursor.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        assert cursor.fetchone()[0] > 20
        connection.close()
