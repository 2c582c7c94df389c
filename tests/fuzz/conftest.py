"""Prints what the fuzz run did at the end of the session (also without `-s`)."""

from __future__ import annotations

import pytest

from tests.fuzz.world import TALLIES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLIES:
        return
    terminalreporter.write_sep("-", "rollbot fuzz")
    for backend, tally in sorted(TALLIES.items()):
        terminalreporter.write_line(f"{backend}: {tally.note()}")
