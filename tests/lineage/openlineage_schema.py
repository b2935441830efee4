"""The OpenLineage JSON schema of the installed client, for validating the events the platform writes.

The openlineage-python package does not ship the spec's JSON files, and tests run offline, so the
schema is derived from the package itself: its event and facet classes are generated from the spec
(``openlineage.client.generated``), with the spec's required fields, types, enumerations and nesting.
Each class becomes a JSON-schema definition (required = fields without a default; the serialiser drops
``None``), and the spec's string formats are checked: ``eventTime`` (ISO 8601 date-time with zone),
``runId`` (UUID), ``producer``/``schemaURL``/``_producer``/``_schemaURL`` (URI). Facets allow additional
properties, as in the spec.
"""

from __future__ import annotations

import enum
import typing
import uuid
from datetime import datetime
from urllib.parse import urlparse

import attr
import jsonschema

FORMATS = {
    "eventTime": "date-time",
    "runId": "uuid",
    "producer": "uri",
    "schemaURL": "uri",
    "_producer": "uri",
    "_schemaURL": "uri",
}


def _type_schema(tp, defs: dict) -> dict:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is typing.Any:
        return {}
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        options = [a for a in args if a is not type(None)]
        return (
            _type_schema(options[0], defs)
            if len(options) == 1
            else {"anyOf": [_type_schema(a, defs) for a in options]}
        )
    if origin in (list, typing.List, typing.Sequence):  # noqa: UP006
        return {"type": "array", "items": _type_schema(args[0], defs) if args else {}}
    if origin in (dict, typing.Dict, typing.Mapping):  # noqa: UP006
        return {"type": "object", "additionalProperties": _type_schema(args[1], defs) if args else {}}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if isinstance(tp, type) and attr.has(tp):
        name = f"{tp.__module__}.{tp.__qualname__}"
        if name not in defs:
            defs[name] = {}
            defs[name] = _class_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    return {}


def _class_schema(cls, defs: dict) -> dict:
    hints = typing.get_type_hints(cls)
    properties, required = {}, []
    for field in attr.fields(cls):
        schema = dict(_type_schema(hints.get(field.name, typing.Any), defs))
        if field.name in FORMATS:
            schema["format"] = FORMATS[field.name]
        properties[field.name] = schema
        if field.default is attr.NOTHING:
            required.append(field.name)
    names = {f.name for f in attr.fields(cls)}
    # BaseEvent and BaseFacet of the spec require these; the client fills them in by default.
    for pair in (("producer", "schemaURL"), ("_producer", "_schemaURL")):
        if pair[0] in names:
            required += [n for n in pair if n not in required]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": True}


def run_event_schema() -> dict:
    from openlineage.client.event_v2 import RunEvent

    defs: dict = {}
    root = _class_schema(RunEvent, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": defs}


def facet_schema(facet_class) -> dict:
    defs: dict = {}
    root = _class_schema(facet_class, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": defs}


def format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value) -> bool:
        if not isinstance(value, str):
            return True
        return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None

    @checker.checks("uuid", raises=ValueError)
    def _uuid(value) -> bool:
        return not isinstance(value, str) or bool(uuid.UUID(value))

    @checker.checks("uri")
    def _uri(value) -> bool:
        return not isinstance(value, str) or bool(urlparse(value).scheme)

    return checker


def validator(schema: dict | None = None) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema or run_event_schema(), format_checker=format_checker())


def _facet_classes() -> dict[str, type]:
    from openlineage.client.facet_v2 import (
        column_lineage_dataset,
        data_quality_assertions_dataset,
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        output_statistics_output_dataset,
        parent_run,
        processing_engine_run,
        schema_dataset,
        source_code_location_job,
        sql_job,
    )

    return {
        "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
        "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet,
        "version": dataset_version_dataset.DatasetVersionDatasetFacet,
        "errorMessage": error_message_run.ErrorMessageRunFacet,
        "jobType": job_type_job.JobTypeJobFacet,
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet,
        "parent": parent_run.ParentRunFacet,
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
        "schema": schema_dataset.SchemaDatasetFacet,
        "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet,
        "sql": sql_job.SQLJobFacet,
    }


def event_errors(event: dict) -> list[str]:
    """Every schema violation of one serialised RunEvent, including its named facets; [] when valid."""
    errors = [f"event: {e.message}" for e in validator().iter_errors(event)]
    facets = _facet_classes()
    holders = [
        ("run", event.get("run", {}).get("facets", {})),
        ("job", event.get("job", {}).get("facets", {})),
    ]
    for side in ("inputs", "outputs"):
        for dataset in event.get(side, []):
            holders.append((f"{side}:{dataset.get('name')}", dataset.get("facets", {})))
            holders.append((f"{side}:{dataset.get('name')}", dataset.get("outputFacets", {})))
            holders.append((f"{side}:{dataset.get('name')}", dataset.get("inputFacets", {})))
    for where, found in holders:
        for name, facet in (found or {}).items():
            if name in facets:
                errors += [
                    f"{where} facet {name}: {e.message}"
                    for e in validator(facet_schema(facets[name])).iter_errors(facet)
                ]
    return errors
