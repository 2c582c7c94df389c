"""The one gate every interaction passes before any command, button or modal sees it.

rollbot acts on the wiki with the operator's BotPassword, so only the operator's servers
(`DISCORD_GUILD_IDS`) may reach it: an admin of any other server the bot was invited to could
otherwise give their own role the right to roll back. The gate also refuses text a database
cannot store (NUL, unpaired surrogates), so no command starts on input that would only fail
at the first INSERT.

Where: `ConnectionState.parse_interaction_create` is the single point where discord.py turns an
INTERACTION_CREATE into a `CommandTree` call (slash commands, context menus, autocomplete) or a
`ViewStore` dispatch (buttons, selects, DynamicItems, modals). `RollBot._get_state` installs
`GatedConnectionState`, which asks `InteractionGate.refusal` first and, when it refuses, answers
once itself and dispatches nothing.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import discord
from discord.state import ConnectionState

from bot.ui.replies import send_ephemeral

if TYPE_CHECKING:
    from discord.types.gateway import InteractionCreateEvent

log = logging.getLogger(__name__)

NO_SERVER_TEXT = "Sorry, rollbot works only in a server."
NOT_ENABLED_TEXT = "Sorry, rollbot is not enabled in this server."
UNSTORABLE_TEXT = (
    "Sorry, {where} contains characters rollbot cannot store (a NUL character or an unpaired "
    "surrogate). Please remove them and try again."
)

# PostgreSQL text cannot hold NUL; lone surrogates cannot be encoded as UTF-8 by either database
# driver. Discord's JSON can carry both (`\u0000`, `\ud800`).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_PLAIN_NAME = re.compile(r"[\w-]{1,100}")


def unstorable(text: str) -> bool:
    """Whether `text` holds a character the audit database cannot store."""
    return _UNSTORABLE.search(text) is not None


def storable(text: str) -> str:
    """`text` with each character the database cannot store replaced by U+FFFD.

    For what Discord says about a member (their display name), which the gate cannot refuse
    them for: it is recorded as who acted, not used as input."""
    return _UNSTORABLE.sub("\ufffd", text)


def _entered_texts(node: Any, name: str | None = None) -> Iterator[tuple[str | None, str]]:
    """(option or field name, text) of every value a member typed or chose.

    Walks command options at any depth (sub-command groups nest them), autocomplete's focused
    value, modal text inputs and select values. Discord's own `resolved` objects are not input.
    """
    if isinstance(node, list):
        for item in node:
            yield from _entered_texts(item, name)
    elif isinstance(node, Mapping):
        name = node.get("name") or node.get("custom_id") or name
        for key, value in node.items():
            if key == "value" and isinstance(value, str):
                yield name, value
            elif key == "values" and isinstance(value, list):
                yield from ((name, item) for item in value if isinstance(item, str))
            elif key != "resolved":
                yield from _entered_texts(value, name)


class InteractionGate:
    """Decides, from the raw payload alone (no cache needed), whether rollbot may act on it."""

    def __init__(self, served_guild_ids: Collection[int]) -> None:
        if not served_guild_ids:
            raise ValueError("rollbot needs at least one server to serve (DISCORD_GUILD_IDS)")
        self.served_guild_ids = frozenset(served_guild_ids)
        self._answers: set[asyncio.Task[None]] = set()

    def refusal(self, data: Mapping[str, Any]) -> str | None:
        """The sentence to answer with, or None when the interaction may go on."""
        guild_id = data.get("guild_id")
        if guild_id is None:
            return NO_SERVER_TEXT
        if int(guild_id) not in self.served_guild_ids:
            return NOT_ENABLED_TEXT
        for name, text in _entered_texts(data.get("data") or {}):
            if unstorable(text):
                plain = name is not None and _PLAIN_NAME.fullmatch(name)
                return UNSTORABLE_TEXT.format(where=f"`{name}`" if plain else "that text")
        return None

    def refuse(self, interaction: discord.Interaction[Any], text: str) -> None:
        """Answer once, in the background (the gateway parser that calls this is synchronous)."""
        log.info(
            "refused interaction %s from %s: %s",
            interaction.id,
            f"server {interaction.guild_id}" if interaction.guild_id else "a DM",
            text,
        )
        task = asyncio.create_task(self._answer(interaction, text), name="rollbot-gate-refusal")
        self._answers.add(task)  # keep a reference until done, or the loop may drop it
        task.add_done_callback(self._answers.discard)

    @staticmethod
    async def _answer(interaction: discord.Interaction[Any], text: str) -> None:
        if interaction.type is discord.InteractionType.autocomplete:
            # Autocomplete cannot carry a message: an empty list is the polite "no".
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException:
                log.warning("could not answer autocomplete %s", interaction.id)
            return
        await send_ephemeral(interaction, text)


class GatedConnectionState(ConnectionState[Any]):
    """discord.py's connection state with `InteractionGate` in front of every interaction."""

    def __init__(self, *, gate: InteractionGate, **options: Any) -> None:
        self.gate = gate  # before super().__init__, which collects the parse_* methods
        super().__init__(**options)

    def parse_interaction_create(self, data: InteractionCreateEvent) -> None:
        text = self.gate.refusal(data)
        if text is None:
            super().parse_interaction_create(data)
            return
        self.gate.refuse(discord.Interaction(data=data, state=self), text)
