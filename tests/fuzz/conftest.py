"""Prints what the fuzz run did at the end of the session (also without `-s`)."""

from __future__ import annotations

import pytest

from tests.fuzz.world import TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.cases:
        terminalreporter.write_sep("-", "rollbot fuzz")
        terminalreporter.write_line(TALLY.note())
