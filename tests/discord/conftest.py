"""Fixtures for the Discord-layer tests: a logged-in, connected `RollBot` on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord.http
import pytest

from tests.discord.harness import DiscordHarness, LibrarySleeps, Sessions
from tests.unit.services.fakes import Clock, FakeWiki


@pytest.fixture
def wiki() -> FakeWiki:
    """The scripted wiki; a test changes its queues before the first interaction."""
    return FakeWiki()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def harness(
    sqlite_session_factory: Sessions, wiki: FakeWiki, clock: Clock
) -> AsyncIterator[DiscordHarness]:
    """A connected bot; after the test, checks `DiscordHarness.check_invariants`."""
    h = await DiscordHarness.start(sqlite_session_factory, wiki=wiki, clock=clock)
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


@pytest.fixture
def library_sleeps(monkeypatch: pytest.MonkeyPatch) -> LibrarySleeps:
    """discord.py's own HTTP waits become instant (and recorded) for this test: its five tries
    of a 500 would otherwise take 25 s."""
    sleeps = LibrarySleeps()
    monkeypatch.setattr(discord.http, "asyncio", sleeps)
    return sleeps
