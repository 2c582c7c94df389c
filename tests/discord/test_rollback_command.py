"""`/rollback` as Discord delivers it: INTERACTION_CREATE → CommandTree → cog → HTTP to Discord."""

from __future__ import annotations

import logging

import discord
import pytest

from bot.db.models import RollbackStatus
from bot.ui.messages import describe_error
from bot.ui.replies import INTERNAL_ERROR
from bot.wiki.errors import InvalidTitleError
from bot.wiki.results import PreviewProblem, RollbackPreview
from tests.discord.harness import (
    CHANNEL_ID,
    DEFERRED_CHANNEL_MESSAGE,
    EPHEMERAL,
    GUILD_ID,
    LOG_CHANNEL_ID,
    MOD,
    MOD_ROLE_ID,
    NOBODY,
    DiscordHarness,
    Sessions,
    cancel_id,
    confirm_id,
    embed_field,
)
from tests.unit.services.fakes import FakeWiki, problem_preview, ready_preview

pytestmark = pytest.mark.asyncio


# ---- 1. a member without a rollback role ---------------------------------------------------------


async def test_member_without_role_is_refused_ephemerally_and_logged(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    run = await harness.slash(NOBODY, page="Main Page", user="Vandal")

    reply = run.callback
    assert reply.callback_type == 4  # a message, not a defer: no wiki work follows
    assert reply.ephemeral
    assert f"<@&{MOD_ROLE_ID}>" in (reply.content or "")
    assert reply.allowed_mentions == {"parse": []}
    assert run.requests == [reply]  # nothing else was sent for this interaction
    assert wiki.preview_calls == []
    assert wiki.rollback_calls == []

    (row,) = await harness.rows()
    assert row.status is RollbackStatus.DENIED
    assert row.error_code == "missingrole"
    assert (row.requester_id, row.guild_id, row.channel_id) == (
        NOBODY.user_id,
        GUILD_ID,
        CHANNEL_ID,
    )

    (post,) = harness.log_posts()
    assert post.embed["title"] == "Denied: Main Page"
    assert embed_field(post.embed, "Requested by") == f"<@{NOBODY.user_id}>"
    assert post.allowed_mentions == {"parse": []}
    assert row.log_message_id == post.created_id
    assert row.log_post_error is None


# ---- 2. an authorised member gets a preview with two buttons -------------------------------------


async def test_authorised_member_gets_deferred_then_preview_with_buttons(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    run = await harness.slash(MOD, page="Main_Page", user="vandal")

    defer, edit = run.requests
    # Deferred (thinking, ephemeral) before the wiki was asked anything.
    assert defer.callback_type == DEFERRED_CHANNEL_MESSAGE
    assert defer.flags == EPHEMERAL
    assert defer.wiki_calls == 0
    assert wiki.preview_calls == [("Main Page", "Vandal")]  # normalised by the service
    # Then the deferred message is edited into the preview.
    assert (edit.method, edit.path.rsplit("/", 1)[1]) == ("PATCH", "@original")
    assert edit.wiki_calls == 1
    assert edit.embed["title"] == "Confirm rollback"
    assert "Roll back **2** consecutive edits" in edit.embed["description"]

    (row,) = await harness.rows()
    assert row.id is not None
    assert edit.buttons == [("Confirm", confirm_id(row.id)), ("Cancel", cancel_id(row.id))]
    assert edit.allowed_mentions == {"parse": []}
    assert row.status is RollbackStatus.PENDING
    assert row.prompt_message_id == run.original_message_id
    assert row.top_revid == 12
    # What the moderator sees: an ephemeral message with the embed and the buttons.
    prompt = run.original_message
    assert int(prompt["flags"]) == EPHEMERAL  # the "thinking" flag is gone
    assert prompt["embeds"][0]["title"] == "Confirm rollback"
    assert harness.log_posts() == []  # nothing final yet


async def test_summary_and_markbot_options_reach_the_rollback(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(MOD, summary="Spam links", markbot=True)
    edit = prompt.run.edits[-1]
    assert embed_field(edit.embed, "Summary") == "Spam links"
    assert embed_field(edit.embed, "Mark as bot") == "yes"

    await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    (call,) = wiki.rollback_calls
    assert call["markbot"] is True
    assert "Spam links" in str(call["summary"])
    assert "Mod" in str(call["summary"])  # the requester is named in the wiki summary


# ---- 3. the preview finds nothing to roll back ---------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        (PreviewProblem.NOT_LAST_EDITOR, "notlasteditor"),
        (PreviewProblem.MISSING_PAGE, PreviewProblem.MISSING_PAGE.value),
    ],
)
async def test_preview_problem_edits_in_the_refusal_without_buttons(
    harness: DiscordHarness, wiki: FakeWiki, problem: PreviewProblem, code: str
) -> None:
    wiki.previews = [problem_preview(problem)]

    run = await harness.slash(MOD, page="Main Page", user="Vandal")

    defer, edit = run.requests
    assert defer.callback_type == DEFERRED_CHANNEL_MESSAGE
    assert edit.embed["title"] == "Rollback not possible"
    assert not edit.components  # no buttons: nothing to confirm
    assert harness.discord.message(run.original_message_id)["components"] == []
    (row,) = await harness.rows()
    assert row.status is RollbackStatus.FAILED
    assert row.error_code == problem.value == code
    assert edit.embed["description"] == describe_error(row.error_code, row.error_message)
    (post,) = harness.log_posts()
    assert post.embed["title"].startswith("Failed: ")
    assert code in embed_field(post.embed, "Error")
    assert row.log_message_id is not None


async def test_blank_title_is_refused_without_asking_the_wiki(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    run = await harness.slash(MOD, page="  ", user="Vandal")  # Discord's min_length=1 lets it by

    assert run.edits[-1].embed["description"] == describe_error("invalidtitle")
    assert wiki.preview_calls == []
    (row,) = await harness.rows()
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "invalidtitle")
    assert len(harness.log_posts()) == 1


async def test_title_the_wiki_rejects_is_refused_with_the_wiki_details(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.previews = [InvalidTitleError("invalidtitle", 'Bad title "Talk:<x>".')]

    run = await harness.slash(MOD, page="Talk:<x>", user="Vandal")

    edit = run.edits[-1]
    assert edit.embed["description"] == describe_error("invalidtitle")
    assert "Bad title" in embed_field(edit.embed, "Details")
    assert not edit.components
    (row,) = await harness.rows()
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "invalidtitle")
    assert len(harness.log_posts()) == 1


# ---- a guild that is not (yet) in the cache ------------------------------------------------------


async def test_roles_come_from_the_payload_when_the_guild_is_not_cached(
    sqlite_session_factory: Sessions,
) -> None:
    """Before GUILD_CREATE (or for an evicted guild) Member.roles is empty; the ids still count,
    and the log channel is fetched over REST instead of taken from the cache."""
    h = await DiscordHarness.start(sqlite_session_factory, connect=False)
    try:
        assert h.bot.get_guild(GUILD_ID) is None
        prompt = await h.open_prompt(MOD)
        await h.click(MOD, prompt.confirm_id, message=prompt.message)
        row = await h.row(prompt.request_id)
        assert row.status is RollbackStatus.SUCCEEDED
        fetches = [r for r in h.discord.requests if r.path == f"/channels/{LOG_CHANNEL_ID}"]
        assert [r.method for r in fetches][:1] == ["GET"]
        assert row.log_message_id is not None
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


# ---- 13. the command's shape, as synced to Discord -----------------------------------------------


async def test_rollback_command_is_guild_only_with_the_documented_options(
    harness: DiscordHarness,
) -> None:
    syncs = [r for r in harness.discord.requests if r.method == "PUT"]
    # Synced to the configured guild (instant); the global list is emptied, never filled.
    assert [(r.path, bool(r.json)) for r in syncs] == [
        (f"/applications/{harness.bot.application_id}/guilds/{GUILD_ID}/commands", True),
        (f"/applications/{harness.bot.application_id}/commands", False),
    ]
    (command,) = [c for c in syncs[0].json if c["name"] == "rollback"]
    assert command["contexts"] == [0]  # guild only
    assert command["dm_permission"] is False
    options = [(o["name"], o["type"], o["required"]) for o in command["options"]]
    assert options == [
        ("page", 3, True),
        ("user", 3, True),
        ("summary", 3, False),
        ("markbot", 5, False),
        ("wiki", 3, False),
    ]
    assert [o.get("max_length") for o in command["options"][:3]] == [255, 255, 1000]
    assert command["options"][4]["autocomplete"] is True
    # The in-memory tree agrees with what was sent.
    local = harness.bot.tree.get_command("rollback", guild=discord.Object(GUILD_ID))
    assert local is not None
    assert local.to_dict(harness.bot.tree)["options"] == command["options"]


# ---- 14. an unexpected exception inside the handler ----------------------------------------------


async def test_unexpected_error_in_the_command_gets_a_polite_reply(
    harness: DiscordHarness,
    wiki: FakeWiki,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A failure the service cannot turn into an outcome (its database is gone after the
    # denied-check) reaches the tree's on_error.
    real_request = harness.service.request

    async def request_then_crash(*args: object, **kwargs: object) -> object:
        await real_request(*args, **kwargs)  # type: ignore[arg-type]
        raise OSError("database is gone")

    monkeypatch.setattr(harness.service, "request", request_then_crash)

    with caplog.at_level(logging.ERROR):
        run = await harness.slash(MOD, page="Main Page", user="Vandal")

    defer, followup = run.requests
    assert defer.callback_type == DEFERRED_CHANNEL_MESSAGE
    assert (followup.method, followup.content) == ("POST", INTERNAL_ERROR)
    assert followup.ephemeral
    # The follow-up replaced the "thinking…" message: the member is not left waiting.
    shown = run.original_message
    assert shown["content"] == INTERNAL_ERROR
    assert not int(shown["flags"]) & 128
    assert any("command rollback failed" in r.getMessage() for r in caplog.records)


async def test_unexpected_error_in_the_command_is_still_posted_to_the_log(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    wiki.previews = [RuntimeError("wiki client bug")]

    await harness.slash(MOD, page="Main Page", user="Vandal")

    (row,) = await harness.rows()
    assert row.status is RollbackStatus.FAILED
    assert len(harness.log_posts()) == 1


async def test_the_result_shows_the_summary_as_the_wiki_displays_it(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    """`$1` is sent as `&#36;1` (the wiki would substitute it) and saved so; the moderator
    sees `$1`, as the wiki's pages show it."""
    prompt = await harness.open_prompt(MOD, summary="spam costs $1 a link")

    click = await harness.click(MOD, prompt.confirm_id, message=prompt.message)

    (call,) = wiki.rollback_calls
    assert "&#36;1" in str(call["summary"])
    final = click.requests[-1]
    assert embed_field(final.embed, "Summary").startswith("spam costs $1 a link \\(requested by")
    row = await harness.row(prompt.request_id)
    assert row.result_summary is not None
    assert row.result_summary.startswith("spam costs &#36;1 a link")


async def test_a_hidden_vandal_name_is_offered_and_said(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    hidden = ready_preview()
    wiki.previews = [
        RollbackPreview(
            title=hidden.title,
            pageid=hidden.pageid,
            target_user=hidden.target_user,
            top=hidden.top,
            restored=hidden.restored,
            edits_to_revert=2,
            edits_capped=False,
            problem=None,
            hidden_edits=1,
        )
    ]
    prompt = await harness.open_prompt(MOD)

    embed = prompt.run.edits[-1].embed
    assert "name is hidden on 1 of these edits" in embed["description"]
    assert prompt.confirm_id
