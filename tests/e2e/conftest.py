"""End-to-end fixtures: the real `dap run` command on a generated `tiny` extract, in temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Platform:
    root: Path
    extract: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "data" / "warehouse.duckdb"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DA_EXTRACT_DIR": str(self.extract),
            "DA_WAREHOUSE": str(self.warehouse),
            "DA_OUTPUT_DIR": str(self.reports),
            "DAGSTER_HOME": str(self.dagster_home),
            "GX_ANALYTICS_ENABLED": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            **extra,
        }

    def dap(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dap.cli", *args],
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=1800,
        )

    def start(self, *args: str, log: Path, **env: str) -> subprocess.Popen:
        """Start `dap` in the background, its output going to ``log`` (a pipe nobody reads would fill up
        and block the process)."""
        with open(log, "w") as handle:
            return subprocess.Popen(
                [sys.executable, "-m", "dap.cli", *args],
                env=self.env(**env),
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
            )


def make_platform(tmp_path_factory, extract: Path, name: str) -> Platform:
    root = tmp_path_factory.mktemp(name)
    return Platform(root, extract)


@pytest.fixture(scope="session")
def published(tiny_extract, tmp_path_factory) -> Platform:
    """A platform whose first `dap run` on the tiny extract succeeded and published."""
    platform = make_platform(tmp_path_factory, tiny_extract, "published")
    result = platform.dap("run")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return platform
