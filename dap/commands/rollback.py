"""`dap rollback`: publish an earlier version of the warehouse and reports again (atomic switch)."""

from __future__ import annotations

import argparse

from dap import publication, settings
from dap.cli import CliError, add_location_arguments


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "version",
        nargs="?",
        help="version to publish (a name or unique prefix; default: the one before the current)",
    )
    parser.add_argument("--list", action="store_true", help="list the kept versions and exit")
    add_location_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    layout = publication.Layout(
        settings.absolute(args.warehouse) if args.warehouse else settings.warehouse_path(),
        settings.absolute(args.output) if args.output else settings.output_dir(),
    )
    current = publication.current_version(layout)
    if args.list:
        kept = publication.versions(layout)
        if not kept:
            print("no published versions")
        for version in kept:
            mark = "*" if current is not None and version.resolve() == current.resolve() else " "
            print(f"{mark} {version.name}")
        return 0
    try:
        target = publication.rollback(layout, args.version)
    except LookupError as error:
        raise CliError(str(error)) from None
    print(f"published version {target.name} (was {current.name if current else 'none'})")
    return 0
