"""What `dap run` prints: the progress lines from a small job's real events, and the full-log capture."""

import io
import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from dap import runlog


@dg.asset(key=["raw", "crimes"])
def raw_crimes(context: dg.AssetExecutionContext):
    context.log.info("loading crimes")
    return dg.MaterializeResult(metadata={"dagster/row_count": 10})


@dg.asset(key=["quarantine", "crimes"], deps=[raw_crimes])
def quarantined_crimes():
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset(
    key=["analytics", "model"],
    deps=[quarantined_crimes],
    check_specs=[dg.AssetCheckSpec("fits", asset=["analytics", "model"], blocking=False)],
)
def model(context: dg.AssetExecutionContext):
    context.log.warning("12 offenders dropped for missing values\nsecond line")
    return dg.MaterializeResult(
        check_results=[dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)]
    )


@dg.asset(key=["analytics", "broken"], deps=[model])
def broken():
    raise dg.Failure(description="not enough rows\nand more")


def _job():
    return dg.define_asset_job("progress_demo", selection=dg.AssetSelection.all()).resolve(
        asset_graph=dg.Definitions(
            assets=[raw_crimes, quarantined_crimes, model, broken]
        ).resolve_asset_graph()
    )


def test_progress_lines_follow_the_run(tmp_path):
    terminal = io.StringIO()
    with dg.instance_for_test() as instance:
        progress = runlog.Progress(instance, tmp_path / "builds", time.monotonic(), wait_timeout=60)
        progress.terminal = terminal
        runlog.ACTIVE = progress
        try:
            job = _job().with_logger_defs({runlog.LOGGER_NAME: runlog.progress_logger})
            result = job.execute_in_process(
                instance=instance, run_config={"loggers": {runlog.LOGGER_NAME: {}}}, raise_on_error=False
            )
        finally:
            runlog.ACTIVE = None
    lines = terminal.getvalue().splitlines()
    assert not result.success
    assert lines[0] == f"run {result.run_id} started"
    steps = [line.split(" assets  ")[-1] for line in lines if " assets  " in line]
    assert steps == ["raw__crimes", "quarantine__crimes", "analytics__model", "analytics__broken"]
    assert lines[1].endswith("  0/4 assets  raw__crimes") and lines[1].strip().startswith("0:0")
    assert any(line.endswith("  2/4 assets  analytics__model") for line in lines)  # two done before it
    assert "        quarantined 3 row(s) in quarantine.crimes" in lines
    assert "        ! analytics__model: 12 offenders dropped for missing values" in lines
    assert "        ! check analytics/model:fits failed (WARN)" in lines
    assert "        ✗ analytics__broken failed: not enough rows" in lines
    assert (progress.done, progress.total, progress.warnings, progress.quarantined) == (3, 4, 2, 3)
    assert all("DEBUG" not in line and "STEP_" not in line for line in lines)  # no raw event log


def test_nothing_happens_outside_dap_run():
    """The logger does nothing when no `dap run` is active in the process (e.g. a run from the UI)."""
    job = _job().with_logger_defs({runlog.LOGGER_NAME: runlog.progress_logger})
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, run_config={"loggers": {runlog.LOGGER_NAME: {}}}, raise_on_error=False
        )
    assert not result.success and runlog.ACTIVE is None


@pytest.mark.parametrize("verbose", [False, True])
def test_everything_written_goes_to_the_log_file_and_with_verbose_to_the_terminal(tmp_path, capfd, verbose):
    capture = runlog.LogCapture(tmp_path / "first.log", verbose=verbose, header="header line\n")
    with capture.active():
        os.write(1, b"from stdout\n")  # (pytest replaces sys.stdout; in `dap run` it writes to fd 1)
        os.write(2, b"from stderr\n")
        subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
        capture.terminal.write("a progress line\n")
        capture.move(tmp_path / "logs" / "run.log")
        os.write(1, b"after the move\n")
    text = (tmp_path / "logs" / "run.log").read_text()
    assert not (tmp_path / "first.log").exists()
    for line in ("header line", "from stdout", "from stderr", "from a child process", "after the move"):
        assert line in text
    assert "a progress line" not in text
    shown = capfd.readouterr()
    assert "a progress line" in shown.out
    assert ("from a child process" in shown.out + shown.err) == verbose
    print("restored")
    assert capfd.readouterr().out == "restored\n"
