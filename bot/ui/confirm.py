"""Persistent Confirm / Cancel buttons.

The custom_id carries the audit row id (`rollbot:confirm:<id>`), so a click after a restart or
after expiry is still routed here and answered from the database, never "This interaction
failed". Every check (who, role, state, expiry) happens at click time in the service.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.ui.replies import INTERNAL_ERROR, send_ephemeral

if TYPE_CHECKING:
    from bot.discord_bot import RollBot

CONFIRM_LABEL = "Confirm"
CANCEL_LABEL = "Cancel"
log = logging.getLogger(__name__)
_ID = r"(?P<request_id>[0-9]{1,19})"


class PromptHandler(Protocol):
    """Receives clicks on prompt buttons (the rollback cog)."""

    async def on_confirm(
        self, interaction: discord.Interaction[RollBot], request_id: int
    ) -> None: ...

    async def on_cancel(
        self, interaction: discord.Interaction[RollBot], request_id: int
    ) -> None: ...


class ConfirmButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.compile(rf"rollbot:confirm:{_ID}"),
):
    def __init__(self, request_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=CONFIRM_LABEL,
                style=discord.ButtonStyle.danger,
                custom_id=f"rollbot:confirm:{request_id}",
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ConfirmButton:
        return cls(int(match["request_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _handler(interaction).on_confirm(interaction, self.request_id)
        except Exception:
            log.exception("confirm of request %s failed", self.request_id)
            await send_ephemeral(interaction, INTERNAL_ERROR)


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.compile(rf"rollbot:cancel:{_ID}"),
):
    def __init__(self, request_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=CANCEL_LABEL,
                style=discord.ButtonStyle.secondary,
                custom_id=f"rollbot:cancel:{request_id}",
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CancelButton:
        return cls(int(match["request_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _handler(interaction).on_cancel(interaction, self.request_id)
        except Exception:
            log.exception("cancel of request %s failed", self.request_id)
            await send_ephemeral(interaction, INTERNAL_ERROR)


def _handler(interaction: discord.Interaction[Any]) -> PromptHandler:
    # DynamicItem callbacks are typed for any client; ours is always a RollBot.
    client: RollBot = interaction.client
    return client.prompt_handler


def prompt_view(request_id: int) -> discord.ui.View:
    """The buttons under a preview. `timeout=None`: expiry is the service's job, not the view's."""
    view = discord.ui.View(timeout=None)
    view.add_item(ConfirmButton(request_id))
    view.add_item(CancelButton(request_id))
    return view
