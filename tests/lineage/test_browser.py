"""In a real browser: the Dagster asset graph served by the web server, and the audit manifest (JSON).

Uses the system's Chromium (Debian package `chromium`, installed by .ci/install-system-deps) driven by
Playwright; skips with the reason when no Chromium or no Playwright is available (under CI a skip is a
failure: tests/conftest.py). Screenshots are saved in the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dap.lineage import manifest as mf
from tests.lineage.conftest import make_manifest

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
LOCATION = "orchestration.definitions"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium installed (Debian: apt-get install chromium; .ci/install-system-deps does this)")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    log = open(home / "webserver.log", "w")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "GX_ANALYTICS_ENABLED": "false",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    webserver_bin = Path(sys.executable).with_name("dagster-webserver")
    process = subprocess.Popen(
        [str(webserver_bin), "-m", LOCATION, "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {(home / 'webserver.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("dagster-webserver did not answer within 10 minutes")
            time.sleep(2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_for_text(page, text: str, timeout_ms: int = 180_000) -> None:
    page.get_by_text(text, exact=True).first.wait_for(state="visible", timeout=timeout_ms)


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    skip = page.get_by_role("button", name="Skip")  # the web server's first-visit newsletter dialog
    try:
        skip.first.wait_for(state="visible", timeout=15_000)
        skip.first.click()
    except Exception:
        pass
    return page


@pytest.mark.parametrize(
    ("key", "names"),
    [
        ("raw/crimes", ["crimes", "base_wmp__crimes", "run_manifest"]),
        ("marts/dim_offenders", ["dim_offenders", "fct_offences", "cluster_profiles"]),
    ],
)
def test_asset_graph_shows_the_key_assets(browser, webserver, tmp_path, key, names):
    """The lineage graph around a key asset: the asset, its neighbours and the audit manifest downstream."""
    page = _open(browser, f"{webserver}/assets/{key}?view=lineage")
    try:
        for name in names:
            _wait_for_text(page, name)
        shot = tmp_path / f"asset_graph_{key.replace('/', '_')}.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    assert shot.stat().st_size > 10_000


def test_global_asset_graph_shows_every_layer(browser, webserver, tmp_path):
    page = _open(browser, f"{webserver}/asset-groups")
    try:
        for group in ("raw", "staging", "intermediate", "marts", "typology", "reports", "audit", "publish"):
            _wait_for_text(page, group)
        page.screenshot(path=str(tmp_path / "asset_graph.png"), full_page=True)
    finally:
        page.close()


def test_audit_manifest_opens_in_the_browser(browser, tmp_path):
    """The manifest is read as it is written (JSON): the browser shows its input hashes and assets."""
    manifest = make_manifest(tmp_path / "extract", tmp_path / "reports")
    json_path = tmp_path / "reports" / "audit" / "manifest.json"
    mf.write_manifest(manifest, json_path)
    page = browser.new_page()
    try:
        page.goto(json_path.as_uri())
        assert page.get_by_text(manifest["inputs"][0]["sha256"]).first.is_visible()
        assert page.get_by_text("marts/dim_offenders").first.is_visible()
        page.screenshot(path=str(tmp_path / "audit_manifest.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "audit_manifest.png").stat().st_size > 10_000
