"""Ingest: the extract's files → the warehouse's ``raw`` schema, one asset per contract table.

Each raw asset's data version is the SHA-256 of the file it was loaded from (or of the shipped reference
file), so Dagster sees a new extract as new data. The contract suites (``expectations.raw``) run here as
blocking checks: when an extract is wrong as a whole, nothing downstream is rebuilt.
"""

import dagster as dg

from dap import settings
from dap.contract import TABLES
from dap.extract import DEFAULT_MAX_UNKNOWN_OFFENCE_CODE_SHARE, ExtractError, load_raw
from expectations import raw as raw_suites
from orchestration import keys
from orchestration.lib import gx_adapter
from orchestration.lib.code_version import source_version
from orchestration.resources import PlatformResource

RAW_CHECK = "contract"


class IngestConfig(dg.Config):
    extract_dir: str = ""
    """Extract folder; empty means DA_EXTRACT_DIR (or the generated demo extract)."""
    max_bad_row_share: float = 0.05
    max_unknown_offence_code_share: float = DEFAULT_MAX_UNKNOWN_OFFENCE_CODE_SHARE


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
            description="Great Expectations suite from the extract contract (blocking)",
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
    """Load every table of the extract; stop with a clear error on a missing table/column or unreadable file."""
    extract_dir = config.extract_dir or str(settings.extract_dir())
    con = platform.connect()
    try:
        try:
            summary = load_raw(
                con,
                extract_dir,
                max_unknown_offence_code_share=config.max_unknown_offence_code_share,
                progress=lambda name: context.log.info(f"loading {name}"),
            )
        except ExtractError as error:
            raise dg.Failure(
                description=str(error),
                metadata={"file": error.file, "column": error.column or "", "example": str(error.example)},
            ) from None
        for warning in summary.warnings:
            context.log.warning(warning)
        codes = {
            r[0].strip().upper()
            for r in con.execute("SELECT offence_code FROM raw.ref_offences").fetchall()
            if r[0]
        }
        lsoas = {r[0].strip() for r in con.execute("SELECT lsoa_code FROM raw.ref_lsoa").fetchall() if r[0]}
        frames = {name: con.execute(raw_suites.frame_sql(spec)).df() for name, spec in TABLES.items()}
    finally:
        con.close()

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
            },
        )
        frame = frames[name]
        if name == "crimes":
            frame = frame.assign(
                offence_code=frame["offence_code"].str.strip().str.upper(),
                lsoa_code=frame["lsoa_code"].str.strip(),
            )
        suite = raw_suites.suite_for(
            spec,
            mostly=1.0 - config.max_bad_row_share,
            known_offence_codes=codes if name == "crimes" else None,
            known_lsoas=lsoas if name == "crimes" else None,
        )
        validation = gx_adapter.validate(frame, suite, gx_root, f"raw_{name}")
        yield gx_adapter.to_check_result(validation, keys.raw(name), RAW_CHECK, dg.AssetCheckSeverity.ERROR)
    docs = gx_adapter.publish_data_docs(gx_root, platform.output_path("data_docs", "gx"))
    if docs:
        context.log.info(f"Great Expectations Data Docs: {docs}")


defs = dg.Definitions(assets=[raw_extract])
