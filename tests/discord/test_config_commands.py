"""`/rollbot-config` and per-guild settings in action, through discord.py's real objects.

Also the log channel under per-guild settings: the richer log embed within Discord's limits,
a guild's own (missing) channel, and another server's channel never receiving a guild's log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import discord
import pytest
from sqlalchemy import select

from bot.db import audit
from bot.db.models import ConfigChange, RollbackRequest, RollbackStatus, utcnow
from bot.exts.guild_config import NOT_ADMIN_TEXT
from bot.ui.embeds import EMBED_TOTAL_LIMIT, FIELD_LIMIT, TITLE_LIMIT, log_embed
from tests.discord.harness import (
    CHANNEL_MESSAGE,
    GUILD_ID,
    HELPER_ROLE_ID,
    JSON,
    LOG_CHANNEL_ID,
    MOD,
    MOD_ROLE_ID,
    NOBODY,
    Sessions,
    embed_field,
    role_payload,
    text_channel_payload,
)
from tests.discord.test_history_commands import ADMIN, GUILD_B, ReviewHarness
from tests.unit.services.fakes import FakeWiki

NEW_LOG_CHANNEL = 1_100_000_000_000_000_030
MANAGE_GUILD = str(1 << 5)
NO_PERMISSIONS = "0"


@pytest.fixture
async def review(sqlite_session_factory: Sessions) -> AsyncIterator[ReviewHarness]:
    h = await ReviewHarness.start_review(sqlite_session_factory)
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


def role_resolved(role_id: int, name: str = "Helper") -> JSON:
    return {"roles": {str(role_id): role_payload(role_id, name, 1)}}


def channel_resolved(channel_id: int) -> JSON:
    channel = text_channel_payload(channel_id, "new-log", 3)
    channel["permissions"] = "2251799813685247"
    return {"channels": {str(channel_id): channel}}


async def _changes(h: ReviewHarness) -> list[ConfigChange]:
    async with h.sessions() as session:
        result = await session.execute(select(ConfigChange).order_by(ConfigChange.id))  # type: ignore[arg-type]
        return list(result.scalars())


# ---- who may configure ----------


async def test_the_command_is_hidden_from_non_admins_by_default(review: ReviewHarness) -> None:
    synced = {c["name"]: c for c in review.discord.synced_commands[GUILD_ID]}
    assert int(synced["rollbot-config"]["default_member_permissions"]) == int(MANAGE_GUILD)
    assert synced["rollback-log"].get("default_member_permissions") is None


@pytest.mark.parametrize(
    ("path", "options", "resolved"),
    [
        ("rollbot-config show", {}, None),
        ("rollbot-config log-channel", {}, None),
        ("rollbot-config reset", {"setting": "log-channel"}, None),
        ("rollbot-config rollback-roles add", {"role": str(HELPER_ROLE_ID)}, "role"),
        ("rollbot-config rollback-roles remove", {"role": str(MOD_ROLE_ID)}, "role"),
        ("rollbot-config viewer-roles add", {"role": str(HELPER_ROLE_ID)}, "role"),
        ("rollbot-config viewer-roles remove", {"role": str(HELPER_ROLE_ID)}, "role"),
    ],
)
async def test_every_subcommand_checks_manage_server_at_run_time(
    review: ReviewHarness, path: str, options: dict[str, Any], resolved: str | None
) -> None:
    """A server may grant the command to anyone in its integration settings; we check again."""
    run = await review.run(
        MOD,
        path,
        permissions=NO_PERMISSIONS,
        resolved=role_resolved(HELPER_ROLE_ID) if resolved else None,
        **options,
    )
    assert run.callback.callback_type == CHANNEL_MESSAGE
    assert run.callback.ephemeral
    assert run.callback.content == NOT_ADMIN_TEXT
    assert await _changes(review) == []


# ---- show and changes ----------


async def test_show_marks_env_defaults(review: ReviewHarness) -> None:
    run = await review.run(MOD, "rollbot-config show", permissions=MANAGE_GUILD)
    embed = run.callback.embed
    assert run.callback.ephemeral
    assert embed_field(embed, "Log channel") == f"<#{LOG_CHANNEL_ID}> (default)"
    assert embed_field(embed, "Rollback roles") == f"<@&{MOD_ROLE_ID}> (default)"
    assert embed_field(embed, "Log-viewer roles") == "none (default)"


async def test_moving_the_log_channel_is_recorded_and_announced_in_both(
    review: ReviewHarness,
) -> None:
    channel = text_channel_payload(NEW_LOG_CHANNEL, "new-log", 3)
    review.discord.add_channel(channel)
    review.bot._connection.parse_channel_create(channel)  # type: ignore[arg-type]  # CHANNEL_CREATE
    run = await review.run(
        MOD,
        "rollbot-config log-channel",
        permissions=MANAGE_GUILD,
        resolved=channel_resolved(NEW_LOG_CHANNEL),
        channel=str(NEW_LOG_CHANNEL),
    )
    assert run.callback.content == (
        f"Log channel: <#{LOG_CHANNEL_ID}> (default) → <#{NEW_LOG_CHANNEL}>."
    )
    [change] = await _changes(review)
    assert (change.setting, change.changed_by_id, change.guild_id) == (
        "log-channel",
        MOD.user_id,
        GUILD_ID,
    )
    for channel_id in (LOG_CHANNEL_ID, NEW_LOG_CHANNEL):
        [post] = review.discord.channel_posts(channel_id)
        assert post.embed["title"] == "rollbot settings changed"
        assert embed_field(post.embed, "After") == f"<#{NEW_LOG_CHANNEL}>"

    # The next outcome goes to the new channel only.
    await review.slash(NOBODY, page="Main Page", user="Vandal")
    assert len(review.discord.channel_posts(NEW_LOG_CHANNEL)) == 2
    assert len(review.discord.channel_posts(LOG_CHANNEL_ID)) == 1

    show = await review.run(MOD, "rollbot-config show", permissions=MANAGE_GUILD)
    assert "log-channel" in embed_field(show.callback.embed, "Recent changes")


async def test_role_changes_take_effect_at_once(review: ReviewHarness) -> None:
    denied = await review.slash(NOBODY, page="Main Page", user="Vandal")
    assert "you need one of these roles" in (denied.callback.content or "")

    run = await review.run(
        MOD,
        "rollbot-config rollback-roles add",
        permissions=MANAGE_GUILD,
        resolved=role_resolved(HELPER_ROLE_ID),
        role=str(HELPER_ROLE_ID),
    )
    assert run.callback.content == (
        f"Rollback roles: <@&{MOD_ROLE_ID}> (default) → <@&{MOD_ROLE_ID}>, <@&{HELPER_ROLE_ID}>."
    )
    prompt = await review.open_prompt(NOBODY)
    assert prompt.request_id

    await review.run(
        MOD,
        "rollbot-config rollback-roles remove",
        permissions=MANAGE_GUILD,
        resolved=role_resolved(MOD_ROLE_ID, "Rollbacker"),
        role=str(MOD_ROLE_ID),
    )
    refused = await review.slash(MOD, page="Main Page", user="Vandal")
    assert f"<@&{HELPER_ROLE_ID}>" in (refused.callback.content or "")

    reset = await review.run(
        MOD, "rollbot-config reset", permissions=MANAGE_GUILD, setting="rollback-roles"
    )
    assert reset.callback.content == (
        f"Rollback roles: <@&{HELPER_ROLE_ID}> → <@&{MOD_ROLE_ID}> (default)."
    )
    assert [c.setting for c in await _changes(review)] == ["rollback-roles"] * 3


async def test_a_repeated_change_is_not_recorded(review: ReviewHarness) -> None:
    for _ in range(2):
        run = await review.run(
            MOD,
            "rollbot-config viewer-roles add",
            permissions=MANAGE_GUILD,
            resolved=role_resolved(HELPER_ROLE_ID),
            role=str(HELPER_ROLE_ID),
        )
    assert run.callback.content == f"Log-viewer roles unchanged: <@&{HELPER_ROLE_ID}>."
    assert len(await _changes(review)) == 1


async def test_no_log_channel_for_one_guild(review: ReviewHarness) -> None:
    await review.run(MOD, "rollbot-config log-channel", permissions=MANAGE_GUILD)
    before = len(review.log_posts())
    await review.slash(NOBODY, page="Main Page", user="Vandal")
    assert len(review.log_posts()) == before
    [row] = await review.rows()
    assert (row.log_message_id, row.log_post_error) == (None, None)


# ---- the log channel under per-guild settings --------------------------------------------------


async def test_a_guilds_missing_log_channel_is_recorded_and_the_action_completes(
    review: ReviewHarness, caplog: pytest.LogCaptureFixture
) -> None:
    missing = 1_100_000_000_000_000_099
    await review.settings.set_log_channel(GUILD_ID, missing, by=ADMIN)
    caplog.set_level(logging.WARNING, logger="bot.exts.audit_log")
    for _ in range(2):
        run = await review.slash(NOBODY, page="Main Page", user="Vandal")
        assert "you need one of these roles" in (run.callback.content or "")
        review.clock.advance(61)  # past the fold window: each denial is tried on its own
    rows = await review.rows()
    assert [r.log_post_error for r in rows] == ["log channel not found"] * 2
    warnings = [r for r in caplog.records if f"log channel {missing}" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_guild_never_posts_into_another_servers_channel(review: ReviewHarness) -> None:
    """Guild B has no settings, so it inherits LOG_CHANNEL_ID - which is guild A's channel."""
    await review.run(NOBODY, "rollback-log search", guild_id=GUILD_B)  # refused; no post
    request = RollbackRequest(
        guild_id=GUILD_B,
        requester_id=NOBODY.user_id,
        requester_name="Nobody",
        wiki_api_url="https://wiki.example/w/api.php",
        page_title="Main Page",
        target_user="Vandal",
        status=RollbackStatus.DENIED,
        created_at=review.clock(),
        updated_at=review.clock(),
    )
    async with review.sessions.begin() as session:
        await audit.add_request(session, request)  # ended: it enters the log outbox
    await review.bot.log_poster.post(request)
    assert review.log_posts() == []
    row = await review.row(request.id or 0)
    assert row.log_post_error == "the log channel belongs to another server"


# ---- the log embed ----------


def _huge_request(status: RollbackStatus) -> RollbackRequest:
    title = "語" * 255  # percent-encoded: a URL far too long to link
    return RollbackRequest(
        id=7,
        guild_id=GUILD_ID,
        requester_id=MOD.user_id,
        requester_name="M" * 100,
        wiki_api_url="https://wiki.example/w/api.php",
        page_title=title,
        target_user="*" * 255,
        summary="_" * 1000,
        status=status,
        edits_to_revert=3,
        revid=10,
        old_revid=9,
        error_code="x" * 100,
        error_message="`" * 2000,
        created_at=utcnow(),
        updated_at=utcnow(),
    )


class EncodingWiki(FakeWiki):
    def page_url(self, title: str) -> str:
        return "https://wiki.example/wiki/" + quote(title.replace(" ", "_"))


@pytest.mark.parametrize("status", [RollbackStatus.FAILED, RollbackStatus.SUCCEEDED])
def test_log_embed_stays_within_discord_limits(status: RollbackStatus) -> None:
    embed = log_embed(_huge_request(status), EncodingWiki())
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= TITLE_LIMIT
    assert embed.url is None  # too long to be a link: plain title instead of a broken one
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert len(field.value or "") <= FIELD_LIMIT
    page = embed_field(embed.to_dict(), "Page")  # type: ignore[arg-type]
    assert not page.startswith("[")  # no half link
    assert embed.colour == (
        discord.Colour.red() if status is RollbackStatus.FAILED else discord.Colour.green()
    )


def test_compact_log_embed_for_denied() -> None:
    request = _huge_request(RollbackStatus.DENIED)
    request.page_title, request.target_user = "Main Page", "Vandal"
    embed = log_embed(request, FakeWiki())
    names = [f.name for f in embed.fields]
    assert names == ["Page", "User", "Requested by", "Reason"]
    assert embed_field(embed.to_dict(), "Requested by") == f"<@{MOD.user_id}>"  # type: ignore[arg-type]
