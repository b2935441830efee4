"""Every asset key, check and dependency edge of the definitions, against a snapshot kept in the repository.

A domain that silently drops out, an asset that stops declaring a table it reads, or a check that
disappears shows here as a diff. After an intended change to the graph, refresh the snapshot with
``DA_UPDATE_SNAPSHOTS=1 python -m pytest tests/platform/test_asset_graph_snapshot.py`` and commit it.
"""

import os
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "asset_graph.txt"


def describe_graph() -> str:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        kinds = ",".join(sorted(node.kinds)) or "-"
        lines.append(f"asset {key.to_user_string()} [{kinds}]")
        lines += [
            f"  <- {p.to_user_string()}" for p in sorted(node.parent_keys, key=lambda k: k.to_user_string())
        ]
    checks = sorted(f"check {c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    return "\n".join(lines + checks) + "\n"


def test_asset_graph_matches_snapshot():
    now = describe_graph()
    if os.environ.get("DA_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(now, encoding="utf-8")
    kept = SNAPSHOT.read_text(encoding="utf-8")
    assert now == kept, (
        "the asset graph differs from tests/snapshots/asset_graph.txt; if the change is intended, refresh it "
        "with DA_UPDATE_SNAPSHOTS=1 (see this test's docstring). Diff:\n"
        + "\n".join(
            sorted(
                [f"- {line}" for line in set(kept.splitlines()) - set(now.splitlines())]
                + [f"+ {line}" for line in set(now.splitlines()) - set(kept.splitlines())]
            )
        )
    )
