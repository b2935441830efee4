"""Column lineage of dbt models, computed after dbt has finished.

dagster-dbt's ``fetch_column_metadata(with_column_lineage=True)`` asks the database for the columns of
each model and its parents *while* ``dbt build`` is still running; DuckDB allows one writer process, so
on this platform those queries fail or wait. The same lineage can be built afterwards from three
things that do not need the running dbt: the manifest, the compiled SQL in dbt's target folder and the
column names and types of every relation (``information_schema`` of the finished warehouse, or dbt's
``catalog.json``). The SQL is resolved column by column with sqlglot, exactly as dagster-dbt does, by
calling its own lineage builder; a model whose SQL sqlglot cannot resolve simply gets no lineage
(logged), never a failed run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

logger = logging.getLogger(__name__)

Columns = dict[tuple[str, str], dict[str, str]]  # (schema, table) -> {column: type}, lower-case names


def _relation(props: Mapping[str, Any]) -> tuple[str, str]:
    table = props.get("alias") or props.get("identifier") or props["name"]
    return str(props.get("schema") or "").lower(), str(table).lower()


def columns_from_information_schema(con) -> Columns:
    found: Columns = {}
    for schema, table, column, dtype in con.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "ORDER BY table_schema, table_name, ordinal_position"
    ).fetchall():
        found.setdefault((schema.lower(), table.lower()), {})[column] = dtype
    return found


def columns_from_catalog(catalog: Mapping[str, Any]) -> Columns:
    found: Columns = {}
    for section in ("nodes", "sources"):
        for entry in (catalog.get(section) or {}).values():
            meta = entry.get("metadata") or {}
            cols = sorted((entry.get("columns") or {}).values(), key=lambda c: c.get("index") or 0)
            found[(str(meta.get("schema", "")).lower(), str(meta.get("name", "")).lower())] = {
                c["name"]: c.get("type") or "" for c in cols
            }
    return found


def column_lineage(
    manifest: Mapping[str, Any],
    target_path: Path,
    columns: Columns,
    unique_ids: Iterable[str],
    translator,
    project=None,
) -> dict[str, dg.TableColumnLineage]:
    """``unique_id → TableColumnLineage`` for the models in ``unique_ids`` (where it can be resolved)."""
    from dagster_dbt.core.dbt_cli_event import EventHistoryMetadata, _build_column_lineage_metadata

    result: dict[str, dg.TableColumnLineage] = {}
    for unique_id in unique_ids:
        props = manifest["nodes"].get(unique_id)
        if not props or props.get("resource_type") not in ("model", "snapshot"):
            continue
        own = columns.get(_relation(props))
        if not own:
            continue
        parents = {}
        for parent_id in manifest.get("parent_map", {}).get(unique_id, []):
            parent = manifest["nodes"].get(parent_id) or manifest["sources"].get(parent_id)
            if parent and parent.get("relation_name") and _relation(parent) in columns:
                parents[parent["relation_name"]] = {
                    c: {"data_type": t} for c, t in columns[_relation(parent)].items()
                }
        try:
            built = _build_column_lineage_metadata(
                event_history_metadata=EventHistoryMetadata(
                    columns={c: {"data_type": t} for c, t in own.items()}, parents=parents
                ),
                dbt_resource_props=props,
                manifest=manifest,
                dagster_dbt_translator=translator,
                target_path=Path(target_path),
                project=project,
            )
        except Exception as error:  # sqlglot cannot resolve every dialect feature: lineage is best effort
            logger.warning("no column lineage for %s: %s", unique_id, error)
            continue
        lineage = built.get("dagster/column_lineage")
        if isinstance(lineage, dg.TableColumnLineage):
            result[unique_id] = lineage
    return result


def lineage_to_json(lineage: dg.TableColumnLineage) -> dict[str, list[dict[str, str]]]:
    return {
        column: [{"asset": dep.asset_key.to_user_string(), "column": dep.column_name} for dep in deps]
        for column, deps in lineage.deps_by_column.items()
    }


def attach_to_events(invocation, events: list, columns: Columns) -> list:
    """Add ``dagster/column_lineage`` to the dbt materialisations in ``events`` (after dbt finished)."""
    ids = {}
    for index, event in enumerate(events):
        if isinstance(event, dg.Output | dg.AssetMaterialization):
            unique_id = event.metadata.get("unique_id")
            text = getattr(unique_id, "text", None) or (unique_id if isinstance(unique_id, str) else None)
            if text:
                ids[text] = index
    if not ids:
        return events
    try:
        lineage = column_lineage(
            invocation.manifest,
            invocation.target_path,
            columns,
            ids,
            invocation.dagster_dbt_translator,
            getattr(invocation, "project", None),
        )
    except Exception as error:
        logger.warning("column lineage skipped: %s", error)
        return events
    events = list(events)
    for unique_id, found in lineage.items():
        event = events[ids[unique_id]]
        events[ids[unique_id]] = event.with_metadata({**event.metadata, "dagster/column_lineage": found})
    return events


def attach(invocation, events: list, platform) -> list:
    """``attach_to_events`` with the columns read (read-only) from the platform's finished warehouse."""
    try:
        con = platform.connect(read_only=True)
        try:
            columns = columns_from_information_schema(con)
        finally:
            con.close()
    except Exception as error:
        logger.warning("column lineage skipped: %s", error)
        return events
    return attach_to_events(invocation, events, columns)
