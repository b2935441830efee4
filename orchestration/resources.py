"""Resources shared by every asset.

``PlatformResource`` names where a run writes: the DuckDB warehouse being built and the folder for its
reports. In a platform run both contain ``{run_id}``, resolved to the run's root run id, so a run (and its
re-execution from failure) builds in its own folder and never touches the published warehouse; the
``publish`` asset switches the published links when everything passed (``dap.publication``).
Tests may give plain paths instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from dap import publication, settings, testpoints


class PlatformResource(dg.ConfigurableResource):
    """Where this run reads and writes."""

    warehouse_path: str
    output_dir: str
    published_warehouse: str = ""
    published_output_dir: str = ""
    threads: int = 2

    _run_id: str = PrivateAttr(default="")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.dagster_run
        self._run_id = (run.root_run_id or run.run_id) if run is not None else (context.run_id or "adhoc")
        if publication.RUN_ID_PLACEHOLDER in self.warehouse_path:
            publication.prepare_build(self.layout, self._run_id)

    @property
    def run_id(self) -> str:
        return self._run_id or "adhoc"

    @property
    def layout(self) -> publication.Layout:
        return publication.Layout(
            Path(self.published_warehouse or settings.warehouse_path()),
            Path(self.published_output_dir or settings.output_dir()),
        )

    @property
    def is_build(self) -> bool:
        """True when this run builds into its own folder and publishes at the end."""
        return publication.RUN_ID_PLACEHOLDER in self.warehouse_path

    @property
    def resolved_warehouse_path(self) -> Path:
        return Path(self.warehouse_path.replace(publication.RUN_ID_PLACEHOLDER, self.run_id))

    @property
    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir.replace(publication.RUN_ID_PLACEHOLDER, self.run_id))

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """Open the run's warehouse. Close the connection when done: DuckDB allows one writer process."""
        path = self.resolved_warehouse_path
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
        con.execute(f"SET threads = {int(self.threads)}")
        if not read_only and os.environ.get(testpoints.PAUSE_AT):
            testpoints.reached(f"{_step_key()}: warehouse opened for writing")
        return con

    def output_path(self, *parts: str) -> Path:
        """A path in the run's output folder (parents created)."""
        path = self.resolved_output_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def _step_key() -> str:
    try:
        return dg.AssetExecutionContext.get().op_def.name
    except dg.DagsterInvariantViolationError:
        return "(no step)"


def default_platform() -> PlatformResource:
    """The platform resource of a real run: builds per run, publishes to DA_WAREHOUSE / DA_OUTPUT_DIR."""
    layout = publication.Layout(settings.warehouse_path(), settings.output_dir())
    build = layout.builds_dir / publication.RUN_ID_PLACEHOLDER
    return PlatformResource(
        warehouse_path=str(build / "warehouse.duckdb"),
        output_dir=str(build / "reports"),
        published_warehouse=str(layout.published_warehouse),
        published_output_dir=str(layout.published_output_dir),
    )
