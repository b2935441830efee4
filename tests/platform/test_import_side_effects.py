"""Importing the definitions does no work: it runs no dbt and leaves the process's
environment as it was. The dbt manifest is built at defined steps (``prepare_manifest``), and a missing or
stale one is an error that names the command to build it."""

import json
import os
import subprocess
import sys

import pytest

from orchestration.lib import dbt_cli

# Third-party libraries first: their own import-time habits (scikit-learn sets KMP_* variables) are theirs.
_PROBE = """
import json, os, subprocess, sys
import dagster, dagster_dbt, duckdb, numpy, pandas, scipy, sklearn, statsmodels.api  # noqa: F401
before = dict(os.environ)
started = []
_init = subprocess.Popen.__init__
def _spy(self, args, *rest, **kwargs):
    started.append([str(a) for a in (args if isinstance(args, (list, tuple)) else [args])])
    return _init(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = _spy
import orchestration.definitions  # noqa: F401
after = dict(os.environ)
changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
print(json.dumps({"started": started, "changed": changed}))
"""


def test_importing_the_definitions_runs_nothing_and_leaves_the_environment_alone():
    dbt_cli.prepare_manifest()  # a fresh manifest: what every entry point makes sure of before importing
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["started"] == [], f"programs started on import: {probe['started']}"
    assert probe["changed"] == [], f"environment variables changed on import: {probe['changed']}"


def test_a_missing_manifest_is_an_error_naming_the_command(tmp_path, monkeypatch):
    monkeypatch.setattr(dbt_cli, "MANIFEST", tmp_path / "manifest.json")
    with pytest.raises(dbt_cli.StaleManifest, match="python -m orchestration.lib.dbt_cli"):
        dbt_cli.require_manifest()


def test_a_manifest_older_than_a_model_is_stale(tmp_path, monkeypatch):
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    assert not dbt_cli.manifest_is_stale(dbt_cli.MANIFEST)
    model = next((dbt_cli.PROJECT_DIR / "models").rglob("*.sql"))
    older = model.stat().st_mtime - 60
    os.utime(manifest, (older, older))
    assert dbt_cli.manifest_is_stale(manifest)


def test_dbt_subprocess_environment_is_a_copy(tmp_path):
    before = dict(os.environ)
    env = dbt_cli.dbt_env(tmp_path / "w.duckdb")
    assert env["DA_DBT_WAREHOUSE"] == str(tmp_path / "w.duckdb")
    assert dict(os.environ) == before
    assert os.path.exists(dbt_cli.dbt_executable())
