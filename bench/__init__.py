"""Benchmarks (`make bench`): medians of repeated runs and peak memory at `wmp` scale. Not tests."""
