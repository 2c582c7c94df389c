"""Persistent Confirm / Cancel buttons.

The custom_id carries the action and the audit row id (`rollbot:confirm:<id>`,
`rollbot:cancel:<id>`), so a click after a restart or after expiry is still routed here and
answered from the database, never "This interaction failed". Every check (who, role, state,
expiry) happens at click time in the service.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, Literal, Protocol

import discord

from bot.ui.replies import INTERNAL_ERROR, send_ephemeral

if TYPE_CHECKING:
    from bot.db.models import RollbackRequest
    from bot.discord_bot import RollBot

log = logging.getLogger(__name__)

CONFIRM_LABEL = "Confirm"
CANCEL_LABEL = "Cancel"
Action = Literal["confirm", "cancel"]
_STYLES: dict[Action, tuple[str, discord.ButtonStyle]] = {
    "confirm": (CONFIRM_LABEL, discord.ButtonStyle.danger),
    "cancel": (CANCEL_LABEL, discord.ButtonStyle.secondary),
}


class PromptHandler(Protocol):
    """Receives clicks on prompt buttons (the rollback cog)."""

    async def on_confirm(
        self, interaction: discord.Interaction[RollBot], request_id: int
    ) -> None: ...

    async def on_cancel(
        self, interaction: discord.Interaction[RollBot], request_id: int
    ) -> None: ...

    async def grey_out(self, request: RollbackRequest) -> None: ...


class PromptButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=re.compile(r"rollbot:(?P<action>confirm|cancel):(?P<request_id>[0-9]{1,19})"),
):
    def __init__(self, action: Action, request_id: int) -> None:
        label, style = _STYLES[action]
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"rollbot:{action}:{request_id}")
        )
        self.action: Action = action
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> PromptButton:
        action: Action = "confirm" if match["action"] == "confirm" else "cancel"
        return cls(action, int(match["request_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # DynamicItem callbacks are typed for any client; ours is always a RollBot.
        client: RollBot = interaction.client
        handler = client.prompt_handler
        on_click = handler.on_confirm if self.action == "confirm" else handler.on_cancel
        try:
            await on_click(interaction, self.request_id)
        except Exception:
            log.exception("%s of request %s failed", self.action, self.request_id)
            await send_ephemeral(interaction, INTERNAL_ERROR)


def prompt_view(request_id: int) -> discord.ui.View:
    """The buttons under a preview. `timeout=None`: expiry is the service's job, not the view's."""
    view = discord.ui.View(timeout=None)
    view.add_item(PromptButton("confirm", request_id))
    view.add_item(PromptButton("cancel", request_id))
    return view
