"""The log outbox through the real bot: a log post that fails for a while is delivered later,
once; the member never hears of it; a restart or a second process changes nothing; a member's
denials cannot flood the channel; a corrected outcome edits its post."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import audit
from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackRequest, RollbackStatus
from bot.wiki.results import PreviewProblem
from tests.discord.harness import (
    CHANNEL_MESSAGE,
    GUILD_ID,
    HELPER_ROLE_ID,
    LOG_CHANNEL_ID,
    MOD,
    NOBODY,
    DiscordHarness,
    LibrarySleeps,
    Person,
    Sessions,
    WallClock,
    embed_field,
    role_payload,
)
from tests.discord.test_history_commands import ReviewHarness
from tests.unit.services.fakes import FakeWiki, problem_preview

pytestmark = pytest.mark.asyncio

LOG_POSTS = rf"/channels/{LOG_CHANNEL_ID}/messages"
RETRY_WARNING = f"log post to channel {LOG_CHANNEL_ID} failed, will retry"

Breakage = Callable[[DiscordHarness], None]


def _server_errors(h: DiscordHarness) -> None:
    """500 on every try: discord.py's own five tries, then DiscordServerError."""
    h.discord.fail("POST", LOG_POSTS, status=500, code=0, message="500: Internal Server Error")


def _bad_gateway(h: DiscordHarness) -> None:
    h.discord.fail("POST", LOG_POSTS, status=502, code=0, message="502: Bad Gateway")


def _dropped(h: DiscordHarness) -> None:
    h.discord.drop("POST", LOG_POSTS)


def _answer_lost(h: DiscordHarness) -> None:
    """Discord posts the message, then the connection drops before its answer arrives."""
    h.discord.drop("POST", LOG_POSTS, after=True)


def _timed_out(h: DiscordHarness) -> None:
    h.discord.drop("POST", LOG_POSTS, error=lambda: aiohttp.ServerTimeoutError("read timeout"))


def _cloudflare_429(h: DiscordHarness) -> None:
    h.discord.rate_limit("POST", LOG_POSTS, retry_after=42.0, from_cloudflare=True)


async def _deny_then_roll_back(h: DiscordHarness) -> tuple[int, int]:
    """A denial (a slash command's reply) and a rollback (a button's); both log posts fail."""
    denial = await h.slash(NOBODY, page="Main Page", user="Vandal")
    assert denial.requests == [denial.callback]  # the refusal, and nothing after it
    assert "you need one of these roles" in (denial.callback.content or "")
    prompt = await h.open_prompt(MOD)
    click = await h.click(MOD, prompt.confirm_id, message=prompt.message)
    assert [r.embed.get("title") for r in click.requests[1:]] == ["Rolled back"]
    denied_id, rolled_back_id = [row.id for row in await h.rows() if row.id is not None]
    return denied_id, rolled_back_id


@pytest.mark.parametrize(
    ("break_posts", "lands"),
    [
        (_server_errors, False),
        (_bad_gateway, False),
        (_dropped, False),
        (_answer_lost, True),
        (_timed_out, False),
        (_cloudflare_429, False),
    ],
    ids=["500", "502", "dropped", "answer-lost", "timeout", "429-cloudflare"],
)
async def test_a_transient_failure_is_retried_by_the_sweep_and_posted_once(
    harness: DiscordHarness,
    library_sleeps: LibrarySleeps,
    caplog: pytest.LogCaptureFixture,
    break_posts: Breakage,
    lands: bool,
) -> None:
    h = harness
    break_posts(h)
    with caplog.at_level(logging.INFO):
        ids = await _deny_then_roll_back(h)

    # The members saw their normal answers (checked above); nothing reached on_error.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for request_id in ids:
        row = await h.row(request_id)
        assert (row.log_state, row.log_attempts, row.log_message_id) == ("pending", 1, None)
        assert row.log_post_error is not None
        assert row.log_post_error.endswith("; retrying")
    retry_warnings = [r for r in caplog.records if r.getMessage().startswith(RETRY_WARNING)]
    assert len(retry_warnings) == 1  # once per channel and cause, not per post
    assert retry_warnings[0].levelno == logging.WARNING
    # Only where Discord did post before the answer was lost is anything in the channel yet.
    assert len(h.discord.channel_messages(LOG_CHANNEL_ID)) == (2 if lands else 0)

    h.discord.failures.clear()  # Discord is back
    assert await h.bot.log_poster.deliver_due() == 0  # the retries are not due yet
    h.log_clock.advance(60)
    assert await h.bot.log_poster.deliver_due() == 2

    titles = {
        int(m["id"]): m["embeds"][0]["title"] for m in h.discord.channel_messages(LOG_CHANNEL_ID)
    }
    rows = [await h.row(request_id) for request_id in ids]
    assert [titles[row.log_message_id or 0] for row in rows] == [
        "Denied: Main Page",
        "Succeeded: Main Page",
    ]
    for row in rows:
        assert (row.log_state, row.log_attempts, row.log_post_error) == ("posted", 2, None)
        assert row.log_channel_id == LOG_CHANNEL_ID
    assert await h.bot.log_poster.deliver_due() == 0
    assert len(h.discord.channel_messages(LOG_CHANNEL_ID)) == 2


async def test_a_cloudflare_429_is_retried_only_after_its_retry_after(
    harness: DiscordHarness,
) -> None:
    h = harness
    _cloudflare_429(h)
    await h.slash(NOBODY, page="Main Page", user="Vandal")
    (row,) = await h.rows()
    assert row.log_post_error == "rate limited by Discord; retrying"
    h.discord.failures.clear()

    h.log_clock.advance(40)
    await h.bot.log_poster.deliver_due()
    assert len(h.log_posts()) == 1  # just the first, refused one
    h.log_clock.advance(4)
    await h.bot.log_poster.deliver_due()
    assert [p.status for p in h.log_posts()] == [429, 200]


async def test_discords_own_429_is_waited_out_by_discord_py_and_posted_once(
    harness: DiscordHarness, library_sleeps: LibrarySleeps
) -> None:
    harness.discord.rate_limit("POST", LOG_POSTS, retry_after=2.5, times=1)
    await harness.slash(NOBODY, page="Main Page", user="Vandal")
    assert 2.5 in library_sleeps.delays
    assert [p.status for p in harness.log_posts()] == [429, 200]
    (row,) = await harness.rows()
    assert (row.log_state, row.log_attempts) == ("posted", 1)
    assert len(harness.discord.channel_messages(LOG_CHANNEL_ID)) == 1


async def test_the_periodic_sweep_delivers_retries_by_itself(
    sqlite_session_factory: Sessions,
) -> None:
    h = await DiscordHarness.start(sqlite_session_factory, log_sweep_seconds=0.05)
    try:
        _dropped(h)
        h.discord.failures[-1].times = 1
        await h.slash(NOBODY, page="Main Page", user="Vandal")
        assert h.discord.channel_messages(LOG_CHANNEL_ID) == []
        h.log_clock.advance(60)
        await h.until(lambda: len(h.discord.channel_messages(LOG_CHANNEL_ID)) == 1)
        await asyncio.sleep(0.2)  # a few more sweeps: nothing more is posted
        assert len(h.discord.channel_messages(LOG_CHANNEL_ID)) == 1
        h.check_invariants()
    finally:
        await h.close()


async def test_a_post_pending_at_shutdown_is_delivered_by_the_next_start(
    sqlite_engine: AsyncEngine, sqlite_session_factory: Sessions, wiki: FakeWiki
) -> None:
    first = await DiscordHarness.start(sqlite_session_factory, wiki=wiki)
    try:
        _dropped(first)
        prompt = await first.open_prompt(MOD)
        await first.click(MOD, prompt.confirm_id, message=prompt.message)
        assert (await first.row(prompt.request_id)).log_state == "pending"
    finally:
        await first.close()
    first.discord.failures.clear()

    # A new process on the same database, started a while later: its first sweep delivers.
    engine = create_engine(sqlite_engine.url.render_as_string(hide_password=False))
    second = await DiscordHarness.start(
        create_session_factory(engine),
        wiki=wiki,
        discord_api=first.discord,
        log_clock=WallClock(timedelta(minutes=5)),
    )
    try:
        await second.until(lambda: len(second.discord.channel_messages(LOG_CHANNEL_ID)) == 1)
        (message,) = second.discord.channel_messages(LOG_CHANNEL_ID)
        assert message["embeds"][0]["title"] == "Succeeded: Main Page"
        for _ in range(100):  # the sweep records the post right after Discord's answer
            row = await second.row(prompt.request_id)
            if row.log_state == "posted":
                break
            await asyncio.sleep(0.01)
        assert (row.log_state, row.log_message_id) == ("posted", int(message["id"]))
        second.check_invariants()
    finally:
        await second.close()
        await engine.dispose()


async def test_two_bots_on_one_database_post_each_row_once(
    database_url: str, engine: AsyncEngine, wiki: FakeWiki
) -> None:
    other_engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    first = await DiscordHarness.start(sessions, wiki=wiki)
    second = await DiscordHarness.start(
        create_session_factory(other_engine), wiki=wiki, discord_api=first.discord
    )
    try:
        rows = []
        async with sessions.begin() as session:
            for number in range(20):
                row = RollbackRequest(
                    guild_id=GUILD_ID,
                    requester_id=MOD.user_id + number,  # no two denials of one member
                    requester_name="Mod",
                    wiki_api_url=wiki.api_url,
                    page_title=f"Page {number}",
                    target_user="Vandal",
                    status=RollbackStatus.DENIED if number % 2 else RollbackStatus.SUCCEEDED,
                    created_at=first.clock(),
                    updated_at=first.clock(),
                )
                rows.append(await audit.add_request(session, row))

        posters = [first.bot.log_poster, second.bot.log_poster]
        await asyncio.gather(
            *(poster.deliver_due() for poster in posters),
            *(posters[i % 2].post(row) for i, row in enumerate(rows)),
            *(posters[(i + 1) % 2].post(row) for i, row in enumerate(reversed(rows))),
        )
        await asyncio.gather(*(poster.deliver_due() for poster in posters))

        assert len(first.log_posts()) == 20  # sent once each: no duplicate even to dedupe
        messages = first.discord.channel_messages(LOG_CHANNEL_ID)
        assert sorted(m["embeds"][0]["title"].split(": ")[1] for m in messages) == sorted(
            f"Page {n}" for n in range(20)
        )
        stored = [await first.row(row.id or 0) for row in rows]
        assert {r.log_state for r in stored} == {"posted"}
        assert {r.log_message_id for r in stored} == {int(m["id"]) for m in messages}
        first.check_invariants()
        second.check_invariants()
    finally:
        await second.close()
        await first.close()
        await other_engine.dispose()


# ---- denials ---------------------------------------------------------------------------------


async def test_a_members_denials_are_posted_at_most_once_a_minute(
    harness: DiscordHarness,
) -> None:
    h = harness
    for _ in range(5):
        run = await h.slash(NOBODY, page="Main Page", user="Vandal")
        assert run.callback.callback_type == CHANNEL_MESSAGE  # each refusal at once
        assert "you need one of these roles" in (run.callback.content or "")
        h.clock.advance(1)
    (post,) = h.log_posts()
    assert "Earlier attempts" not in [f["name"] for f in post.embed["fields"]]

    h.clock.advance(60)  # 65 s after the first, posted, denial
    await h.slash(NOBODY, page="Main Page", user="Vandal")
    _, second = h.log_posts()
    assert second.embed["title"] == "Denied: Main Page"
    assert embed_field(second.embed, "Earlier attempts") == (
        "+ 4 earlier denied attempts in the last 65 seconds"
    )
    rows = await h.rows()
    assert [r.log_state for r in rows] == ["posted"] + ["folded"] * 4 + ["posted"]
    assert all(r.status is RollbackStatus.DENIED for r in rows)


async def test_rows_from_before_the_outbox_are_never_posted(harness: DiscordHarness) -> None:
    legacy = RollbackRequest(
        guild_id=GUILD_ID,
        requester_id=NOBODY.user_id,
        requester_name="Nobody",
        wiki_api_url="https://wiki.example/w/api.php",
        page_title="Main Page",
        target_user="Vandal",
        status=RollbackStatus.DENIED,
        created_at=harness.clock(),
        updated_at=harness.clock(),
    )
    async with harness.sessions.begin() as session:
        session.add(legacy)  # as migration 0003 left them: log_state NULL
    await harness.bot.log_poster.post(legacy)
    assert await harness.bot.log_poster.deliver_due() == 0
    assert harness.log_posts() == []
    row = await harness.row(legacy.id or 0)
    assert (row.log_state, row.log_attempts, row.log_message_id) == (None, 0, None)


# ---- a corrected outcome -----------------------------------------------------------------------


async def _refused_then_corrected(h: DiscordHarness) -> RollbackRequest:
    """A request logged as failed, then corrected to succeeded (as settlement does once the
    page history proves the rollback happened)."""
    h.wiki.previews = [problem_preview(PreviewProblem.NOT_LAST_EDITOR)]
    await h.slash(MOD, page="Main Page", user="Vandal")
    (row,) = await h.rows()
    assert row.log_state == "posted"
    async with h.sessions.begin() as session:
        assert await audit.transition(
            session,
            row.id or 0,
            from_statuses=[RollbackStatus.FAILED],
            to=RollbackStatus.SUCCEEDED,
            revid=13,
            old_revid=12,
        )
    return row


async def test_a_corrected_outcome_edits_its_log_message(harness: DiscordHarness) -> None:
    h = harness
    before = await _refused_then_corrected(h)
    assert h.discord.message(before.log_message_id or 0)["embeds"][0]["title"].startswith("Failed")

    await h.bot.log_poster.deliver_due()

    assert len(h.log_posts()) == 1  # no second post
    (edit,) = [r for r in h.discord.requests if r.method == "PATCH" and "/channels/" in r.path]
    assert edit.path == f"/channels/{LOG_CHANNEL_ID}/messages/{before.log_message_id}"
    assert edit.allowed_mentions == {"parse": []}
    (message,) = h.discord.channel_messages(LOG_CHANNEL_ID)
    assert message["embeds"][0]["title"] == "Succeeded: Main Page"
    row = await h.row(before.id or 0)
    assert (row.log_state, row.log_message_id) == ("posted", before.log_message_id)


async def test_a_corrected_outcome_whose_message_was_deleted_is_posted_anew(
    harness: DiscordHarness,
) -> None:
    h = harness
    before = await _refused_then_corrected(h)
    del h.discord.messages[before.log_message_id or 0]  # a moderator deleted the post

    await h.bot.log_poster.deliver_due()

    (message,) = h.discord.channel_messages(LOG_CHANNEL_ID)
    assert message["embeds"][0]["title"] == "Succeeded: Main Page"
    row = await h.row(before.id or 0)
    assert (row.log_state, row.log_message_id) == ("posted", int(message["id"]))


# ---- settings changes ----------------------------------------------------------------------------


async def test_a_settings_post_that_drops_never_reaches_the_admin_as_an_error(
    sqlite_session_factory: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    review = await ReviewHarness.start_review(sqlite_session_factory)
    try:
        _dropped(review)
        admin = Person(MOD.user_id, "Admin", MOD.role_ids)
        with caplog.at_level(logging.WARNING):
            run = await review.run(
                admin,
                "rollbot-config rollback-roles add",
                permissions=str(1 << 5),
                resolved={"roles": {str(HELPER_ROLE_ID): role_payload(HELPER_ROLE_ID, "H", 1)}},
                role=str(HELPER_ROLE_ID),
            )
        assert run.requests == [run.callback]  # the normal answer, and no "something went wrong"
        assert (run.callback.content or "").startswith("Rollback roles:")
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.getMessage() for r in caplog.records if r.name == "bot.exts.audit_log"] == [
            f"settings post to log channel {LOG_CHANNEL_ID} failed: connection to Discord failed "
            "(ServerDisconnectedError) (ServerDisconnectedError('Server disconnected'))"
        ]
        await review.settle()
        review.check_invariants()
    finally:
        await review.close()
