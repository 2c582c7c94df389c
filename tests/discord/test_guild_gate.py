"""Only the operator's servers reach rollbot (issue 7), through discord.py's real dispatch.

The attack: anyone invites the bot to their own server, gives their own role the rollback right
with `/rollbot-config rollback-roles add`, then runs `/rollback` with the bot's BotPassword.
Every interaction from a server not in DISCORD_GUILD_IDS, or from a DM, gets one short ephemeral
refusal, writes no row and never reaches the wiki; the bot leaves such servers. Also here: text
a database cannot store, unusable option values (TransformerError), and `log-channel` with a
channel the bot's cache has not seen.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.models import ConfigChange, GuildConfig, RollbackStatus
from bot.exts.guild_config import NOT_A_LOG_CHANNEL_TEXT
from bot.interaction_gate import NO_SERVER_TEXT, NOT_ENABLED_TEXT
from tests.discord.harness import (
    ADMINISTRATOR_PERMISSIONS,
    APP_ID,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    GUILD_ID,
    HELPER_ROLE_ID,
    JSON,
    LOG_CHANNEL_ID,
    MOD,
    OTHER_GUILD_ID,
    OTHER_ROLE_ID,
    OUTSIDER,
    UPDATE_MESSAGE,
    DiscordHarness,
    Dispatched,
    Person,
    Sessions,
    in_dm,
    in_guild,
    role_payload,
    text_channel_payload,
)
from tests.discord.test_history_commands import GUILD_B, ReviewHarness, add_rows, answer
from tests.unit.services.fakes import FakeWiki

pytestmark = pytest.mark.asyncio

MANAGE_GUILD = str(1 << 5)
UNCACHED_CHANNEL = 1_100_000_000_000_000_040
ODD_CHANNEL = 1_100_000_000_000_000_050


@pytest.fixture
async def review(sqlite_session_factory: Sessions) -> AsyncIterator[ReviewHarness]:
    """The bot with `/rollback-log` and `/rollbot-config`; serves GUILD_ID and GUILD_B."""
    h = await ReviewHarness.start_review(sqlite_session_factory)
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


def wiki_calls(wiki: FakeWiki) -> int:
    return len(wiki.preview_calls) + len(wiki.rollback_calls) + len(wiki.find_calls)


async def count(h: DiscordHarness, table: type[Any]) -> int:
    async with h.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def refused_with(run: Dispatched, text: str) -> None:
    """One ephemeral message answer with exactly `text`, and nothing else sent for it."""
    assert [r.callback_type for r in run.requests] == [CHANNEL_MESSAGE], [
        str(r) for r in run.requests
    ]
    assert run.callback.ephemeral
    assert run.callback.content == text


async def send(h: DiscordHarness, payload: JSON) -> Dispatched:
    dispatched = h.send(payload)
    await h.settle()
    return dispatched


# ---- slash commands --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "text"),
    [(in_guild, NOT_ENABLED_TEXT), (in_dm, NO_SERVER_TEXT)],
    ids=["unlisted-server", "dm"],
)
async def test_rollback_from_elsewhere_is_refused_before_any_row_or_wiki_call(
    harness: DiscordHarness, wiki: FakeWiki, where: Any, text: str
) -> None:
    payload = harness.slash_payload(MOD, page="Main Page", user="Vandal")
    run = await send(harness, where(payload))
    refused_with(run, text)
    assert await harness.rows() == []
    assert wiki_calls(wiki) == 0
    # The same payload from the served server does reach the wiki (the gate made the difference).
    await send(harness, harness.slash_payload(MOD, page="Main Page", user="Vandal"))
    assert wiki_calls(wiki) == 1


async def test_an_outsider_admin_cannot_grant_their_role_and_roll_back(
    review: ReviewHarness,
) -> None:
    """The attack of issue 7, step by step, from the server the bot was invited to."""

    def grant() -> JSON:
        payload = review.command_payload(
            OUTSIDER,
            "rollbot-config",
            ["rollback-roles", "add"],
            {"role": str(OTHER_ROLE_ID)},
            resolved={"roles": {str(OTHER_ROLE_ID): role_payload(OTHER_ROLE_ID, "Wannabe", 1)}},
        )
        payload["member"]["permissions"] = ADMINISTRATOR_PERMISSIONS
        return payload

    run = await send(review, in_guild(grant()))
    refused_with(run, NOT_ENABLED_TEXT)
    assert await count(review, GuildConfig) == 0
    assert await count(review, ConfigChange) == 0

    rollback = review.slash_payload(OUTSIDER, page="Main Page", user="Vandal")
    refused_with(await send(review, in_guild(rollback)), NOT_ENABLED_TEXT)
    assert await review.rows() == []
    assert wiki_calls(review.wiki) == 0
    assert review.log_posts() == []

    # Control: the same grant by an admin of a served server is recorded.
    done = await send(review, grant())
    assert "Rollback roles:" in (done.callback.content or "")
    assert await count(review, ConfigChange) == 1


# ---- buttons -------------------------------------------------------------------------------------


@pytest.mark.parametrize("button", ["confirm", "cancel"])
@pytest.mark.parametrize(
    ("where", "text"),
    [(in_guild, NOT_ENABLED_TEXT), (in_dm, NO_SERVER_TEXT)],
    ids=["unlisted-server", "dm"],
)
async def test_a_forged_prompt_click_from_elsewhere_is_refused(
    harness: DiscordHarness, wiki: FakeWiki, button: str, where: Any, text: str
) -> None:
    prompt = await harness.open_prompt(MOD)
    custom_id = prompt.confirm_id if button == "confirm" else prompt.cancel_id
    assert custom_id == f"rollbot:{button}:{prompt.request_id}"
    click = harness.click_payload(MOD, custom_id, message=prompt.message)

    run = await send(harness, where(click))

    refused_with(run, text)
    row = await harness.row(prompt.request_id)
    assert row.status is RollbackStatus.PENDING
    assert wiki.rollback_calls == []
    assert harness.discord.message(prompt.run.original_message_id) == prompt.message
    # The requester's own click in the served server still works afterwards.
    await harness.click(MOD, custom_id, message=prompt.message)
    expected = RollbackStatus.SUCCEEDED if button == "confirm" else RollbackStatus.CANCELLED
    assert (await harness.row(prompt.request_id)).status is expected


@pytest.mark.parametrize(
    ("where", "text"),
    [(in_guild, NOT_ENABLED_TEXT), (in_dm, NO_SERVER_TEXT)],
    ids=["unlisted-server", "dm"],
)
async def test_a_forged_pager_click_from_elsewhere_is_refused(
    review: ReviewHarness, where: Any, text: str
) -> None:
    await add_rows(review, 15)
    first = answer(await review.run(MOD, "rollback-log search"))
    [next_id] = [c["custom_id"] for r in first["components"] for c in r["components"]][1:]

    run = await send(review, where(review.click_payload(MOD, next_id, message=first)))

    refused_with(run, text)
    assert review.discord.message(int(first["id"])) == first  # the page did not turn
    # Control: the searcher's click in the served server turns it.
    turned = await review.click_as(MOD, next_id, message=first)
    assert turned.callback.callback_type == UPDATE_MESSAGE


# ---- autocomplete ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "typed"),
    [(in_guild, "Main"), (in_dm, "Main"), (lambda p: p, "Main\x00")],
    ids=["unlisted-server", "dm", "nul-in-served-server"],
)
async def test_refused_autocomplete_answers_an_empty_list(
    harness: DiscordHarness, wiki: FakeWiki, where: Any, typed: str
) -> None:
    """Autocomplete cannot carry a message: the refusal is an empty list of choices."""
    payload = harness.autocomplete_payload(MOD, focused="page", page=typed, user="Vandal")
    run = await send(harness, where(payload))
    assert [r.callback_type for r in run.requests] == [AUTOCOMPLETE_RESULT]
    assert run.callback.json["data"] == {"choices": []}
    assert wiki_calls(wiki) == 0


# ---- joining servers -----------------------------------------------------------------------------


async def test_invited_to_an_unlisted_server_the_bot_warns_once_and_leaves(
    harness: DiscordHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.discord_bot")
    await harness.join_other_guild()
    assert harness.discord.left_guilds == [OTHER_GUILD_ID]
    [warning] = [r for r in caplog.records if r.name == "bot.discord_bot"]
    assert str(OTHER_GUILD_ID) in warning.getMessage()
    assert "DISCORD_GUILD_IDS" in warning.getMessage()


async def test_at_start_the_bot_leaves_unlisted_servers_it_is_in(
    sqlite_session_factory: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.discord_bot")
    h = await DiscordHarness.start(sqlite_session_factory, connect=False)
    try:
        await h.connect(also_in_other_guild=True)
        await h.until(lambda: bool(h.discord.left_guilds))
        await h.settle()
        assert h.discord.left_guilds == [OTHER_GUILD_ID]  # never the served one
        assert len([r for r in caplog.records if r.name == "bot.discord_bot"]) == 1
        h.check_invariants()
    finally:
        await h.close()


# ---- command sync --------------------------------------------------------------------------------


async def test_commands_go_to_the_served_servers_only_and_global_ones_are_removed(
    review: ReviewHarness,
) -> None:
    puts = [r for r in review.discord.requests if r.method == "PUT"]
    base = f"/applications/{APP_ID}"
    assert [r.path for r in puts] == [
        f"{base}/guilds/{GUILD_ID}/commands",
        f"{base}/guilds/{GUILD_B}/commands",
        f"{base}/commands",  # last: the served servers never lack the commands meanwhile
    ]
    names = {"rollback", "rollback-log", "rollbot-config", "Roll back this edit"}
    assert {c["name"] for c in puts[0].json} == names
    assert puts[0].json == puts[1].json
    assert puts[2].json == []
    # The guild copies are what dispatch uses: a command in GUILD_B still runs.
    assert (
        "Rollback log"
        in answer(await review.run(MOD, "rollback-log search", guild_id=GUILD_B))["embeds"][0][
            "title"
        ]
    )


# ---- text a database cannot store ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("page", "Main\x00Page"),
        ("user", "Vandal\ud800"),
        ("summary", "\udfffrevert"),
    ],
)
async def test_unstorable_text_in_an_option_is_refused_politely(
    harness: DiscordHarness, wiki: FakeWiki, option: str, value: str
) -> None:
    options = {"page": "Main Page", "user": "Vandal", option: value}
    run = await harness.slash(MOD, **options)
    refused_with(
        run,
        f"Sorry, `{option}` contains characters rollbot cannot store (a NUL character or an "
        "unpaired surrogate). Please remove them and try again.",
    )
    assert await harness.rows() == []
    assert wiki_calls(wiki) == 0


async def test_unstorable_text_in_a_subcommand_option_is_refused(review: ReviewHarness) -> None:
    await add_rows(review, 1)
    run = await review.run(MOD, "rollback-log search", page="Main\x00")
    refused_with(
        run,
        "Sorry, `page` contains characters rollbot cannot store (a NUL character or an "
        "unpaired surrogate). Please remove them and try again.",
    )


# A display name is Discord's word about the member, not input: not refused, stored with U+FFFD.
UNSTORABLE_NAME = Person(MOD.user_id, "Mo\x00d\ud800", MOD.role_ids)


async def test_a_display_name_the_database_cannot_store_is_recorded_with_replacements(
    harness: DiscordHarness, wiki: FakeWiki
) -> None:
    prompt = await harness.open_prompt(UNSTORABLE_NAME)
    await harness.click(UNSTORABLE_NAME, prompt.confirm_id, message=prompt.message)

    row = await harness.row(prompt.request_id)
    assert row.status is RollbackStatus.SUCCEEDED
    assert row.requester_name == "Mo\ufffdd\ufffd"
    assert "Mo\ufffdd\ufffd" in (wiki.rollback_calls[0]["summary"] or "")


async def test_a_settings_change_by_such_a_name_is_recorded(review: ReviewHarness) -> None:
    run = await review.run(
        UNSTORABLE_NAME,
        "rollbot-config rollback-roles add",
        permissions=MANAGE_GUILD,
        role=str(HELPER_ROLE_ID),
        resolved={"roles": {str(HELPER_ROLE_ID): role_payload(HELPER_ROLE_ID, "Helper", 1)}},
    )
    assert run.callback.ephemeral
    async with review.sessions() as session:
        [change] = (await session.execute(select(ConfigChange))).scalars().all()
    assert change.changed_by_name == "Mo\ufffdd\ufffd"


# ---- unusable option values and the log channel --------------------------------------------------


def resolved_channel(channel_id: int, kind: int = 0) -> JSON:
    channel = text_channel_payload(channel_id, "new-log", 3)
    channel["type"] = kind
    channel["permissions"] = "2251799813685247"
    return {"channels": {str(channel_id): channel}}


async def test_a_choice_the_command_does_not_have_gets_a_polite_answer(
    review: ReviewHarness,
) -> None:
    run = await review.run(MOD, "rollbot-config reset", permissions=MANAGE_GUILD, setting="bogus")
    refused_with(run, "Sorry, rollbot could not use the text you gave. Please choose it again.")
    assert await count(review, ConfigChange) == 0


async def test_a_channel_without_resolved_data_gets_a_polite_answer(
    review: ReviewHarness,
) -> None:
    run = await review.run(
        MOD,
        "rollbot-config log-channel",
        permissions=MANAGE_GUILD,
        channel=str(UNCACHED_CHANNEL),
    )
    refused_with(run, "Sorry, rollbot could not use the channel you gave. Please choose it again.")
    assert await count(review, ConfigChange) == 0


async def test_log_channel_accepts_a_channel_the_cache_has_not_seen(
    review: ReviewHarness,
) -> None:
    """Created while the bot was offline: Discord knows it, the bot's cache does not."""
    review.discord.add_channel(text_channel_payload(UNCACHED_CHANNEL, "new-log", 3))
    assert review.bot.get_channel(UNCACHED_CHANNEL) is None
    synced = {c["name"]: c for c in review.discord.synced_commands[GUILD_ID]}
    [log_channel] = [o for o in synced["rollbot-config"]["options"] if o["name"] == "log-channel"]
    [option] = log_channel["options"]
    assert (option["name"], option["type"], option["channel_types"]) == ("channel", 7, [0, 5])

    run = await review.run(
        MOD,
        "rollbot-config log-channel",
        permissions=MANAGE_GUILD,
        resolved=resolved_channel(UNCACHED_CHANNEL),
        channel=str(UNCACHED_CHANNEL),
    )

    assert run.callback.content == (
        f"Log channel: <#{LOG_CHANNEL_ID}> (default) → <#{UNCACHED_CHANNEL}>."
    )
    assert (await review.settings.settings(GUILD_ID)).log_channel_id == UNCACHED_CHANNEL
    [post] = review.discord.channel_posts(UNCACHED_CHANNEL)
    assert post.embed["title"] == "rollbot settings changed"


@pytest.mark.parametrize("other_server", [False, True], ids=["voice-channel", "other-server"])
async def test_log_channel_refuses_a_voice_channel_or_another_servers(
    review: ReviewHarness, *, other_server: bool
) -> None:
    resolved = resolved_channel(ODD_CHANNEL, kind=0 if other_server else 2)
    if other_server:
        resolved["channels"][str(ODD_CHANNEL)]["guild_id"] = str(GUILD_B)
    run = await review.run(
        MOD,
        "rollbot-config log-channel",
        permissions=MANAGE_GUILD,
        resolved=resolved,
        channel=str(ODD_CHANNEL),
    )
    refused_with(run, NOT_A_LOG_CHANNEL_TEXT)
    assert await count(review, ConfigChange) == 0


# ---- every other kind of interaction ------------------------------------------------------------


def _select(payload: JSON) -> JSON:
    payload["type"] = 3
    payload["data"] = {"custom_id": "rollbot:anything", "component_type": 3, "values": ["a"]}
    payload["message"] = {"id": "1", "channel_id": payload["channel_id"], "components": []}
    return payload


def _modal(payload: JSON) -> JSON:
    payload["type"] = 5
    field = {"type": 4, "custom_id": "reason", "value": "because"}
    payload["data"] = {
        "custom_id": "rollbot:modal",
        "components": [{"type": 1, "components": [field]}],
    }
    return payload


def _user_menu(payload: JSON) -> JSON:
    payload["data"] = {"id": "1", "name": "Roll back", "type": 2, "target_id": str(MOD.user_id)}
    return payload


@pytest.mark.parametrize("kind", [_select, _modal, _user_menu], ids=["select", "modal", "menu"])
@pytest.mark.parametrize(
    ("where", "text"),
    [(in_guild, NOT_ENABLED_TEXT), (in_dm, NO_SERVER_TEXT)],
    ids=["unlisted-server", "dm"],
)
async def test_selects_modals_and_context_menus_from_elsewhere_are_refused(
    harness: DiscordHarness, kind: Any, where: Any, text: str
) -> None:
    payload = kind(where(harness.slash_payload(MOD, page="Main Page", user="Vandal")))
    refused_with(await send(harness, payload), text)


async def test_unstorable_text_in_a_modal_field_is_refused(harness: DiscordHarness) -> None:
    payload = _modal(harness.slash_payload(MOD, page="Main Page", user="Vandal"))
    payload["data"]["components"][0]["components"][0]["value"] = "why\x00"
    refused_with(
        await send(harness, payload),
        "Sorry, `reason` contains characters rollbot cannot store (a NUL character or an "
        "unpaired surrogate). Please remove them and try again.",
    )


@pytest.mark.parametrize("button", ["confirm", "cancel"])
async def test_a_click_carried_to_another_served_server_is_refused(
    sqlite_session_factory: Sessions, wiki: FakeWiki, button: str
) -> None:
    """Both servers are served and the member holds a rollback role in the other one: the
    request still belongs to the server it was made in (roles are per server)."""
    harness = await DiscordHarness.start(
        sqlite_session_factory, wiki=wiki, guild_ids=(GUILD_ID, OTHER_GUILD_ID)
    )
    try:
        prompt = await harness.open_prompt(MOD)
        custom_id = prompt.confirm_id if button == "confirm" else prompt.cancel_id
        click = harness.click_payload(MOD, custom_id, message=prompt.message)

        run = await send(harness, in_guild(click))

        refused_with(run, "This request was made in another server; its buttons work only there.")
        assert (await harness.row(prompt.request_id)).status is RollbackStatus.PENDING
        assert wiki.rollback_calls == []
        await harness.settle()
        harness.check_invariants()
    finally:
        await harness.close()
