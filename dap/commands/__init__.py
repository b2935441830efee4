"""Subcommands of `dap`."""
