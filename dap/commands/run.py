"""`dap run`: materialise the whole asset graph on an extract and publish it atomically.

Honours DA_EXTRACT_DIR, DA_WAREHOUSE and DA_OUTPUT_DIR (or the options of the same meaning). Runs are
recorded in the Dagster instance under DAGSTER_HOME (default data/dagster_home), so `make dev` shows them
and a failed or killed run can be re-executed from where it failed with `dap run --resume`.

One run writes a warehouse at a time: `dap run` holds a lock beside it (the kernel frees it when the process
ends, however it ends), waits for it at most DA_WAIT_TIMEOUT seconds, and, once it holds it, clears what a
killed run left behind (`dap.recovery`). It prints one line per step; the full log goes to a file in the
run's build folder (`dap.runlog`).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from datetime import datetime
from pathlib import Path

from dap import settings
from dap.cli import CliError

DEFAULT_DAGSTER_HOME = settings.DATA_DIR / "dagster_home"
EXIT_WAITED_TOO_LONG = 3

_CONFIG_HEADER = "# Written by `dap run`; delete this line to keep your own edits."
INSTANCE_CONFIG = f"""{_CONFIG_HEADER}
# Local Dagster instance of the platform (SQLite storage). See the README for PostgreSQL.
telemetry:
  enabled: false
concurrency:
  runs:
    # Runs started from the UI, the schedule or the landing sensor are queued and start one at a time.
    max_concurrent_runs: 1
  pools:
    # Pools (`warehouse`) are enforced per run, by the run queue, not per step: the steps of a run already
    # execute one at a time (in-process executor), and a killed run then holds no slot that would block
    # every later run. `dap run` itself serialises runs with its lock beside the warehouse.
    granularity: run
    default_limit: 1
"""
# What earlier versions wrote: replaced by INSTANCE_CONFIG (its per-step pool slots outlived killed runs).
_EARLIER_INSTANCE_CONFIGS = (
    "# Local Dagster instance of the platform (SQLite storage). See the README for PostgreSQL.\n"
    "telemetry:\n  enabled: false\n"
    "concurrency:\n  runs:\n    max_concurrent_runs: 1\n  pools:\n    default_limit: 1\n",
)


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
    parser.add_argument(
        "--wait-timeout",
        type=float,
        metavar="SECONDS",
        help="give up (exit 3) after waiting this long for another run or a pool slot "
        "(default: $DA_WAIT_TIMEOUT or 3600)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="stream the full log (Dagster's events, dbt's output) instead of one line per step",
    )
    parser.set_defaults(func=run)


def ensure_instance_config(home: Path) -> Path:
    """Create DAGSTER_HOME and its dagster.yaml (or bring up to date one that `dap run` wrote earlier).
    A dagster.yaml written by anyone else is left as it is."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or (current != INSTANCE_CONFIG and _written_by_dap(current)):
        config.write_text(INSTANCE_CONFIG)
        if current is not None:
            print(f"updated {config}: pools are now enforced per run (see the comments in it)", flush=True)
    return config


def _written_by_dap(text: str) -> bool:
    return text.startswith(_CONFIG_HEADER) or text in _EARLIER_INSTANCE_CONFIGS


def _apply_environment(args: argparse.Namespace) -> None:
    for option, variable in (
        ("extract", "DA_EXTRACT_DIR"),
        ("warehouse", "DA_WAREHOUSE"),
        ("output", "DA_OUTPUT_DIR"),
    ):
        value = getattr(args, option)
        if value:
            os.environ[variable] = str(settings.absolute(value))
    if args.wait_timeout is not None:
        if args.wait_timeout < 0:
            raise CliError("--wait-timeout must be a number of seconds ≥ 0")
        os.environ["DA_WAIT_TIMEOUT"] = str(args.wait_timeout)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    ensure_instance_config(Path(os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME))))


def _load_run_config(path: str | None) -> dict:
    if not path:
        return {}
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise CliError(f"cannot read run config {path}: {error}") from None


def platform_job():
    """The refresh job with the progress logger of `dap run` (module level: reconstructable, so that a
    run can be re-executed from failure)."""
    from dap import runlog
    from orchestration.lib.dbt_cli import prepare_manifest

    prepare_manifest()  # the definitions read dbt's manifest: parse when the SQL changed (not on import)
    from orchestration import definitions

    job = definitions.refresh_all_job()
    return job.with_logger_defs({**job.loggers, runlog.LOGGER_NAME: runlog.progress_logger})


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    _apply_environment(args)
    extract = settings.extract_dir()
    if not args.resume and not extract.is_dir():
        raise CliError(
            f"extract folder {extract} does not exist; set DA_EXTRACT_DIR or generate one with "
            "`dap synth --scale demo --out data/extracts/demo`"
        )

    from dap import publication

    try:
        wait_timeout = 0.0 if args.no_wait else publication.wait_timeout_seconds()
    except ValueError as error:
        raise CliError(str(error)) from None
    layout = publication.Layout(settings.warehouse_path(), settings.output_dir())
    run_lock = layout.lock_file.with_name(layout.lock_file.name.replace(".lock", ".run.lock"))

    print(f"extract:   {extract}", flush=True)
    print(f"warehouse: {layout.published_warehouse}", flush=True)
    print(f"reports:   {layout.reports_link}", flush=True)
    holder = (
        f"dap run, pid {os.getpid()} on {socket.gethostname()}, "
        f"since {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}"
    )

    def waiting(who: str) -> None:
        print(
            f"waiting for another run on this warehouse to finish ({who or 'holder unknown'}; "
            f"lock {run_lock}); giving up after {wait_timeout:g} s",
            flush=True,
        )

    try:
        with publication.exclusive_lock(
            run_lock, wait=not args.no_wait, timeout=wait_timeout, holder=holder, on_wait=waiting
        ):
            return _run_locked(args, layout, extract, started, wait_timeout)
    except BlockingIOError:
        raise CliError(
            f"another run is writing to this warehouse ({publication.lock_holder(run_lock) or 'holder unknown'})"
            "; try again later (or drop --no-wait)",
            EXIT_WAITED_TOO_LONG,
        ) from None
    except publication.LockTimeout as error:
        raise CliError(str(error), EXIT_WAITED_TOO_LONG) from None


def _run_locked(args, layout, extract: Path, started: float, wait_timeout: float) -> int:
    import dagster as dg

    from dap import recovery, runlog

    run_config = _load_run_config(args.config)
    with dg.DagsterInstance.get() as instance:
        recovery.recover(instance, layout.published_warehouse, say=lambda line: print(line, flush=True))
        tags = recovery.run_tags(layout.published_warehouse)
        parent = _resume_parent(instance, args.resume) if args.resume else None
        job = dg.reconstructable(platform_job)
        progress = runlog.Progress(
            instance,
            layout.builds_dir,
            started,
            wait_timeout,
            root_run_id=(parent.root_run_id or parent.run_id) if parent else None,
        )
        capture = runlog.LogCapture(
            layout.builds_dir / f".dap-run-{os.getpid()}.log",
            args.verbose,
            header=f"dap run {' '.join(sys.argv[2:])} (pid {os.getpid()}) at "
            f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}\nextract: {extract}\n"
            f"warehouse: {layout.published_warehouse}\n",
        )
        progress.capture = capture
        result = None
        try:
            with capture.active():
                progress.terminal = capture.terminal
                runlog.ACTIVE = progress
                with recovery.Watchdog(instance, progress, wait_timeout) as watchdog:
                    if parent is not None:
                        progress.say(f"resuming run {parent.run_id} from failure")
                    progress.say("loading the pipeline's definitions…")
                    if parent is not None:
                        result = _resume(instance, job, parent, run_config, tags)
                    else:
                        kwargs = {"asset_selection": _selection(args.select)} if args.select else {}
                        result = dg.execute_job(
                            job,
                            instance=instance,
                            run_config=_with_loggers(run_config),
                            raise_on_error=False,
                            tags={**tags, "dap/extract_dir": str(extract)},
                            **kwargs,
                        )
        except BaseException:
            _mark_failed_if_in_progress(instance, progress.run_id, "dap run ended with an error")
            print(f"full log: {capture.path}", file=sys.stderr)
            raise
        finally:
            runlog.ACTIVE = None
        log_file = capture.current_path(_published_log_candidates(layout, capture.path))
        # Not `with result:`: that would set the resources up again, and the platform resource would
        # start a new build folder (a copy of the published warehouse) for a run that has ended.
        return _report(result, layout, progress, log_file, watchdog.signal_received)


def _with_loggers(run_config: dict) -> dict:
    """Dagster's console log (every event) goes to the full log; the progress logger to the terminal."""
    from dap import runlog

    return {
        **run_config,
        "loggers": {
            **(run_config.get("loggers") or {}),
            "console": {"config": {"log_level": "DEBUG"}},
            runlog.LOGGER_NAME: {},
        },
    }


def _published_log_candidates(layout, path: Path) -> list[Path]:
    from dap import publication

    current = publication.current_version(layout)
    return [current / "logs" / path.name] if current is not None else []


def _mark_failed_if_in_progress(instance, run_id: str | None, reason: str) -> None:
    from dap import recovery

    if not run_id:
        return
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status in recovery.in_progress_statuses():
        instance.report_run_failed(run, reason)


def _selection(text: str):
    import dagster as dg

    from orchestration.lib.dbt_cli import prepare_manifest

    prepare_manifest()
    from orchestration import definitions

    return list(dg.AssetSelection.from_string(text).resolve(definitions.defs.resolve_asset_graph()))


def _resume_parent(instance, run_id: str):
    """The run to re-execute: the last one, or the one named. A run still recorded as in progress must
    be dead to be resumed (`dap.recovery` has marked the dead runs of this warehouse failed already)."""
    from dagster import DagsterRunStatus

    from dap import recovery

    if run_id == "last":
        runs = instance.get_runs(limit=1)
        if not runs:
            raise CliError("there is no earlier run to resume")
        parent = runs[0]
    else:
        parent = instance.get_run_by_id(run_id)
        if parent is None:
            raise CliError(f"no run with id {run_id}")
    if parent.status in recovery.in_progress_statuses():
        if recovery.TAG_TOKEN in parent.tags:
            raise CliError(
                f"run {parent.run_id} is still running (pid {parent.tags.get(recovery.TAG_PID, '?')} on "
                f"{parent.tags.get(recovery.TAG_HOST, '?')}); wait for it to end"
            )
        # A run started by an earlier version of `dap run` (no tags): under the lock it cannot be running.
        instance.report_run_failed(
            parent, "the run's process ended without finishing (killed); resumed by dap run --resume"
        )
        recovery.free_stale_slots(instance, say=lambda line: print(line, flush=True))
        parent = instance.get_run_by_id(parent.run_id)
    if parent.status == DagsterRunStatus.SUCCESS:
        raise CliError(f"run {parent.run_id} succeeded; nothing to resume")
    return parent


def _resume(instance, job, parent, run_config: dict, tags: dict):
    import dagster as dg

    options = dg.ReexecutionOptions.from_failure(parent.run_id, instance)
    extract = parent.tags.get("dap/extract_dir")
    return dg.execute_job(
        job,
        instance=instance,
        run_config=_with_loggers(run_config or parent.run_config),
        reexecution_options=options,
        raise_on_error=False,
        tags={**tags, **({"dap/extract_dir": extract} if extract else {})},
    )


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


def _published(result) -> bool:
    """Whether the run materialised ``publish/warehouse`` (a ``--select`` may leave it out)."""
    from orchestration.defs.publish import PUBLISH_KEY

    return any(event.asset_key == PUBLISH_KEY for event in result.get_asset_materialization_events())


def _report(result, layout, progress, log_file: Path, signal_received: int | None) -> int:
    from dap import runlog

    run_id = result.run_id
    counts = (
        f"{progress.done} asset(s) materialised, {progress.warnings} warning(s), "
        f"{progress.quarantined:,} row(s) quarantined"
    )
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        stopped = ""
        if signal_received:
            import signal

            stopped = f" (stopped by {signal.Signals(signal_received).name})"
        print(
            f"\nrun {run_id} FAILED{stopped} after {progress.elapsed()}; the published warehouse is unchanged.",
            file=sys.stderr,
        )
        for event in failures:
            print(f"  step {event.step_key}: {runlog.root_cause(event.step_failure_data)}", file=sys.stderr)
        for line in _failed_checks(result):
            print(line, file=sys.stderr)
        print(f"re-execute from the failure with: dap run --resume {run_id}", file=sys.stderr)
        print(f"full log: {log_file}", file=sys.stderr)
        return 128 + signal_received if signal_received else 1
    print(f"\nrun {run_id} succeeded in {progress.elapsed()}: {counts}.")
    print(f"full log: {log_file}")
    if not _published(result):
        # A selection without the publish step (`--select`): its tables are in the run's build folder.
        print(
            f"the selection did not include publish/warehouse, so the published warehouse is unchanged; "
            f"this run's tables are in {layout.build_dir(progress.root_run_id or run_id)}"
        )
        return 0
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
