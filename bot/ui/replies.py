"""Answering an interaction exactly once, politely, whatever state it is in."""

from __future__ import annotations

import logging
from typing import Any

import discord

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
INTERNAL_ERROR = (
    "Sorry, something went wrong on the bot's side. The request is on record; "
    "please try again or tell the bot's operator."
)


async def send_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """A first response, or a follow-up if the interaction was answered already."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
    except discord.HTTPException:
        log.warning("could not send an error reply for interaction %s", interaction.id)
