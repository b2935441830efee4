"""OpenLineage: where events go, one emitter for them, and dbt's events from openlineage-dbt's artifact
processor (on the run's ``dbt build`` artifacts and its dbt docs' ``catalog.json``); the other assets' events
come from dagster-openlineage (``orchestration/defs/lineage.py``). What the events hold: docs/auditors.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.common.provider.dbt.facets import ParentRunMetadata
from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor

NAMESPACE = "da_platform"
LOG_PARTS = ("lineage", "openlineage.jsonl")
LOG_VARIABLE = "DA_OPENLINEAGE_LOG"
DBT_PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/integration/dbt"


class Emitter:
    """Emits every event to the run's ``lineage/openlineage.jsonl`` under ``output_dir``, to the platform's
    cumulative log (``$DA_OPENLINEAGE_LOG``, default ``$DAGSTER_HOME/openlineage.jsonl``; empty to switch it
    off), one JSON object a line, and to a configured backend; a failure to write raises
    (dagster-openlineage accepts any object with ``emit``)."""

    def __init__(self, output_dir: Path):
        cumulative = os.environ.get(LOG_VARIABLE)
        if cumulative is None and os.environ.get("DAGSTER_HOME"):
            cumulative = str(Path(os.environ["DAGSTER_HOME"]) / "openlineage.jsonl")
        paths = [output_dir.joinpath(*LOG_PARTS)] + ([Path(cumulative).expanduser()] if cumulative else [])
        self.clients = []
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            transport = FileTransport(FileConfig(log_file_path=str(path), append=True))
            self.clients.append(OpenLineageClient(transport=transport))
        if os.environ.get("OPENLINEAGE_URL") or os.environ.get("OPENLINEAGE_CONFIG"):
            self.clients.append(OpenLineageClient())
        self.emitted = 0

    def emit(self, event: Any) -> None:
        for client in self.clients:
            client.emit(event)
        self.emitted += 1


class _RunArtifacts(DbtLocalArtifactProcessor):
    """openlineage-dbt's processor on one dbt invocation's artifacts; the datasets are named after the
    run's warehouse file (``duckdb://warehouse.duckdb``) rather than the profile's path expression."""

    def get_dbt_metadata(self):
        manifest, run_result, profile, catalog = super().get_dbt_metadata()
        return manifest, run_result, {**profile, "path": self.warehouse_name}, catalog


def dbt_events(
    project_dir: Path, target: Path, catalog: Path | None, warehouse_name: str, parent: Mapping[str, str]
) -> list:
    """openlineage-dbt's events of the dbt invocation whose artifacts are in ``target``, with ``catalog``
    (dbt docs; none when absent) for column types and ``parent`` (``run_id``, ``job_name``) as parent run."""
    processor = _RunArtifacts(
        producer=DBT_PRODUCER,
        job_namespace=NAMESPACE,
        project_dir=str(project_dir),
        target_path=str(target),
        dbt_command_line=["--profiles-dir", str(project_dir)],
    )
    processor.warehouse_name, processor.catalog_path = warehouse_name, str(catalog or "")
    processor.dbt_run_metadata = ParentRunMetadata(
        run_id=parent["run_id"], job_name=parent["job_name"], job_namespace=NAMESPACE
    )
    return processor.parse().events()


def column_lineage_of(events: Iterable[Any]) -> dict[str, dict[str, list[dict[str, str]]]]:
    """``asset key → {column: [{asset, column}]}`` from the columnLineage facets of dbt's COMPLETE events
    (dataset ``<database>.<schema>.<table>`` is the asset ``<schema>/<table>``). A column whose inputs
    include a CTE openlineage-sql left unresolved (a one-part name) is left out: no lineage, not a wrong one."""

    def key(name: str) -> str:
        return "/".join(name.split(".")[-2:])

    found: dict[str, dict[str, list[dict[str, str]]]] = {}
    for event in events:
        for output in getattr(event, "outputs", None) or []:
            facet = (output.facets or {}).get("columnLineage")
            if facet is not None and facet.fields:
                found[key(output.name)] = {
                    column: [{"asset": key(f.name), "column": f.field} for f in fields.inputFields]
                    for column, fields in facet.fields.items()
                    if all(f.name.count(".") >= 2 for f in fields.inputFields)
                }
    return found
