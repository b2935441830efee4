"""Dagster orchestration of the platform. `orchestration/definitions.py` is the one entry point."""
