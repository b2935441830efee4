"""Synthetic WMP-style extract generator (`dap synth`), calibrated to the seed documents.

Python API: ``synth.generate(scale, seed, out_dir, fmt="parquet", **options) -> summary``; see
synth.generate.generate for the options.
"""

# Imported eagerly: the submodule `synth.generate` would otherwise replace this package attribute the
# first time it is imported, and `synth.generate(...)` would stop being callable.
from synth.generate import generate

__all__ = ["generate"]
