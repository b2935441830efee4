"""Code versions follow the source: editing an asset's logic changes its version, nothing else does."""

from __future__ import annotations

import sys

from orchestration.lib.code_version import source_version


def test_code_version_changes_with_the_source(tmp_path, monkeypatch):
    package = tmp_path / "demo_logic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "model.py").write_text("def fit(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("demo_logic", None)

    before = source_version("demo_logic")
    assert before == source_version("demo_logic")  # stable
    (package / "model.py").write_text("def fit(x):\n    return 2 * x\n")
    assert source_version("demo_logic") != before  # an edit to the logic shows
    assert source_version("demo_logic.model") != source_version("demo_logic")


def test_platform_assets_carry_source_versions():
    import dagster as dg

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in (
        "analytics/k_sweep",
        "analytics/regression_results",
        "analytics/effect_estimates",
        "raw/crimes",
    ):
        version = graph.get(dg.AssetKey(key.split("/"))).code_version
        assert version and len(version) == 12, key
