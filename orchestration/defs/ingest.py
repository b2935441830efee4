"""Ingest: the extract's files → the warehouse's ``raw`` schema, one asset per contract table.

Each raw asset's data version is the SHA-256 of the file it was loaded from (or of the shipped reference
file), so Dagster sees a new extract as new data. What is wrong with a whole file stops the run here, with
the file, the column and an example value (``dap.extract``); the contract suites (``expectations.raw``) run
here as blocking checks on what a whole table must be. Bad single rows are not stopped here: dbt
quarantines them, and refuses the run only when a table's quarantined share passes
``max_quarantined_share`` (docs/data-model.md, "Bad input").
"""

import dagster as dg

from dap import settings
from dap.contract import MAX_QUARANTINED_SHARE, TABLES
from dap.extract import ExtractError, load_raw
from expectations import raw as raw_suites
from orchestration import keys
from orchestration.lib import gx_adapter
from orchestration.lib.code_version import source_version
from orchestration.resources import PlatformResource

RAW_CHECK = "contract"


class IngestConfig(dg.Config):
    extract_dir: str = ""
    """Extract folder; empty means DA_EXTRACT_DIR (or the generated demo extract)."""
    max_quarantined_share: float = MAX_QUARANTINED_SHARE
    """The bad-row threshold, the one setting for it: a run is refused when a table has more than this
    share of its rows quarantined (and more than one row), or when more than this share of crimes have an
    offence code missing from ref_offences. Below it, bad rows go to `quarantine` with a rule and a reason."""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            keys.raw(name),
            group_name="raw",
            kinds={"duckdb", "file"},
            description=(
                f"The extract's `{name}` table loaded as text with its row numbers"
                + (" (reference data: the extract's copy, else the project's)" if spec.reference else "")
                + "."
            ),
            skippable=False,
        )
        for name, spec in TABLES.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            RAW_CHECK,
            asset=keys.raw(name),
            blocking=True,
            description=(
                "Great Expectations suite from the extract contract (blocking): the table's columns, and "
                "every row numbered once. Bad single rows are quarantined by dbt, not failed here."
            ),
        )
        for name in TABLES
    ],
    name="raw_extract",
    can_subset=False,
    pool="warehouse",
    code_version=source_version(
        __name__, "dap.extract", "dap.contract", "expectations.raw", "orchestration.lib.gx_adapter"
    ),
)
def raw_extract(context: dg.AssetExecutionContext, config: IngestConfig, platform: PlatformResource):
    """Load every table of the extract; stop with a clear error (file, column, example) on a fault of a file."""
    extract_dir = config.extract_dir or str(settings.extract_dir())
    with platform.connect() as con:
        try:
            summary = load_raw(
                con,
                extract_dir,
                max_quarantined_share=config.max_quarantined_share,
                progress=lambda name: context.log.info(f"loading {name}"),
            )
        except ValueError as error:  # a threshold outside 0..1
            raise dg.Failure(description=f"run config of raw_extract: {error}") from None
        except ExtractError as error:
            raise dg.Failure(
                description=str(error),
                metadata={"file": error.file, "column": error.column or "", "example": str(error.example)},
            ) from None
        for warning in summary.warnings:
            context.log.warning(warning)
        context.log.info(
            f"bad-row threshold max_quarantined_share = {config.max_quarantined_share:.1%}: single bad rows "
            "are quarantined; a table with a larger quarantined share refuses the run"
        )
        frames = {name: con.execute(raw_suites.frame_sql(spec)).df() for name, spec in TABLES.items()}

    gx_root = platform.resolved_warehouse_path.parent / "gx"
    gx_adapter.activate(gx_root)
    for name, spec in TABLES.items():
        loaded = summary.tables[name]
        yield dg.MaterializeResult(
            asset_key=keys.raw(name),
            data_version=dg.DataVersion(loaded.sha256 or "absent"),
            metadata={
                "dagster/row_count": loaded.rows,
                "source": loaded.source,
                "file": loaded.file or "",
                "sha256": loaded.sha256 or "",
                "format": loaded.format or "",
                "ignored_columns": ", ".join(loaded.extra_columns),
                "max_quarantined_share": summary.max_quarantined_share,
            },
        )
        validation = gx_adapter.validate(frames[name], raw_suites.suite_for(spec), gx_root, f"raw_{name}")
        yield gx_adapter.to_check_result(
            validation,
            keys.raw(name),
            RAW_CHECK,
            dg.AssetCheckSeverity.ERROR,
            # The suite sees the rows that could fail and a sample of the rest (expectations.raw.frame_sql).
            metadata={"rows_in_table": loaded.rows, "rows_validated": len(frames[name])},
        )
    docs = gx_adapter.publish_data_docs(gx_root, platform.output_path("data_docs", "gx"))
    if docs:
        context.log.info(f"Great Expectations Data Docs: {docs}")


defs = dg.Definitions(assets=[raw_extract])
