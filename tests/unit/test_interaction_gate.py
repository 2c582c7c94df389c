"""`InteractionGate.refusal` on raw INTERACTION_CREATE payloads (the end-to-end refusals are in
tests/discord/test_guild_gate.py); here, which parts of a payload count as member input."""

from __future__ import annotations

from typing import Any

import pytest

from bot.interaction_gate import NO_SERVER_TEXT, NOT_ENABLED_TEXT, InteractionGate

SERVED = 1_100_000_000_000_000_000
GATE = InteractionGate([SERVED])


def command(*options: dict[str, Any], guild_id: int | None = SERVED, **data: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": 2,
        "data": {"name": "rollback-log", "options": list(options), **data},
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload


def test_where_the_interaction_comes_from_is_checked_first() -> None:
    assert GATE.refusal(command()) is None
    assert GATE.refusal(command(guild_id=None)) == NO_SERVER_TEXT
    assert GATE.refusal(command(guild_id=SERVED + 1)) == NOT_ENABLED_TEXT
    # An unlisted server is refused as such, whatever its text.
    bad = {"name": "page", "type": 3, "value": "\x00"}
    assert GATE.refusal(command(bad, guild_id=SERVED + 1)) == NOT_ENABLED_TEXT


@pytest.mark.parametrize("text", ["\x00", "a\ud800", "\udfffb", "x\x00\udbff"])
def test_unstorable_text_deep_in_a_sub_command_group_is_found(text: str) -> None:
    leaf = {"name": "user", "type": 3, "value": text}
    group = {
        "name": "search",
        "type": 1,
        "options": [{"name": "page", "type": 3, "value": "ok"}, leaf],
    }
    refusal = GATE.refusal(command(group))
    assert refusal is not None
    assert refusal.startswith("Sorry, `user` contains characters rollbot cannot store")
    assert text not in refusal  # never echoed back


def test_paired_surrogates_emoji_and_other_controls_are_fine() -> None:
    texts = ["\U0001f600 emoji", "tab\tand\nnewline", "日本語", "\u200b zero width", ""]
    options = [{"name": f"o{i}", "type": 3, "value": t} for i, t in enumerate(texts)]
    assert GATE.refusal(command(*options)) is None


def test_discords_resolved_objects_and_non_text_values_are_not_input() -> None:
    resolved = {"roles": {"5": {"id": "5", "name": "bad\x00name"}}}
    payload = command({"name": "id", "type": 4, "value": 12}, resolved=resolved)
    assert GATE.refusal(payload) is None


def test_select_values_and_modal_fields_are_input() -> None:
    select = {
        "type": 3,
        "guild_id": str(SERVED),
        "data": {"custom_id": "pick", "values": ["\ud800"]},
    }
    assert "`pick`" in (GATE.refusal(select) or "")
    field = {"type": 4, "custom_id": "reason", "value": "\x00"}
    modal = {"type": 5, "guild_id": str(SERVED), "data": {"custom_id": "m", "components": [field]}}
    assert "`reason`" in (GATE.refusal(modal) or "")


def test_a_name_that_is_not_a_plain_identifier_is_not_quoted() -> None:
    odd = {"name": "`@everyone`", "type": 3, "value": "\x00"}
    assert (GATE.refusal(command(odd)) or "").startswith("Sorry, that text contains")


def test_a_gate_needs_at_least_one_server() -> None:
    with pytest.raises(ValueError, match="DISCORD_GUILD_IDS"):
        InteractionGate([])
