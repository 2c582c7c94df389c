"""The harness's own checks must be able to fail, or the tests built on them prove nothing."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands

from tests.discord.harness import GUILD_ID, MOD, DiscordHarness, Sessions

pytestmark = pytest.mark.asyncio


async def _with_command(
    sessions: Sessions,
    callback: app_commands.commands.CommandCallback,  # type: ignore[type-arg]
) -> DiscordHarness:
    """A harness whose bot also has `/probe` (running `callback`), synced to the guild."""
    h = await DiscordHarness.start(sessions)
    h.bot.tree.add_command(
        app_commands.Command(name="probe", description="test", callback=callback),
        guild=discord.Object(GUILD_ID),
    )
    await h.bot.tree.sync(guild=discord.Object(GUILD_ID))
    return h


async def test_an_unanswered_interaction_is_reported(sqlite_session_factory: Sessions) -> None:
    async def silent(interaction: discord.Interaction) -> None:
        return None

    h = await _with_command(sqlite_session_factory, silent)
    try:
        await h.settle()
        h.send(h.slash_payload(MOD, "probe"))
        await h.settle()
        with pytest.raises(AssertionError, match="answered 0 times"):
            h.check_invariants()
    finally:
        await h.close()


async def test_a_message_that_may_mention_is_reported(sqlite_session_factory: Sessions) -> None:
    async def loud(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "@everyone", allowed_mentions=discord.AllowedMentions(everyone=True)
        )

    h = await _with_command(sqlite_session_factory, loud)
    try:
        h.send(h.slash_payload(MOD, "probe"))
        await h.settle()
        with pytest.raises(AssertionError, match="allowed_mentions"):
            h.check_invariants()
    finally:
        await h.close()


async def test_a_second_acknowledgement_is_refused_like_discord(
    sqlite_session_factory: Sessions,
) -> None:
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        interaction.response._response_type = None  # defeat discord.py's own guard
        await interaction.response.defer(ephemeral=True)

    h = await _with_command(sqlite_session_factory, twice)
    try:
        run = h.send(h.slash_payload(MOD, "probe"))
        await h.settle()
        first, *refused = run.callbacks
        assert first.status == 200
        # The second defer, then the error handler's apology: both refused by "Discord".
        assert [(r.status, r.response["code"]) for r in refused] == [(400, 40060)] * 2
        assert h.discord.callbacks_of(run.token) == 1
    finally:
        await h.close()


async def test_a_button_that_is_not_on_the_message_cannot_be_clicked(
    sqlite_session_factory: Sessions,
) -> None:
    h = await DiscordHarness.start(sqlite_session_factory)
    try:
        prompt = await h.open_prompt(MOD)
        with pytest.raises(AssertionError, match="is not a button of message"):
            h.click_payload(MOD, "rollbot:confirm:999", message=prompt.message)
    finally:
        await h.close()
