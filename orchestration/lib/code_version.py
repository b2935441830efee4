"""Code versions that change when the logic changes: a hash of the source of the modules an asset runs.

Dagster compares an asset's code version with the one it was last materialised with; hashing the asset's
module and the library modules it calls means any edit to that logic shows the asset as changed (and the
audit manifest records exactly which logic made each table), with nobody having to remember to bump a number.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def _source_files(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(module)
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: every Python file in it
        return sorted(p for p in origin.parent.rglob("*.py") if "__pycache__" not in p.parts)
    return [origin]


def source_version(*modules: str, length: int = 12) -> str:
    """The first ``length`` hex digits of the SHA-256 of the named modules' (or packages') source files."""
    digest = hashlib.sha256()
    for module in sorted(set(modules)):
        for path in _source_files(module):
            digest.update(module.encode())
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:length]
