"""The landing folder where new extracts arrive, one sub-folder per extract.

An extract is *complete* when its folder holds a ``_SUCCESS`` file or a ``manifest.json`` (written last by
whoever copies it in); a folder without either is still being copied and is ignored. Each complete
extract is processed once: the sensor's cursor remembers ``name@marker-mtime``, so re-delivering an
extract under the same name (a new marker) is processed again, and nothing else is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

COMPLETION_MARKERS = ("_SUCCESS", "manifest.json")


@dataclass(frozen=True)
class LandedExtract:
    name: str
    path: Path
    marker_mtime_ns: int

    @property
    def key(self) -> str:
        return f"{self.name}@{self.marker_mtime_ns}"


def complete_extracts(landing_dir: Path) -> list[LandedExtract]:
    """Complete extracts in ``landing_dir``, oldest marker first."""
    if not landing_dir.is_dir():
        return []
    found = []
    for folder in landing_dir.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        markers = [folder / m for m in COMPLETION_MARKERS if (folder / m).is_file()]
        if markers:
            found.append(
                LandedExtract(folder.name, folder.resolve(), max(m.stat().st_mtime_ns for m in markers))
            )
    return sorted(found, key=lambda e: (e.marker_mtime_ns, e.name))


def new_extracts(landing_dir: Path, cursor: str | None) -> tuple[list[LandedExtract], str]:
    """The complete extracts not yet processed, and the cursor that marks them processed."""
    seen = set(json.loads(cursor)) if cursor else set()
    fresh = [e for e in complete_extracts(landing_dir) if e.key not in seen]
    return fresh, json.dumps(sorted(seen | {e.key for e in fresh}))
