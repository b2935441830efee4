"""Lineage and audit of a run, split by concern; nothing here imports Dagster.

``facts``        hashes of input and output files, git and package versions
``manifest``     the run's audit manifest (``reports/audit/manifest.json``): load, write, check input
                 hashes (`dap audit`) and walk it upstream (`dap trace`)
``render``       the manifest as one HTML page
``openlineage``  OpenLineage events from the maintained integrations (openlineage-dbt on dbt's artifacts,
                 dagster-openlineage for the other assets) and where they are written
"""
