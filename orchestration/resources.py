"""Resources shared by every asset.

``PlatformResource`` names where a run writes: the DuckDB warehouse being built and the folder for reports.
Assets never open the *published* warehouse for writing; publication is a separate, atomic step.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from dap import settings


class PlatformResource(dg.ConfigurableResource):
    """Where this run reads and writes."""

    warehouse_path: str
    output_dir: str
    threads: int = 2

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """Open the run's warehouse. Close the connection when done: DuckDB allows one writer process."""
        path = Path(self.warehouse_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        con.execute(f"SET threads = {int(self.threads)}")
        return con

    def output_path(self, *parts: str) -> Path:
        """A path in the run's output folder (parents created)."""
        path = Path(self.output_dir).joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def default_platform() -> PlatformResource:
    return PlatformResource(
        warehouse_path=str(settings.warehouse_path()), output_dir=str(settings.output_dir())
    )
