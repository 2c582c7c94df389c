"""Prints what the fuzz run did at the end of the session (also without `-s`)."""

from __future__ import annotations

import pytest

from tests.fuzz.world import KNOWN_ISSUE_TALLY, TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not (TALLY.cases or KNOWN_ISSUE_TALLY.cases):
        return
    terminalreporter.write_sep("-", "rollbot fuzz")
    if TALLY.cases:
        terminalreporter.write_line(TALLY.note())
    if KNOWN_ISSUE_TALLY.cases:
        terminalreporter.write_line(f"known issue (xfail) - {KNOWN_ISSUE_TALLY.note()}")
