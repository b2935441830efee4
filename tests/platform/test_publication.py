"""Atomic publication: readers see the last good version; failed builds change nothing; rollback works."""

from __future__ import annotations

import duckdb
import pytest

from dap import publication


def make_build(layout: publication.Layout, run_id: str, value: int):
    build = publication.prepare_build(layout, run_id)
    con = duckdb.connect(str(build / "warehouse.duckdb"))
    con.execute("CREATE OR REPLACE TABLE t AS SELECT ? AS v", [value])
    con.close()
    (build / "reports" / "r.html").write_text(f"report {value}")
    return build


def published_value(layout) -> int:
    con = duckdb.connect(str(layout.published_warehouse), read_only=True)
    try:
        return con.execute("SELECT v FROM t").fetchone()[0]
    finally:
        con.close()


def test_publish_switches_links_and_keeps_versions(tmp_path):
    layout = publication.Layout(tmp_path / "data" / "warehouse.duckdb", tmp_path / "reports")
    publication.publish(layout, make_build(layout, "run-aaaa1", 1), "run-aaaa1")
    assert published_value(layout) == 1
    assert (layout.reports_link / "r.html").read_text() == "report 1"

    second = make_build(layout, "run-bbbb2", 2)
    # a new build starts from a copy of the published warehouse, the published one is untouched
    assert published_value(layout) == 1
    publication.publish(layout, second, "run-bbbb2")
    assert published_value(layout) == 2
    assert len(publication.versions(layout)) == 2


def test_a_build_that_is_never_published_leaves_the_published_version(tmp_path):
    layout = publication.Layout(tmp_path / "warehouse.duckdb", tmp_path / "reports")
    publication.publish(layout, make_build(layout, "good", 1), "good")
    make_build(layout, "failed", 99)  # e.g. a blocking check failed: publish is never reached
    assert published_value(layout) == 1


def test_rollback_and_pruning(tmp_path):
    layout = publication.Layout(tmp_path / "warehouse.duckdb", tmp_path / "reports")
    for i in range(4):
        publication.publish(layout, make_build(layout, f"run{i}", i), f"run{i}", keep=3)
    assert len(publication.versions(layout)) == 3
    assert published_value(layout) == 3
    publication.rollback(layout)
    assert published_value(layout) == 2
    with pytest.raises(LookupError):
        publication.rollback(layout, to="no-such-version")


def test_paths_from_the_environment_never_follow_the_published_link(tmp_path, monkeypatch):
    from dap import settings

    layout = publication.Layout(tmp_path / "data" / "warehouse.duckdb", tmp_path / "reports")
    publication.publish(layout, make_build(layout, "run-1", 1), "run-1")
    assert layout.published_warehouse.is_symlink()
    monkeypatch.setenv("DA_WAREHOUSE", str(layout.published_warehouse))
    # the link itself, not the version it points to: the next run must switch the same link
    assert settings.warehouse_path() == layout.published_warehouse
    assert settings.absolute(layout.published_warehouse) == layout.published_warehouse


def test_a_run_whose_selection_leaves_out_publish_says_the_published_warehouse_is_unchanged(tmp_path, capsys):
    from types import SimpleNamespace

    from dap.commands import run as run_command

    layout = publication.Layout(tmp_path / "warehouse.duckdb", tmp_path / "reports")
    progress = SimpleNamespace(done=12, warnings=0, quarantined=0, root_run_id=None, elapsed=lambda: "0:54")
    result = SimpleNamespace(success=True, run_id="r1", get_asset_materialization_events=lambda: [])
    assert run_command._report(result, layout, progress, tmp_path / "r1.log", None) == 0
    out = capsys.readouterr().out
    assert "did not include publish/warehouse, so the published warehouse is unchanged" in out
    assert str(layout.build_dir("r1")) in out and "published warehouse:" not in out
