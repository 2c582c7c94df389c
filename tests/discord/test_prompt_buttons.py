"""Confirm / Cancel clicks as Discord sends them: MESSAGE_COMPONENT → view store → DynamicItem."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine, create_session_factory
from bot.db.models import RollbackStatus
from bot.exts.rollback import EXPIRED_TEXT, UNKNOWN_TEXT
from bot.services.rollback import LEASE, Actor, Claimed
from bot.ui.messages import describe_error
from bot.ui.replies import INTERNAL_ERROR
from bot.wiki.errors import ProtectedPageError, RateLimitedError, WikiTransportError
from bot.wiki.results import RollbackResult
from tests.discord.harness import (
    CHANNEL_MESSAGE,
    CONFIRM_TIMEOUT,
    GUILD_ID,
    MOD,
    MOD_ROLE_ID,
    NOBODY,
    OTHER_MOD,
    UPDATE_MESSAGE,
    DiscordHarness,
    Person,
    Sessions,
    embed_field,
)
from tests.unit.services.fakes import Clock, FakeWiki, ready_preview

pytestmark = pytest.mark.asyncio

CANCELLED_TEXT = "Cancelled. Nothing was changed."


# ---- 4. Confirm by the requester -----------------------------------------------------------------


async def test_confirm_by_requester_updates_prompt_then_shows_success(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD)
    wiki_calls_before = len(wiki.preview_calls)

    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    update, final = click.requests
    # Acknowledged by updating the prompt, buttons removed, before the wiki is touched.
    assert update.callback_type == UPDATE_MESSAGE
    assert update.components == []
    assert update.embed["description"] == "Rolling back…"
    assert update.wiki_calls == wiki_calls_before
    # Then the same message becomes the success report.
    assert final.method == "PATCH"
    assert final.path.endswith("/messages/@original")
    assert final.embed["title"] == "Rolled back"
    assert embed_field(final.embed, "New revision") == "13"
    assert final.components == []
    assert len(wiki.rollback_calls) == 1
    assert click.original_message_id == prompt.run.original_message_id  # edited in place
    assert click.original_message["components"] == []

    row = await harness.row(prompt.request_id)
    assert row.status is RollbackStatus.SUCCEEDED
    assert (row.confirmed_by_id, row.revid, row.old_revid) == (MOD.user_id, 13, 12)
    (post,) = harness.log_posts()
    assert post.embed["title"] == "Succeeded: Main Page"
    assert embed_field(post.embed, "Edits reverted") == "2"
    assert row.log_message_id == post.created_id
    assert row.log_post_error is None


# ---- 5. a click by someone else ------------------------------------------------------------------


@pytest.mark.parametrize("stranger", [OTHER_MOD, NOBODY], ids=["with-role", "without-role"])
@pytest.mark.parametrize("button", ["confirm", "cancel"])
async def test_strangers_click_is_refused_and_changes_nothing(
    harness: DiscordHarness, wiki: FakeWiki, stranger: Person, button: str
) -> None:
    prompt = await harness.open_prompt(MOD)
    before = await harness.row(prompt.request_id)
    custom_id = prompt.confirm_id if button == "confirm" else prompt.cancel_id

    click = await harness.click(stranger, custom_id, message=prompt.message)

    (reply,) = click.requests
    assert reply.callback_type == CHANNEL_MESSAGE
    assert reply.ephemeral
    assert f"<@{MOD.user_id}>" in (reply.content or "")  # says whose request it is
    assert reply.allowed_mentions == {"parse": []}  # ... without pinging them
    after = await harness.row(prompt.request_id)
    assert after.status is RollbackStatus.PENDING
    assert after.confirmed_by_id is None
    assert after.updated_at == before.updated_at
    assert wiki.rollback_calls == []
    assert harness.discord.message(prompt.run.original_message_id) == prompt.message
    assert harness.log_posts() == []


# ---- 6. expiry, and ids the database does not know -----------------------------------------------


@pytest.mark.parametrize("button", ["confirm", "cancel"])
async def test_click_after_expiry_turns_the_prompt_into_the_expired_notice(
    harness: DiscordHarness, wiki: FakeWiki, button: str
) -> None:
    prompt = await harness.open_prompt(MOD)
    harness.clock.advance(CONFIRM_TIMEOUT.total_seconds() + 1)

    custom_id = prompt.confirm_id if button == "confirm" else prompt.cancel_id
    click = await harness.click(MOD, custom_id, message=prompt.message)

    (update,) = click.requests
    assert update.callback_type == UPDATE_MESSAGE
    assert (
        update.embed["description"] == EXPIRED_TEXT == "This request expired. Run /rollback again."
    )
    assert update.components == []
    assert wiki.rollback_calls == []
    row = await harness.row(prompt.request_id)
    assert row.status is RollbackStatus.EXPIRED
    (post,) = harness.log_posts()
    assert post.embed["title"] == "Expired: Main Page"
    assert row.log_message_id == post.created_id


async def test_sweep_expires_the_prompt_through_the_commands_interaction(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD)
    harness.clock.advance(CONFIRM_TIMEOUT.total_seconds() + 1)

    expired = await harness.cog.sweep()

    assert [r.id for r in expired] == [prompt.request_id]
    edit = prompt.run.edits[-1]  # the /rollback interaction's token edits its own response
    assert edit.embed["description"] == EXPIRED_TEXT
    assert edit.components == []
    assert harness.discord.message(prompt.run.original_message_id)["components"] == []
    assert (await harness.row(prompt.request_id)).status is RollbackStatus.EXPIRED
    assert len(harness.log_posts()) == 1
    assert await harness.cog.sweep() == []  # once only


async def test_click_on_a_request_the_database_does_not_know_is_answered_politely(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    message = harness.old_prompt_message(4242)  # e.g. left by a run whose DB was wiped

    click = await harness.click(MOD, "rollbot:confirm:4242", message=message)

    (reply,) = click.requests
    assert reply.callback_type == CHANNEL_MESSAGE
    assert reply.ephemeral
    assert reply.content == UNKNOWN_TEXT
    assert wiki.rollback_calls == []
    assert await harness.rows() == []


# ---- 7. buttons survive a restart ----------------------------------------------------------------


async def test_confirm_on_a_prompt_from_before_a_restart_is_handled(
    sqlite_engine: AsyncEngine, sqlite_session_factory: Sessions, wiki: FakeWiki
) -> None:
    first = await DiscordHarness.start(sqlite_session_factory, wiki=wiki)
    try:
        prompt = await first.open_prompt(MOD)
        await first.settle()
        first.check_invariants()
    finally:
        await first.close()

    # A new process: its own engine on the same database file, a new bot, the same Discord.
    engine = create_engine(sqlite_engine.url.render_as_string(hide_password=False))
    second = await DiscordHarness.start(
        create_session_factory(engine), wiki=wiki, discord_api=first.discord
    )
    try:
        assert prompt.request_id not in second.cog._prompts  # nothing carried over in memory
        click = await second.click(MOD, prompt.confirm_id, message=prompt.message)

        update, final = click.requests
        assert update.callback_type == UPDATE_MESSAGE
        assert final.embed["title"] == "Rolled back"
        assert (await second.row(prompt.request_id)).status is RollbackStatus.SUCCEEDED
        assert len(wiki.rollback_calls) == 1
        await second.settle()
        second.check_invariants()
    finally:
        await second.close()
        await engine.dispose()


async def test_a_prompt_that_expired_while_the_bot_was_down_is_greyed_out_at_start(
    sqlite_session_factory: Sessions, wiki: FakeWiki
) -> None:
    """The expiry sweep of the process that showed the prompt never ran: the next process
    expires the row at start and takes the buttons off through the stored token."""
    clock = Clock()
    first = await DiscordHarness.start(sqlite_session_factory, wiki=wiki, clock=clock)
    try:
        prompt = await first.open_prompt(MOD)
        assert (await first.row(prompt.request_id)).prompt_token == prompt.run.token
    finally:
        await first.close()
    clock.advance(CONFIRM_TIMEOUT.total_seconds() + 1)

    second = await DiscordHarness.start(
        sqlite_session_factory, wiki=wiki, clock=clock, discord_api=first.discord
    )
    try:
        await asyncio.wait_for(asyncio.gather(*second.bot._background), 5)
        edits = [
            sent
            for sent in second.discord.for_token(prompt.run.token)
            if sent.method == "PATCH" and sent.path.endswith(f"/messages/{prompt.message['id']}")
        ]
        (edit,) = edits
        assert edit.components == []
        assert edit.embed["description"] == EXPIRED_TEXT
        assert second.discord.message(int(prompt.message["id"]))["components"] == []
        row = await second.row(prompt.request_id)
        assert (row.status, row.prompt_token) == (RollbackStatus.EXPIRED, None)
        (post,) = second.log_posts()
        assert post.embed["title"].startswith("Expired")
    finally:
        await second.close()


async def test_rollback_interrupted_by_a_crash_is_settled_and_logged_after_restart(
    sqlite_session_factory: Sessions, wiki: FakeWiki
) -> None:
    """A row left `running` is settled from the page history at start-up once its lease lapsed,
    and posted once the bot is connected (not before: the log channel is unknown until READY)."""
    clock = Clock()
    first = await DiscordHarness.start(sqlite_session_factory, wiki=wiki, clock=clock)
    try:
        prompt = await first.open_prompt(MOD)
        claim = await first.service.claim(prompt.request_id, _actor(MOD))
        assert isinstance(claim, Claimed)  # confirmed, then the process died mid-rollback
    finally:
        await first.close()
    clock.advance(LEASE.total_seconds() + 1)  # the dead process renews its lease no more
    wiki.found = [
        RollbackResult(
            title="Main Page", pageid=7, summary="s", revid=13, old_revid=12, last_revid=10
        )
    ]

    second = await DiscordHarness.start(
        sqlite_session_factory, wiki=wiki, clock=clock, discord_api=first.discord, connect=False
    )
    try:
        assert (await second.row(prompt.request_id)).status is RollbackStatus.SUCCEEDED
        assert second.log_posts() == []  # not connected yet
        await second.connect()
        # RollBot._post_when_ready: started by setup_hook, waits for READY, then posts.
        await asyncio.wait_for(asyncio.gather(*second.bot._background), 5)
        (post,) = second.log_posts()
        assert post.embed["title"] == "Succeeded: Main Page"
        # The outbox's own ready-sweep may be the one that posted; it records the id a moment
        # after the post.
        for _ in range(100):
            row = await second.row(prompt.request_id)
            if row.log_message_id is not None:
                break
            await asyncio.sleep(0.05)
        assert row.log_message_id == post.created_id
        assert wiki.rollback_calls == []  # never re-sent
    finally:
        await second.close()


def _actor(person: Person) -> Actor:
    return Actor(
        user_id=person.user_id,
        display_name=person.name,
        role_ids=frozenset(person.role_ids),
        guild_id=GUILD_ID,
    )


# ---- 8. Cancel -----------------------------------------------------------------------------------


async def test_cancel_then_confirm(harness: DiscordHarness, wiki: FakeWiki) -> None:
    prompt = await harness.open_prompt(MOD)

    cancel = await harness.click(MOD, prompt.cancel_id, message=prompt.message)

    (update,) = cancel.requests
    assert update.callback_type == UPDATE_MESSAGE
    assert update.embed["description"] == CANCELLED_TEXT
    assert update.components == []
    row = await harness.row(prompt.request_id)
    assert row.status is RollbackStatus.CANCELLED
    (post,) = harness.log_posts()
    assert post.embed["title"] == "Cancelled: Main Page"

    # A Confirm that raced the Cancel (the member's client still showed the buttons).
    late = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    (reply,) = late.requests
    assert reply.callback_type == CHANNEL_MESSAGE
    assert reply.ephemeral
    assert reply.content == "This request was cancelled. Run /rollback again."
    assert wiki.rollback_calls == []
    assert (await harness.row(prompt.request_id)).status is RollbackStatus.CANCELLED
    assert len(harness.log_posts()) == 1


# ---- 9. a double click ---------------------------------------------------------------------------


async def test_two_concurrent_confirms_roll_back_once(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD)
    wiki.rollback_gate = asyncio.Event()  # hold the wiki until both clicks are answered

    clicks = [harness.send_click(MOD, prompt.confirm_id, message=prompt.message) for _ in "ab"]
    await harness.until(lambda: all(c.callbacks for c in clicks))
    wiki.rollback_gate.set()
    await harness.settle()

    assert len(wiki.rollback_calls) == 1
    kinds = sorted(c.callback.callback_type or 0 for c in clicks)
    assert kinds == [CHANNEL_MESSAGE, UPDATE_MESSAGE]
    (loser,) = [c for c in clicks if c.callback.callback_type == CHANNEL_MESSAGE]
    assert loser.callback.ephemeral
    assert loser.callback.content == "This rollback is already in progress."
    assert (await harness.row(prompt.request_id)).status is RollbackStatus.SUCCEEDED
    assert len(harness.log_posts()) == 1


async def test_confirm_after_success_says_it_was_already_done(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD)
    await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    again = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    assert again.callback.content == "This rollback was already carried out."
    assert again.callback.ephemeral
    assert len(wiki.rollback_calls) == 1


# ---- 10. the wiki refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            ProtectedPageError("protectedpage", "This page has been protected to prevent editing."),
            "protectedpage",
        ),
        (RateLimitedError("ratelimited", "You've exceeded your rate limit."), "ratelimited"),
        (WikiTransportError("connection refused", ambiguous=False), "transport"),
    ],
    ids=["protected", "ratelimited", "transport"],
)
async def test_wiki_failure_shows_a_clear_sentence_and_is_logged_with_the_code(
    harness: DiscordHarness, wiki: FakeWiki, error: Exception, code: str
) -> None:
    wiki.rollbacks = [error]
    prompt = await harness.open_prompt(MOD)

    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    update, final = click.requests
    assert update.callback_type == UPDATE_MESSAGE
    assert final.embed["title"] == "Rollback not possible"
    assert final.embed["description"] == describe_error(code)
    assert not describe_error(code).startswith("The rollback failed (")  # a real sentence
    assert final.components == []
    row = await harness.row(prompt.request_id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, code)
    (post,) = harness.log_posts()
    assert post.embed["title"] == "Failed: Main Page"
    assert f"`{code}`" in embed_field(post.embed, "Error")
    assert row.log_message_id == post.created_id


async def test_page_changed_since_preview_shows_the_new_preview_to_confirm_again(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.previews = [ready_preview(top_revid=12), ready_preview(edits=3, top_revid=14)]
    prompt = await harness.open_prompt(MOD)

    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    _, final = click.requests
    assert "changed since the preview" in final.embed["description"]
    assert [label for label, _ in final.buttons] == ["Confirm", "Cancel"]
    assert wiki.rollback_calls == []
    row = await harness.row(prompt.request_id)
    assert (row.status, row.top_revid) == (RollbackStatus.PENDING, 14)

    again = await harness.click(MOD, prompt.confirm_id, message=click.original_message)
    assert again.requests[-1].embed["title"] == "Rolled back"
    assert len(wiki.rollback_calls) == 1


async def test_member_who_lost_the_role_cannot_confirm(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD)

    click = await harness.click(MOD.without_roles(), prompt.confirm_id, message=prompt.message)

    (update,) = click.requests
    assert update.callback_type == UPDATE_MESSAGE
    assert f"<@&{MOD_ROLE_ID}>" in (update.content or "")
    assert update.embeds == []
    assert update.components == []
    assert wiki.rollback_calls == []
    assert (await harness.row(prompt.request_id)).status is RollbackStatus.DENIED
    assert len(harness.log_posts()) == 1


# ---- 14. unexpected exceptions in a click handler ------------------------------------------------


async def test_unexpected_error_during_the_rollback_gets_a_polite_reply(
    harness: DiscordHarness, wiki: FakeWiki, caplog: pytest.LogCaptureFixture
) -> None:
    wiki.rollbacks = [RuntimeError("wiki client bug")]
    prompt = await harness.open_prompt(MOD)

    with caplog.at_level(logging.ERROR):
        click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    # The crash is an ordinary failure outcome: shown in place of the prompt, logged with its
    # traceback, posted to the log channel.
    update, final = click.requests
    assert update.callback_type == UPDATE_MESSAGE
    assert final.embed["description"] == describe_error("internal")
    row = await harness.row(prompt.request_id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "internal")
    assert len(harness.log_posts()) == 1
    assert any("request 1 crashed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_unexpected_error_before_acknowledging_gets_a_polite_reply(
    harness: DiscordHarness, wiki: FakeWiki, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompt = await harness.open_prompt(MOD)

    async def broken_claim(*args: object) -> None:
        raise OSError("database is gone")

    monkeypatch.setattr(harness.service, "claim", broken_claim)
    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    (reply,) = click.requests
    assert reply.callback_type == CHANNEL_MESSAGE
    assert reply.ephemeral
    assert reply.content == INTERNAL_ERROR
    assert wiki.rollback_calls == []


async def test_failed_acknowledgement_does_not_leave_the_request_running(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD)
    harness.discord.fail(
        "POST",
        r"/interactions/\d+/[^/]+/callback",
        status=404,
        code=10062,
        message="Unknown interaction",
        times=1,
    )

    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)
    harness.expected_unanswered.add(click.token)

    row = await harness.row(prompt.request_id)
    assert row.status is not RollbackStatus.RUNNING
