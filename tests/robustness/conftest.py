"""Print the robustness matrix (case, exit code, published?, analyses not estimable and why) at the end of
a session that ran it."""

from __future__ import annotations

import pytest

MATRIX_TABLE = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = config.stash.get(MATRIX_TABLE, None)
    if text:
        terminalreporter.section("robustness matrix")
        terminalreporter.write_line(text)
