"""`dap run`: materialise the whole asset graph on an extract and publish it atomically.

Honours DA_EXTRACT_DIR, DA_WAREHOUSE and DA_OUTPUT_DIR (or the options of the same meaning). Runs are
recorded in the Dagster instance under DAGSTER_HOME (default data/dagster_home), so `make dev` shows them
and a failed or killed run can be re-executed from where it failed with `dap run --resume`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dap import settings
from dap.cli import CliError

DEFAULT_DAGSTER_HOME = settings.DATA_DIR / "dagster_home"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extract", metavar="DIR", help="extract folder (default: $DA_EXTRACT_DIR or the demo extract)"
    )
    parser.add_argument(
        "--warehouse",
        metavar="FILE",
        help="published DuckDB warehouse (default: $DA_WAREHOUSE or data/warehouse.duckdb)",
    )
    parser.add_argument(
        "--output", metavar="DIR", help="reports folder (default: $DA_OUTPUT_DIR or reports/)"
    )
    parser.add_argument(
        "--config",
        metavar="YAML",
        help="Dagster run config (ops: <asset op>: config: ...) to override defaults",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="RUN_ID",
        help="re-execute a failed or killed run from where it failed (default: the last run)",
    )
    parser.add_argument(
        "--select", metavar="SELECTION", help="only these assets (Dagster selection syntax), e.g. 'key:raw/*'"
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="fail at once if another run is writing, instead of waiting"
    )
    parser.add_argument("--verbose", action="store_true", help="show Dagster's debug events as well")
    parser.set_defaults(func=run)


def _apply_environment(args: argparse.Namespace) -> None:
    for option, variable in (
        ("extract", "DA_EXTRACT_DIR"),
        ("warehouse", "DA_WAREHOUSE"),
        ("output", "DA_OUTPUT_DIR"),
    ):
        value = getattr(args, option)
        if value:
            os.environ[variable] = str(settings.absolute(value))
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME)))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(
            "# Local Dagster instance of the platform (SQLite storage). See the README for PostgreSQL.\n"
            "telemetry:\n  enabled: false\n"
            "concurrency:\n  runs:\n    max_concurrent_runs: 1\n  pools:\n    default_limit: 1\n"
        )


def _load_run_config(path: str | None) -> dict:
    if not path:
        return {}
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise CliError(f"cannot read run config {path}: {error}") from None


def run(args: argparse.Namespace) -> int:
    _apply_environment(args)
    extract = settings.extract_dir()
    if not args.resume and not extract.is_dir():
        raise CliError(
            f"extract folder {extract} does not exist; set DA_EXTRACT_DIR or generate one with "
            "`dap synth --scale demo --out data/extracts/demo`"
        )

    import dagster as dg

    from dap import publication
    from orchestration import definitions

    layout = publication.Layout(settings.warehouse_path(), settings.output_dir())
    run_lock = layout.lock_file.with_name(layout.lock_file.name.replace(".lock", ".run.lock"))
    run_config = _load_run_config(args.config)
    run_config.setdefault(
        "loggers", {"console": {"config": {"log_level": "DEBUG" if args.verbose else "INFO"}}}
    )
    job = dg.reconstructable(definitions.refresh_all_job)

    print(f"extract:   {extract}", flush=True)
    print(f"warehouse: {layout.published_warehouse}", flush=True)
    print(f"reports:   {layout.reports_link}", flush=True)
    try:
        with (
            publication.exclusive_lock(run_lock, wait=not args.no_wait),
            dg.DagsterInstance.get() as instance,
        ):
            if args.resume:
                result = _resume(instance, job, args.resume, run_config)
            else:
                kwargs = {"asset_selection": _selection(definitions, args.select)} if args.select else {}
                result = dg.execute_job(
                    job,
                    instance=instance,
                    run_config=run_config,
                    raise_on_error=False,
                    tags={"dap/extract_dir": str(extract)},
                    **kwargs,
                )
            with result:
                return _report(result, layout)
    except BlockingIOError:
        raise CliError(
            "another run is writing to this warehouse; try again later (or drop --no-wait)"
        ) from None


def _selection(definitions, text: str):
    import dagster as dg

    return list(dg.AssetSelection.from_string(text).resolve(definitions.defs.resolve_asset_graph()))


def _resume(instance, job, run_id: str, run_config: dict):
    import dagster as dg
    from dagster._core.storage.dagster_run import DagsterRunStatus

    if run_id == "last":
        runs = instance.get_runs(limit=1)
        if not runs:
            raise CliError("there is no earlier run to resume")
        parent = runs[0]
    else:
        parent = instance.get_run_by_id(run_id)
        if parent is None:
            raise CliError(f"no run with id {run_id}")
    if parent.status in (DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED):
        # The process that ran it is gone (killed): record that, so it can be re-executed.
        instance.report_run_failed(
            parent, "the run's process ended without finishing (killed); resumed by dap run --resume"
        )
        parent = instance.get_run_by_id(parent.run_id)
    if parent.status == DagsterRunStatus.SUCCESS:
        raise CliError(f"run {parent.run_id} succeeded; nothing to resume")
    print(f"resuming run {parent.run_id} from failure", flush=True)
    options = dg.ReexecutionOptions.from_failure(parent.run_id, instance)
    return dg.execute_job(
        job,
        instance=instance,
        run_config=run_config or parent.run_config,
        reexecution_options=options,
        raise_on_error=False,
    )


def _root_cause(data) -> str:
    """The innermost error's first line (Dagster wraps user errors in execution errors)."""
    error = data.error if data else None
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0] if error and error.message.strip() else "unknown error"


def _print_run_summary(warehouse: Path) -> None:
    """Rows read, staged and quarantined per table (the stored copy is audit.audit_row_conservation)."""
    import duckdb

    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return
    try:
        rows = con.execute(
            "SELECT table_name, rows_read, rows_staged, rows_quarantined FROM audit.audit_row_conservation"
        ).fetchall()
        rules = con.execute(
            "SELECT table_name, rule, rows_quarantined, example_reason FROM audit.audit_quarantine_summary "
            "ORDER BY table_name, rows_quarantined DESC"
        ).fetchall()
    except duckdb.Error:
        return
    finally:
        con.close()
    print("\nrun summary (audit.audit_row_conservation):")
    print(f"  {'table':<26}{'read':>10}{'staged':>10}{'quarantined':>13}")
    for table, read, staged, quarantined in rows:
        print(f"  {table:<26}{read:>10,}{staged:>10,}{quarantined:>13,}")
    for table, rule, count, reason in rules:
        print(f"  quarantined {count:,} {table} row(s) by rule {rule}: e.g. {reason}")


def _failed_checks(result) -> list[str]:
    """One line per failed check, with the failed expectations (column, count, examples) where known."""
    lines = []
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        if evaluation.passed:
            continue
        lines.append(
            f"  check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} failed "
            f"({evaluation.severity.value})"
        )
        failed = evaluation.metadata.get("failed_expectations")
        for item in (failed.value if failed is not None else [])[:10]:
            lines.append(
                f"    {item.get('expectation')} column={item.get('column')} "
                f"unexpected={item.get('unexpected_count')} examples={item.get('examples')}"
            )
    return lines


def _report(result, layout) -> int:
    run_id = result.run_id
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        print(f"\nrun {run_id} FAILED; the published warehouse is unchanged.", file=sys.stderr)
        for event in failures:
            data = event.step_failure_data
            description = (
                data.user_failure_data.description if data and data.user_failure_data else ""
            ) or _root_cause(data)
            print(f"  step {event.step_key}: {description}", file=sys.stderr)
        for line in _failed_checks(result):
            print(line, file=sys.stderr)
        print(f"re-execute from the failure with: dap run --resume {run_id}", file=sys.stderr)
        return 1
    print(f"\nrun {run_id} succeeded.")
    _print_run_summary(layout.published_warehouse)
    print(
        f"published warehouse: {layout.published_warehouse} (DuckDB; schemas marts, analytics, quarantine, audit)"
    )
    reports = layout.reports_link
    if reports.exists():
        for path in sorted(reports.rglob("*.html")):
            if "data_docs" in path.parts and path.name != "index.html":
                continue
            print(f"  report: {path}")
    return 0
