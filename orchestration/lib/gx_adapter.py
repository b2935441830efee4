"""The one adapter between Great Expectations 1.x and Dagster asset checks.

It validates a pandas frame against a suite in a file-backed GX context (so Data Docs can be built) and
turns the result into an ``AssetCheckResult`` whose metadata lists every failed expectation with its
unexpected count and examples.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _context(project_root: Path):
    import great_expectations as gx

    project_root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(project_root))
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # progress bars are cosmetic; older/newer GX may differ
        pass
    return context


def activate(project_root: Path) -> None:
    """Make the run's file-backed GX context the active one (GX needs it before suites are built)."""
    _context(project_root)


def validate(frame: pd.DataFrame, suite, project_root: Path, asset_name: str):
    """Validate ``frame`` with ``suite``; returns the GX ``ExpectationSuiteValidationResult``."""
    import great_expectations as gx

    context = _context(project_root)
    source = context.data_sources.add_or_update_pandas("platform")
    try:
        data_asset = source.get_asset(asset_name)
    except (LookupError, KeyError, ValueError):
        data_asset = source.add_dataframe_asset(asset_name)
    try:
        batch = data_asset.get_batch_definition("whole")
    except (LookupError, KeyError, ValueError):
        batch = data_asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{suite.name}__validation", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{suite.name}__checkpoint",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format="SUMMARY",
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    return next(iter(result.run_results.values()))


def to_check_result(
    validation,
    asset_key: dg.AssetKey,
    check_name: str,
    blocking_severity: dg.AssetCheckSeverity,
    metadata: dict | None = None,
) -> dg.AssetCheckResult:
    failed = []
    for item in validation.results:
        if item.success:
            continue
        config = item.expectation_config
        details = item.result or {}
        failed.append(
            {
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_A"),
                "unexpected_count": details.get("unexpected_count"),
                "unexpected_percent": round(float(details.get("unexpected_percent") or 0.0), 4),
                "examples": [str(v) for v in (details.get("partial_unexpected_list") or [])[:5]],
                "observed_value": str(details.get("observed_value"))[:200]
                if "observed_value" in details
                else None,
            }
        )
    stats = validation.statistics
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=bool(validation.success),
        severity=blocking_severity,
        metadata={
            "suite": validation.suite_name,
            "evaluated": int(stats.get("evaluated_expectations", 0)),
            "successful": int(stats.get("successful_expectations", 0)),
            "success_percent": float(stats.get("success_percent") or 0.0),
            "failed_expectations": dg.MetadataValue.json(failed),
            **(metadata or {}),
        },
    )


def publish_data_docs(project_root: Path, destination: Path) -> Path | None:
    """Copy the built Data Docs site into ``destination``; returns its index page."""
    site = project_root / "gx" / "uncommitted" / "data_docs" / "local_site"
    if not site.exists():
        return None
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(site, destination)
    return destination / "index.html"
