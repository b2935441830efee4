"""Synthetic WMP-style extract generator (`dap synth`), calibrated to the seed documents.

Python API: ``synth.generate(scale, seed, out_dir, fmt="parquet", **options) -> summary``; see
synth.generate.generate for the options.
"""

from __future__ import annotations


def generate(scale, seed, out_dir, fmt="parquet", **options):
    """Write a synthetic extract; see :func:`synth.generate.generate`."""
    from synth.generate import generate as _generate

    return _generate(scale, seed, out_dir, fmt=fmt, **options)


__all__ = ["generate"]
