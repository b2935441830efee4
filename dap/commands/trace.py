"""`dap trace TABLE[.COLUMN]`: from a published table or column back to the raw files it comes from.

Reads the audit manifest of the published run (or of ``--run``): the asset graph with each step's kind
(raw load, dbt model, Python step), code version, data version, row count and last run, and the column
lineage of the dbt models. A column is followed through column lineage where it is recorded; a Python
step without column lineage lists all its inputs (table level).
"""

from __future__ import annotations

import argparse

from dap.cli import CliError, add_location_arguments
from dap.commands.audit import find_manifest
from dap.lineage import manifest as lineage


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="TABLE[.COLUMN]",
        help="e.g. analytics.cluster_profiles or marts.dim_offenders.offender_id",
    )
    parser.add_argument(
        "--run",
        default="latest",
        metavar="RUN_ID",
        help="trace in this run's manifest (default: the published run)",
    )
    parser.add_argument("--manifest", metavar="FILE", help="read this manifest.json")
    add_location_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _, manifest = find_manifest(args.run, args.manifest, args.warehouse, args.output)
    try:
        print(lineage.format_trace(manifest, args.target))
    except LookupError:
        known = sorted(lineage.relation_of(a["key"]) for a in manifest["assets"])
        raise CliError(f"{args.target} is not a table of this run; tables: {', '.join(known)}") from None
    return 0
