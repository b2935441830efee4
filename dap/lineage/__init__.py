"""Lineage and audit of a run, one module a concern (nothing here imports Dagster): ``facts`` (file hashes,
git, packages), ``manifest`` (the audit manifest, `dap audit`, `dap trace`) and ``openlineage`` (events and
where they go). What each artefact holds: docs/auditors.md."""
