"""Crash recovery and waiting, without a whole run: dead runs, leftover processes, stale pool slots, the
instance configuration, the warehouse locks and an interrupted publication (the end-to-end kills are in
tests/e2e/test_crash_recovery.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import dagster as dg
import pytest
from dagster import DagsterRunStatus

from dap import publication, recovery
from dap.commands import run as run_command


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    granularity: op\n    default_limit: 1\n"
    )
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance


def _run(instance, status=DagsterRunStatus.STARTED, **tags) -> dg.DagsterRun:
    return instance.add_run(dg.DagsterRun(job_name="refresh_all", status=status, tags=tags))


def _dap_tags(warehouse, token="t", pid=None, host=None, started=None) -> dict:
    return {
        recovery.TAG_WAREHOUSE: str(warehouse),
        recovery.TAG_TOKEN: token,
        recovery.TAG_PID: str(pid or 999_999_999),
        recovery.TAG_HOST: host or socket.gethostname(),
        recovery.TAG_PROCESS_START: started or "",
    }


def test_recover_marks_dead_runs_failed_and_leaves_live_and_unknown_ones(instance, tmp_path):
    ours = tmp_path / "warehouse.duckdb"
    dead_here = _run(instance, **_dap_tags(ours, pid=os.getpid()))  # same warehouse: the lock says dead
    dead_elsewhere = _run(instance, **_dap_tags(tmp_path / "other.duckdb", token="x"))  # pid gone
    reused_pid = _run(
        instance, **_dap_tags(tmp_path / "other.duckdb", token="y", pid=os.getpid(), started="1")
    )  # pid alive but started at another time: a reused pid, so dead as well
    live_elsewhere = _run(
        instance,
        **_dap_tags(
            tmp_path / "other.duckdb", "w", pid=os.getpid(), started=recovery._process_start(os.getpid())
        ),
    )
    other_host = _run(instance, **_dap_tags(tmp_path / "other.duckdb", token="z", host="elsewhere"))
    ui_run = _run(instance)  # not started by dap run: not ours to judge
    said = []
    marked = recovery.recover(instance, ours, said.append)
    assert set(marked) == {dead_here.run_id, dead_elsewhere.run_id, reused_pid.run_id}
    for run in (dead_here, dead_elsewhere, reused_pid):
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
        assert any(run.run_id in line and "marked failed" in line for line in said)
    for run in (live_elsewhere, other_host, ui_run):
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED


def test_this_process_is_alive_by_the_tags_it_would_give_its_run(tmp_path, monkeypatch):
    monkeypatch.setenv(recovery.TOKEN_VARIABLE, "inherited")
    tags = recovery.run_tags(tmp_path / "other.duckdb")
    assert (
        tags[recovery.TAG_TOKEN] != "inherited"
        and os.environ[recovery.TOKEN_VARIABLE] == tags[recovery.TAG_TOKEN]
    )
    assert tags[recovery.TAG_PROCESS_START]
    assert not recovery.is_dead(dg.DagsterRun(job_name="j", tags=tags), tmp_path / "warehouse.duckdb")
    assert recovery.is_dead(dg.DagsterRun(job_name="j", tags=tags), tmp_path / "other.duckdb")


def test_recover_stops_the_processes_a_dead_run_left_running(instance, tmp_path):
    token = "leftover-token-for-test"
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={**os.environ, recovery.TOKEN_VARIABLE: token},
    )
    try:
        deadline = time.time() + 30
        while not recovery.leftover_processes(token) and time.time() < deadline:
            time.sleep(0.1)
        dead = _run(instance, **_dap_tags(tmp_path / "warehouse.duckdb", token=token))
        said = []
        recovery.recover(instance, tmp_path / "warehouse.duckdb", said.append)
        assert child.wait(timeout=30) is not None
        assert any(f"stopping process {child.pid}" in line for line in said)
        assert instance.get_run_by_id(dead.run_id).status == DagsterRunStatus.FAILURE
    finally:
        child.kill()
        child.wait()


def test_stale_pool_slots_are_freed_and_live_ones_kept(instance):
    storage = instance.event_log_storage
    storage.set_concurrency_slots("warehouse", 2)
    finished = _run(instance, status=DagsterRunStatus.FAILURE)
    live = _run(instance)
    assert storage.claim_concurrency_slot("warehouse", finished.run_id, "dbt_models").is_claimed
    assert storage.claim_concurrency_slot("warehouse", live.run_id, "raw_extract").is_claimed
    said = []
    assert recovery.free_stale_slots(instance, said.append) == 1
    held = {slot.run_id for slot in storage.get_concurrency_info("warehouse").claimed_slots}
    assert held == {live.run_id}
    assert said == [f"freed the slot(s) in pool warehouse still held by run {finished.run_id} (FAILURE)"]
    assert recovery.pool_holders(instance, "warehouse", except_run="") == [live.run_id]


def test_instance_config_is_written_updated_from_the_old_one_and_otherwise_left_alone(tmp_path):
    fresh = run_command.ensure_instance_config(tmp_path / "fresh")
    assert fresh.read_text() == run_command.INSTANCE_CONFIG
    assert "granularity: run" in fresh.read_text()

    old = tmp_path / "old"
    old.mkdir()
    (old / "dagster.yaml").write_text(run_command._EARLIER_INSTANCE_CONFIGS[0])
    assert run_command.ensure_instance_config(old).read_text() == run_command.INSTANCE_CONFIG

    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert run_command.ensure_instance_config(custom).read_text() == "telemetry:\n  enabled: false\n"

    # the written configuration is one Dagster accepts, with pools enforced per run
    with dg.DagsterInstance.from_config(str(tmp_path / "fresh")) as instance:
        assert instance.get_concurrency_config().pool_config.pool_granularity.value == "run"


def test_lock_says_who_holds_it_and_gives_up_after_the_timeout(tmp_path):
    lock = tmp_path / "warehouse.duckdb.run.lock"
    told = []
    with publication.exclusive_lock(lock, holder="dap run, pid 1"):
        assert publication.lock_holder(lock) == "dap run, pid 1"
        with pytest.raises(BlockingIOError):
            with publication.exclusive_lock(lock, wait=False):
                pass
        started = time.monotonic()
        with pytest.raises(publication.LockTimeout, match="gave up after 1 s .* held by: dap run, pid 1"):
            with publication.exclusive_lock(lock, timeout=1, on_wait=told.append):
                pass
        assert 0.9 < time.monotonic() - started < 10
    assert told == ["dap run, pid 1"]
    assert publication.lock_holder(lock) == ""  # the holder's note goes with the lock
    with publication.exclusive_lock(lock, timeout=0):
        pass


def test_wait_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(publication.WAIT_TIMEOUT_VARIABLE, raising=False)
    assert publication.wait_timeout_seconds() == publication.DEFAULT_WAIT_TIMEOUT_SECONDS
    monkeypatch.setenv(publication.WAIT_TIMEOUT_VARIABLE, "12.5")
    assert publication.wait_timeout_seconds() == 12.5
    monkeypatch.setenv(publication.WAIT_TIMEOUT_VARIABLE, "soon")
    with pytest.raises(ValueError, match="DA_WAIT_TIMEOUT='soon'"):
        publication.wait_timeout_seconds()


def test_a_publication_killed_after_the_move_is_completed_by_the_re_execution(tmp_path, monkeypatch):
    layout = publication.Layout(tmp_path / "warehouse.duckdb", tmp_path / "reports")
    build = publication.prepare_build(layout, "run-1")
    (build / "warehouse.duckdb").write_text("the run's tables")
    (build / "reports" / "report.html").write_text("the run's report")

    class Killed(BaseException):
        pass

    def killed(point):
        if point == "publish: build moved into place":
            raise Killed

    monkeypatch.setattr(publication.testpoints, "reached", killed)
    with pytest.raises(Killed):
        publication.publish(layout, build, "run-1")
    assert not layout.published_warehouse.exists()  # the links were never switched
    (interrupted,) = publication.versions(layout)
    assert (interrupted / publication.PUBLISHING_MARKER).read_text() == "run-1"

    # the re-execution (same root run id) writes its log into the build folder, then takes the build back
    monkeypatch.undo()
    (build / "logs").mkdir(parents=True)
    (build / "logs" / "run-2.log").write_text("resume log")
    restored = publication.prepare_build(layout, "run-1")
    assert (restored / "warehouse.duckdb").read_text() == "the run's tables"
    assert (restored / "logs" / "run-2.log").read_text() == "resume log"
    assert not (restored / publication.PUBLISHING_MARKER).exists()
    assert publication.versions(layout) == []
    version = publication.publish(layout, restored, "run-1")
    assert layout.published_warehouse.read_text() == "the run's tables"
    assert (layout.reports_link / "report.html").read_text() == "the run's report"
    assert not (version / publication.PUBLISHING_MARKER).exists()


def test_another_runs_interrupted_publication_is_not_taken(tmp_path, monkeypatch):
    layout = publication.Layout(tmp_path / "warehouse.duckdb", tmp_path / "reports")
    build = publication.prepare_build(layout, "run-1")
    (build / "warehouse.duckdb").write_text("run 1")
    monkeypatch.setattr(publication.testpoints, "reached", lambda point: (_ for _ in ()).throw(KeyError))
    with pytest.raises(KeyError):
        publication.publish(layout, build, "run-1")
    monkeypatch.undo()
    other = publication.prepare_build(layout, "run-2")
    assert not (other / "warehouse.duckdb").exists()  # nothing published to start from; run 1's untouched
    assert len(publication.versions(layout)) == 1


WATCHDOG_SCRIPT = """
import signal, sys, time
from dap import recovery

class Progress:
    run_id = None
    def say(self, text): print(text, flush=True)
    def blocked(self): return None
    def failed_outside_dagster(self, reason): print("FAILED:", reason, flush=True)

signal.signal(signal.SIGTERM, lambda *_: None)  # a handler that does not end the process (a stuck step)
with recovery.Watchdog(instance=None, progress=Progress(), wait_timeout=60, grace=0.5):
    signal.raise_signal(signal.SIGTERM)
    time.sleep(30)
print("not stopped", flush=True)
"""


def test_sigterm_ends_the_process_after_the_grace_period_even_if_the_step_does_not_stop():
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", WATCHDOG_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 128 + 15, result.stdout + result.stderr
    assert time.monotonic() - started < 20
    assert "SIGTERM received: stopping the run" in result.stdout
    assert "FAILED: stopped by SIGTERM: the step did not end within 0.5 s of the signal" in result.stdout
    assert "not stopped" not in result.stdout
