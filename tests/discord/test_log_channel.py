"""The log channel: a failed post never fails the action; the row says why; one warning."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import pytest

from bot.db.models import RollbackStatus
from tests.discord.harness import LOG_CHANNEL_ID, MOD, NOBODY, DiscordHarness, Sessions
from tests.unit.services.fakes import FakeWiki

pytestmark = pytest.mark.asyncio

WARNING_PREFIX = f"cannot post to log channel {LOG_CHANNEL_ID}"

Breakage = Callable[[DiscordHarness], None]


def _deleted(h: DiscordHarness) -> None:
    """Cached at GUILD_CREATE, deleted since (no CHANNEL_DELETE seen): the send gets 404."""
    h.discord.channels.pop(LOG_CHANNEL_ID)


def _forbidden(h: DiscordHarness) -> None:
    h.discord.fail(
        "POST",
        rf"/channels/{LOG_CHANNEL_ID}/messages",
        status=403,
        code=50013,
        message="Missing Permissions",
    )


@pytest.fixture
async def missing_channel_harness(
    sqlite_session_factory: Sessions, wiki: FakeWiki
) -> AsyncIterator[DiscordHarness]:
    """The configured log channel is not in the guild: not cached, and fetching it gets 404."""
    h = await DiscordHarness.start(sqlite_session_factory, wiki=wiki, log_channel_exists=False)
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


async def _deny_then_roll_back(h: DiscordHarness) -> list[int]:
    await h.slash(NOBODY, page="Main Page", user="Vandal")
    prompt = await h.open_prompt(MOD)
    click = await h.click(MOD, prompt.confirm_id, message=prompt.message)
    assert click.requests[-1].embed["title"] == "Rolled back"  # the action itself completed
    return [row.id for row in await h.rows() if row.id is not None]


async def test_missing_log_channel_is_recorded_and_warned_once(
    missing_channel_harness: DiscordHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = missing_channel_harness
    with caplog.at_level(logging.WARNING, logger="bot.exts.audit_log"):
        ids = await _deny_then_roll_back(h)

    rows = [await h.row(request_id) for request_id in ids]
    assert [r.status for r in rows] == [RollbackStatus.DENIED, RollbackStatus.SUCCEEDED]
    assert [r.log_post_error for r in rows] == ["log channel not found"] * 2
    assert [r.log_message_id for r in rows] == [None, None]
    fetches = [r for r in h.discord.requests if r.path == f"/channels/{LOG_CHANNEL_ID}"]
    assert {(r.method, r.status) for r in fetches} == {("GET", 404)}
    warnings = [r for r in caplog.records if r.getMessage().startswith(WARNING_PREFIX)]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "log channel not found" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("break_channel", "reason"),
    [
        (_deleted, "log channel not found"),
        (_forbidden, "no permission to post in the log channel"),
    ],
    ids=["deleted", "forbidden"],
)
async def test_unusable_log_channel_is_recorded_and_warned_once(
    harness: DiscordHarness,
    caplog: pytest.LogCaptureFixture,
    break_channel: Breakage,
    reason: str,
) -> None:
    assert harness.bot.get_channel(LOG_CHANNEL_ID) is not None  # cached: no fetch needed
    break_channel(harness)

    with caplog.at_level(logging.WARNING, logger="bot.exts.audit_log"):
        ids = await _deny_then_roll_back(harness)

    rows = [await harness.row(request_id) for request_id in ids]
    assert [r.status for r in rows] == [RollbackStatus.DENIED, RollbackStatus.SUCCEEDED]
    assert [r.log_post_error for r in rows] == [reason, reason]
    assert [r.log_message_id for r in rows] == [None, None]
    assert [p.status for p in harness.log_posts()] == [403 if "permission" in reason else 404] * 2
    warnings = [r for r in caplog.records if r.getMessage().startswith(WARNING_PREFIX)]
    assert [w.getMessage() for w in warnings] == [f"{WARNING_PREFIX}: {reason}"]


async def test_log_channel_that_recovers_gets_later_posts(
    harness: DiscordHarness,
) -> None:
    _forbidden(harness)
    harness.discord.failures[-1].times = 1  # the permission is fixed after one failure

    ids = await _deny_then_roll_back(harness)

    first, second = [await harness.row(request_id) for request_id in ids]
    assert (first.log_message_id, first.log_post_error) == (
        None,
        "no permission to post in the log channel",
    )
    assert second.log_message_id == harness.log_posts()[-1].created_id
    assert second.log_post_error is None


async def test_no_log_channel_configured_posts_nothing(
    sqlite_session_factory: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    h = await DiscordHarness.start(sqlite_session_factory, log_channel_id=None)
    try:
        with caplog.at_level(logging.WARNING):
            ids = await _deny_then_roll_back(h)
        assert [r for r in h.discord.requests if r.path.startswith("/channels/")] == []
        rows = [await h.row(request_id) for request_id in ids]
        assert [(r.log_message_id, r.log_post_error) for r in rows] == [(None, None)] * 2
        assert not [r for r in caplog.records if r.name == "bot.exts.audit_log"]
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()
