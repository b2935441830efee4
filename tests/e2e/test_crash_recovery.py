"""Crash recovery the hard way: `dap run` killed with SIGKILL in the middle of each kind of step (raw
load, dbt, a Python asset, publication); a fresh `dap run` after each kill must get past what the killed
run left behind, and `dap run --resume` of every killed run must finish and publish. Also SIGTERM, and
waits that give up. Slow (real runs on the tiny extract), offline, Linux (/proc).

To keep the runs few, the kills form a chain on one platform: each killed run is the fresh run after the
previous kill, so it has to clear the previous run's leftovers (its recovery marks that run failed and
stops what it left running) and execute every step up to its own kill point (the run after the Python-
asset kill executes everything up to publication); the fresh run after the publication kill must finish
and publish. Then each killed run is resumed.

The kill lands while the step really executes: a pause point (``dap.testpoints``, inert unless
DA_TEST_PAUSE_AT is set) stops the process there and writes a marker file; for dbt, the test waits until
Dagster recorded the step's start and the `dbt build` child process is running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dap import publication, recovery
from dap.digest import table_digests

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc"),
]

KINDS = {
    # kind: (pause point, or None to wait for the dbt child process)
    "raw load": "raw_extract: loading victims",
    "dbt": None,
    "python asset": "analytics__pca: warehouse opened for writing",
    "publication": "publish: build moved into place",
}


def _layout(platform) -> publication.Layout:
    return publication.Layout(platform.warehouse, platform.reports)


def _instance(platform):
    import dagster as dg

    return dg.DagsterInstance.from_config(str(platform.dagster_home))


def _runs(platform) -> dict[str, object]:
    with _instance(platform) as instance:
        return {run.run_id: run for run in instance.get_runs()}


def _step_started(platform, run_id: str, step: str) -> bool:
    from dagster import DagsterEventType

    try:
        with _instance(platform) as instance:
            records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
            return any(r.event_log_entry.dagster_event.step_key == step for r in records)
    except Exception:  # the run's storage may be mid-write: look again
        return False


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != pid:
                continue
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        found.append((int(stat.parent.name), cmdline))
    return found


def _wait(condition, process: subprocess.Popen, log: Path, what: str, timeout: float = 1200) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, f"dap run ended before {what}:\n" + log.read_text()[-4000:]
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _start_and_kill(platform, kind: str, point: str | None) -> tuple[str, str]:
    """Start `dap run`, SIGKILL it in the middle of the step of ``kind``; return the killed run's id and
    what it printed."""
    before = set(_runs(platform))
    tag = kind.replace(" ", "_")
    marker, log = platform.root / f"paused_{tag}", platform.root / f"killed_{tag}.log"
    env = {"DA_TEST_PAUSE_MARKER": str(marker)}
    if point:
        env["DA_TEST_PAUSE_AT"] = point
    process = platform.start("run", log=log, **env)
    new_runs = lambda: set(_runs(platform)) - before  # noqa: E731
    _wait(lambda: bool(new_runs()), process, log, "the run to be created")
    (run_id,) = new_runs()
    if point:
        _wait(marker.exists, process, log, f"the pause point {point!r}")
        assert marker.read_text().splitlines()[1].startswith(point)
    else:
        _wait(lambda: _step_started(platform, run_id, "dbt_models"), process, log, "dbt_models to start")
        _wait(
            lambda: any("dbt" in cmd and "build" in cmd for _, cmd in _children(process.pid)),
            process,
            log,
            "the dbt build process",
        )
        time.sleep(3)  # dbt is building models (it takes well over 3 s even on the tiny extract)
        assert any("dbt" in cmd for _, cmd in _children(process.pid)), "dbt ended before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert _runs(platform)[run_id].status.value == "STARTED"  # nobody could record its end
    return run_id, log.read_text()


@pytest.fixture(scope="module")
def crashed(published):
    """The published platform after the chain of kills (one per kind of step), a fresh run after them,
    and a run stopped with SIGTERM."""
    platform = published
    version_before, digests_before = (
        publication.current_version(_layout(platform)),
        table_digests(platform.warehouse),
    )
    killed, outputs = {}, {}
    for kind, point in KINDS.items():
        killed[kind], outputs[kind] = _start_and_kill(platform, kind, point)
        # a killed run changes nothing that is published
        assert publication.current_version(_layout(platform)) == version_before, kind
        assert table_digests(platform.warehouse) == digests_before, kind
    tokens = {kind: _runs(platform)[run_id].tags[recovery.TAG_TOKEN] for kind, run_id in killed.items()}
    fresh = platform.dap("run")
    sigterm = _sigterm_during_dbt(platform) if fresh.returncode == 0 else None
    return {
        "platform": platform,
        "killed": killed,
        "outputs": outputs,
        "tokens": tokens,
        "fresh": fresh,
        "sigterm": sigterm,
        "version_before": version_before,
        "digests_before": digests_before,
    }


def _sigterm_during_dbt(platform) -> dict:
    before = set(_runs(platform))
    log = platform.root / "sigterm.log"
    process = platform.start("run", log=log)
    _wait(lambda: bool(set(_runs(platform)) - before), process, log, "the run to be created")
    (run_id,) = set(_runs(platform)) - before
    _wait(lambda: _step_started(platform, run_id, "dbt_models"), process, log, "dbt_models to start")
    _wait(lambda: bool(_children(process.pid)), process, log, "dbt to start")
    time.sleep(3)
    children = [pid for pid, cmd in _children(process.pid) if "dbt" in cmd]
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=300)
    return {
        "run_id": run_id,
        "code": code,
        "seconds": time.monotonic() - sent,
        "output": log.read_text(),
        "dbt_pids": children,
        "status": _runs(platform)[run_id].status.value,
    }


def test_the_run_after_each_kill_clears_its_leftovers_and_the_last_one_publishes(crashed):
    platform, fresh, killed = crashed["platform"], crashed["fresh"], crashed["killed"]
    assert fresh.returncode == 0, fresh.stdout[-4000:] + fresh.stderr[-4000:]
    version = publication.current_version(_layout(platform))
    assert version != crashed["version_before"]
    assert table_digests(platform.warehouse) == crashed["digests_before"]  # same extract, same tables
    kinds = list(killed)
    # what each next run printed before it started: the previous killed run, marked failed
    next_output = [crashed["outputs"][kind] for kind in kinds[1:]] + [fresh.stdout]
    runs = _runs(platform)
    for kind, output in zip(kinds, next_output, strict=True):
        run_id = killed[kind]
        assert f"run {run_id} was left in progress by a process that is gone" in output, kind
        assert runs[run_id].status.value == "FAILURE", kind
        assert recovery.leftover_processes(crashed["tokens"][kind]) == [], kind
    # (the dbt of the run killed in dbt outlives it; the next run stops it if it is still running then:
    # "stopping process <pid> it left running: .../dbt build ...")
    assert "Step still blocked" not in fresh.stdout + fresh.stderr


def test_sigterm_ends_the_run_promptly_and_marks_it_failed(crashed):
    stopped = crashed["sigterm"]
    assert stopped is not None, "the fresh run failed: see the test above"
    assert stopped["code"] == 128 + signal.SIGTERM, stopped["output"][-3000:]
    assert stopped["seconds"] < 60, stopped["seconds"]
    assert stopped["status"] == "FAILURE"
    assert "stopped by SIGTERM" in stopped["output"]
    assert f"dap run --resume {stopped['run_id']}" in stopped["output"]
    for pid in stopped["dbt_pids"]:  # dbt was stopped with it
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.parametrize("kind", list(KINDS))
def test_killed_run_resumes_and_publishes(crashed, kind):
    platform, run_id = crashed["platform"], crashed["killed"][kind]
    before = publication.current_version(_layout(platform))
    resumed = platform.dap("run", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stdout[-4000:] + resumed.stderr[-4000:]
    assert f"resuming run {run_id}" in resumed.stdout
    version = publication.current_version(_layout(platform))
    assert version != before
    assert json.loads((version / "version.json").read_text())["run_id"] == run_id  # the root run's build
    assert table_digests(platform.warehouse) == crashed["digests_before"]
    assert not (version / publication.PUBLISHING_MARKER).exists()
    leftovers = [
        v for v in publication.versions(_layout(platform)) if (v / publication.PUBLISHING_MARKER).exists()
    ]
    assert leftovers == [] or kind != "publication", leftovers


def test_waiting_for_the_warehouse_gives_up_with_a_clear_error(published):
    """Another process holds the run lock: `dap run` says who and gives up after --wait-timeout (exit 3)."""
    layout = _layout(published)
    lock = layout.lock_file.with_name(layout.lock_file.name.replace(".lock", ".run.lock"))
    with publication.exclusive_lock(lock, holder="a test holding the warehouse"):
        started = time.monotonic()
        waited = published.dap("run", "--wait-timeout", "2")
        seconds = time.monotonic() - started
        result = published.dap("run", "--no-wait")
    assert waited.returncode == 3, waited.stdout + waited.stderr
    assert (
        "waiting for another run on this warehouse to finish (a test holding the warehouse" in waited.stdout
    )
    assert "gave up after 2 s" in waited.stderr and "a test holding the warehouse" in waited.stderr
    assert seconds < 120
    assert result.returncode == 3, result.stdout + result.stderr
    assert "another run is writing to this warehouse (a test holding the warehouse)" in result.stderr


def test_waiting_for_a_pool_slot_gives_up_with_a_clear_error(tiny_extract, tmp_path_factory):
    """On an instance whose pools are enforced per step (op granularity) and a live run holding the slot,
    `dap run` says what it waits for and gives up after DA_WAIT_TIMEOUT, with its run marked failed."""
    import dagster as dg
    from dagster import DagsterRunStatus

    from tests.e2e.conftest import make_platform

    platform = make_platform(tmp_path_factory, tiny_extract, "pool_wait")
    platform.dagster_home.mkdir(parents=True)
    (platform.dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    granularity: op\n    default_limit: 1\n"
    )
    with _instance(platform) as instance:
        holder = instance.add_run(dg.DagsterRun(job_name="elsewhere", status=DagsterRunStatus.STARTED))
        instance.event_log_storage.set_concurrency_slots("warehouse", 1)
        assert instance.event_log_storage.claim_concurrency_slot(
            "warehouse", holder.run_id, "a_step"
        ).is_claimed
    result = platform.dap("run", DA_WAIT_TIMEOUT="5")
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    assert "waiting for a slot in pool 'warehouse'" in result.stdout
    assert f"gave up after 5 s waiting for a slot in pool 'warehouse', held by run(s) {holder.run_id}" in (
        result.stdout
    )
    with _instance(platform) as instance:
        ours = [r for r in instance.get_runs() if r.run_id != holder.run_id]
        assert [r.status for r in ours] == [DagsterRunStatus.FAILURE]
        info = instance.event_log_storage.get_concurrency_info("warehouse")
        assert {s.run_id for s in info.pending_steps} <= {holder.run_id}
        assert instance.get_run_by_id(holder.run_id).status == DagsterRunStatus.STARTED  # not ours to touch
    assert os.path.exists(platform.warehouse) is False  # nothing published
