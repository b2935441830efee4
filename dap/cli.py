"""`dap`: the platform's one command-line entry point.

Each subcommand lives in its own module exposing ``configure(parser)``; the parser's ``func`` default is
called with the parsed arguments and returns an exit code. Modules are imported when the parser is built,
so they must keep heavy imports inside their functions.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("synth.cli", "generate a synthetic WMP-style extract (and its calibration report)"),
    "run": ("dap.commands.run", "materialise the whole asset graph on DA_EXTRACT_DIR"),
    "trace": ("dap.commands.trace", "trace a published table or column back to the raw files"),
    "audit": ("dap.commands.audit", "verify a past run's inputs against its audit manifest"),
    "rollback": ("dap.commands.rollback", "publish an earlier warehouse version again"),
}


class CliError(Exception):
    """A user-facing error: printed without a traceback; exit code 2 (bad usage) unless told otherwise."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    """``--warehouse`` and ``--output``: the published warehouse and reports folder a command reads."""
    parser.add_argument("--warehouse", metavar="FILE", help="published warehouse (default: $DA_WAREHOUSE)")
    parser.add_argument("--output", metavar="DIR", help="reports folder (default: $DA_OUTPUT_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dap",
        description="Domestic abuse perpetrator analytics platform.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)  # an import error is a broken install: loud
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.configure(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as error:
        print(f"dap {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # `python -m dap.cli` runs this file as __main__: use the module `dap.cli` the subcommands import,
    # so that their CliError is the one caught above.
    from dap.cli import main as dap_main

    sys.exit(dap_main())
