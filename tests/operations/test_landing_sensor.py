"""The landing-folder sensor: a complete extract starts exactly one run; a half-copied one starts none."""

from __future__ import annotations

import dagster as dg

from dap import landing
from orchestration.defs import operations


def _evaluate(monkeypatch, landing_dir, cursor=None):
    monkeypatch.setenv("DA_LANDING_DIR", str(landing_dir))
    context = dg.build_sensor_context(cursor=cursor)
    return operations.landing_folder_sensor(context)


def test_complete_extract_starts_exactly_one_run_and_half_copied_none(tmp_path, monkeypatch):
    inbox = tmp_path / "landing"
    (inbox / "2026-10").mkdir(parents=True)
    (inbox / "2026-10" / "crimes.csv").write_text("crime_number\n")
    (inbox / "2026-10" / "_SUCCESS").write_text("")
    (inbox / "2026-11-half").mkdir()
    (inbox / "2026-11-half" / "crimes.csv").write_text("crime_number\n")  # still copying: no marker

    result = _evaluate(monkeypatch, inbox)
    assert isinstance(result, dg.SensorResult)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.run_config["ops"]["raw_extract"]["config"]["extract_dir"].endswith("2026-10")
    assert request.run_key.startswith("2026-10@")

    # the cursor makes the same extract start nothing the next time
    again = _evaluate(monkeypatch, inbox, cursor=result.cursor)
    assert isinstance(again, dg.SkipReason)

    # when the half-copied extract completes, it (and only it) starts a run
    (inbox / "2026-11-half" / "manifest.json").write_text("{}")
    later = _evaluate(monkeypatch, inbox, cursor=result.cursor)
    assert [r.run_key.split("@")[0] for r in later.run_requests] == ["2026-11-half"]


def test_empty_or_missing_landing_folder_skips(tmp_path, monkeypatch):
    assert isinstance(_evaluate(monkeypatch, tmp_path / "absent"), dg.SkipReason)
    assert landing.complete_extracts(tmp_path / "absent") == []


def test_schedule_cron_comes_from_configuration(monkeypatch):
    monkeypatch.setenv("DA_REFRESH_CRON", "0 3 * * 1")
    assert operations.refresh_cron() == "0 3 * * 1"
    assert operations.scheduled_refresh.job_name == "refresh_all"
