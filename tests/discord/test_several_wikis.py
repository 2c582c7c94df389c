"""Several wikis through discord.py's real dispatch: which wiki a command acts on, what a server
may not use (whatever the client sends), how embeds name the wiki, an unavailable wiki,
`/rollbot-config wiki`, `/rollback-log` by wiki, and buttons acting on the row's wiki.

The operator's configuration (as `bot.settings.wiki_configs` would build it from `.env`):

- `default` ("Main Wiki") serves GUILD_ID and GUILD_B;
- `second` ("Second Wiki") serves GUILD_ID only;
- `third` ("Third Wiki") serves GUILD_C only.

So GUILD_ID may use two wikis, GUILD_B one (`default`), GUILD_C one (`third`, not `default`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import ConfigChange, RollbackStatus
from bot.exts.guild_config import NOT_ADMIN_TEXT
from bot.services.codes import BotCode
from bot.ui.sites import wiki_refusal
from tests.discord.harness import (
    AUTOCOMPLETE,
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    GUILD_ID,
    JSON,
    LOG_CHANNEL_ID,
    MOD,
    Dispatched,
    Sessions,
    button_custom_ids,
    confirm_id,
    embed_field,
    embed_texts,
    in_guild,
)
from tests.discord.test_history_commands import (
    ADMIN,
    CHANNEL_B,
    GUILD_B,
    ReviewHarness,
    UploadingDiscord,
    add_rows,
    answer,
    ids_on,
)
from tests.unit.services.fakes import FakeWiki

pytestmark = pytest.mark.asyncio

GUILD_C = 1_100_000_000_000_000_950  # a third served server
MANAGE_GUILD = str(1 << 5)
NO_PERMISSIONS = "0"
SITE_NAMES = {"default": "Main Wiki", "second": "Second Wiki", "third": "Third Wiki"}
WIKI_GUILDS: dict[str, frozenset[int] | None] = {
    "default": frozenset({GUILD_ID, GUILD_B}),
    "second": frozenset({GUILD_ID}),
    "third": frozenset({GUILD_C}),
}


def home(key: str) -> str:
    """The wiki's main page, as the harness gives each named site."""
    return f"https://{key}.example/w/index.php?title=Main_Page"


class WikisHarness(ReviewHarness):
    """The review harness (`run`, uploads) built through `DiscordHarness.start(wikis=...)`."""

    @classmethod
    async def start_wikis(
        cls,
        sessions: Sessions,
        *,
        wiki_guilds: Mapping[str, frozenset[int] | None] = WIKI_GUILDS,
        site_names: Mapping[str, str] = SITE_NAMES,
    ) -> WikisHarness:
        fakes = {key: FakeWiki(api_url=f"https://{key}.example/w/api.php") for key in wiki_guilds}
        api = UploadingDiscord(
            wiki_calls=lambda: sum(calls(fake) for fake in fakes.values()),
        )
        h = await cls.start(
            sessions,
            wikis=fakes,
            wiki_guilds=wiki_guilds,
            site_names=site_names,
            discord_api=api,
            guild_ids=(GUILD_ID, GUILD_B, GUILD_C),
        )
        assert isinstance(h, WikisHarness)
        assert h.guild_settings is not None
        assert h.history_service is not None
        h.settings = h.guild_settings
        h.history = h.history_service
        return h

    def payload(self, path: str, options: dict[str, Any], *, guild_id: int = GUILD_ID) -> JSON:
        """`MOD`'s `/path options…` in `guild_id` (a top-level command or a subcommand)."""
        command, *rest = path.split()
        if rest:
            return self.command_payload(MOD, command, rest, options, guild_id=guild_id)
        payload = self.slash_payload(MOD, command, **options)
        return payload if guild_id == GUILD_ID else in_guild(payload, guild_id, CHANNEL_B)

    async def autocomplete(
        self, path: str, typed: str, *, guild_id: int = GUILD_ID, **options: Any
    ) -> Dispatched:
        """`MOD` typing `typed` into the `wiki` option of `path` (other options as given)."""
        payload = self.payload(path, {**options, "wiki": typed}, guild_id=guild_id)
        payload["type"] = AUTOCOMPLETE
        leaf: list[JSON] = payload["data"]["options"]
        while leaf and "options" in leaf[0]:
            leaf = leaf[0]["options"]
        for option in leaf:
            option["focused"] = option["name"] == "wiki"
        dispatched = self.send(payload)
        await self.settle()
        return dispatched


def calls(fake: FakeWiki) -> int:
    return len(fake.preview_calls) + len(fake.rollback_calls) + len(fake.find_calls)


def choices(run: Dispatched) -> list[tuple[str, str]]:
    assert run.callback.callback_type == AUTOCOMPLETE_RESULT
    return [(c["name"], c["value"]) for c in run.callback.json["data"]["choices"]]


async def changes(h: WikisHarness) -> list[ConfigChange]:
    async with h.sessions() as session:
        by_id = ConfigChange.id
        result = await session.execute(select(ConfigChange).order_by(by_id))  # type: ignore[arg-type]
        return list(result.scalars())


async def started(h: WikisHarness) -> AsyncIterator[WikisHarness]:
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


@pytest.fixture
async def several(session_factory: Sessions) -> AsyncIterator[WikisHarness]:
    """The configuration of the module doc, on SQLite and on PostgreSQL."""
    async for h in started(await WikisHarness.start_wikis(session_factory)):
        yield h


async def rollback(h: WikisHarness, *, guild_id: int = GUILD_ID, **options: Any) -> Dispatched:
    """`/rollback page:Main Page user:Vandal options…` by MOD in `guild_id`."""
    options = {"page": "Main Page", "user": "Vandal", **options}
    dispatched = h.send(h.payload("rollback", options, guild_id=guild_id))
    await h.settle()
    return dispatched


def request_id_of(run: Dispatched) -> int:
    ids = button_custom_ids(run.original_message["components"])
    assert ids, f"no prompt: {[str(r) for r in run.requests]}"
    return int(ids[0].rsplit(":", 1)[1])


async def confirm(h: WikisHarness, run: Dispatched, *, guild_id: int = GUILD_ID) -> Dispatched:
    request_id = request_id_of(run)
    return await h.click_as(
        MOD, confirm_id(request_id), message=run.original_message, guild_id=guild_id
    )


# ---- /rollback acts on the wiki asked for, else the server's default -----------------------------


async def test_wiki_option_sends_the_whole_request_to_that_wiki(several: WikisHarness) -> None:
    second, default = several.wikis["second"], several.wikis["default"]
    run = await rollback(several, wiki="second")
    assert run.callback.callback_type == DEFERRED_CHANNEL_MESSAGE
    preview = run.original_message["embeds"][0]
    assert "https://second.example/w/index.php?title=Main_Page" in preview["description"]

    click = await confirm(several, run)
    assert click.requests[-1].embed["title"] == "Rolled back"
    assert second.preview_calls == [("Main Page", "Vandal"), ("Main Page", "Vandal")]
    assert [c["title"] for c in second.rollback_calls] == ["Main Page"]
    assert calls(default) == 0
    (row,) = await several.rows()
    assert (row.wiki, row.status, row.wiki_api_url) == (
        "second",
        RollbackStatus.SUCCEEDED,
        "https://second.example/w/api.php",
    )


async def test_without_the_option_the_servers_default_then_the_admins_choice(
    several: WikisHarness,
) -> None:
    second, default = several.wikis["second"], several.wikis["default"]
    await rollback(several)
    assert (len(default.preview_calls), calls(second)) == (1, 0)

    chosen = await several.run(MOD, "rollbot-config wiki", permissions=MANAGE_GUILD, wiki="second")
    assert chosen.callback.content == "Default wiki: `default` (default) → `second`."
    await rollback(several)
    assert (len(default.preview_calls), len(second.preview_calls)) == (1, 1)
    assert [row.wiki for row in await several.rows()] == ["default", "second"]


async def test_a_server_without_default_among_its_wikis_uses_its_own(
    several: WikisHarness,
) -> None:
    """GUILD_C may use `third` only: its requests never reach the `.env` default wiki."""
    run = await rollback(several, guild_id=GUILD_C)
    assert request_id_of(run)
    assert (calls(several.wikis["default"]), len(several.wikis["third"].preview_calls)) == (0, 1)
    assert [row.wiki for row in await several.rows()] == ["third"]


async def test_a_key_in_upper_case_or_padded_means_that_key(several: WikisHarness) -> None:
    """Keys are lower-case: `SECOND` or ` second ` can only mean `second` (an allowed wiki)."""
    await rollback(several, wiki=" SECOND ")
    assert len(several.wikis["second"].preview_calls) == 1
    assert [row.wiki for row in await several.rows()] == ["second"]


# ---- a wiki the server may not use ---------------------------------------------------------------


def assert_wiki_refused(description: str) -> None:
    """Which wiki was refused (as sent), then the general sentence."""
    named, sentence = description.split("\n")
    assert named.startswith("This server may not use the wiki ")
    assert sentence == BotCode.WIKINOTALLOWED.sentence


FORGED = [
    pytest.param("third", id="configured-for-another-server"),
    pytest.param("THIRD", id="upper-case-of-another-servers-wiki"),
    pytest.param("nowiki", id="nonexistent"),
    pytest.param("second" * 40, id="overlong"),
    pytest.param("Second Wiki", id="site-name-not-key"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="whitespace"),
    pytest.param("@everyone <@&1>", id="mentions"),
]


@pytest.mark.parametrize("forged", FORGED)
async def test_rollback_on_a_wiki_the_server_may_not_use_is_refused_and_recorded(
    several: WikisHarness, forged: str
) -> None:
    run = await rollback(several, wiki=forged)
    assert run.callback.ephemeral
    shown = run.original_message["embeds"][0]
    assert shown["title"] == "Rollback not possible"
    assert_wiki_refused(shown["description"])
    assert not button_custom_ids(run.original_message["components"])
    assert sum(calls(fake) for fake in several.wikis.values()) == 0
    (row,) = await several.rows()
    assert (row.status, row.error_code) == (RollbackStatus.DENIED, BotCode.WIKINOTALLOWED)
    assert row.wiki == forged.strip().lower()[:32]
    (post,) = several.log_posts()
    assert post.embed["title"] == "Denied: Main Page"
    assert "may not use the wiki" in embed_field(post.embed, "Reason")


async def test_a_wiki_allowed_elsewhere_is_refused_in_a_one_wiki_server(
    several: WikisHarness,
) -> None:
    run = await rollback(several, guild_id=GUILD_B, wiki="second")
    assert_wiki_refused(run.original_message["embeds"][0]["description"])
    assert calls(several.wikis["second"]) == 0


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("rollback-log search", {}),
        ("rollback-log export", {}),
        ("rollback-log stats", {}),
        ("rollbot-config wiki", {}),
    ],
)
@pytest.mark.parametrize("forged", FORGED)
async def test_other_commands_refuse_a_wiki_the_server_may_not_use(
    several: WikisHarness, path: str, options: dict[str, Any], forged: str
) -> None:
    await add_rows(several, 1, wiki="third", guild_id=GUILD_ID)
    run = await several.run(MOD, path, permissions=MANAGE_GUILD, wiki=forged, **options)
    assert run.callback.callback_type == CHANNEL_MESSAGE
    assert run.callback.ephemeral
    assert run.callback.content == wiki_refusal(forged)
    assert "@everyone" not in (run.callback.content or "").replace("\\@everyone", "")
    assert several.uploads == []
    assert await changes(several) == []
    assert several.log_posts() == []
    assert await several.settings.default_wiki(GUILD_ID) == "default"


# ---- autocomplete --------------------------------------------------------------------------------

COMMANDS_WITH_WIKI = [
    ("rollback", {"page": "Main Page", "user": "Vandal"}),
    ("rollback-log search", {}),
    ("rollback-log export", {}),
    ("rollback-log stats", {}),
    ("rollbot-config wiki", {}),
]


@pytest.mark.parametrize(("path", "options"), COMMANDS_WITH_WIKI)
async def test_autocomplete_lists_the_servers_wikis_filtered_by_what_was_typed(
    several: WikisHarness, path: str, options: dict[str, Any]
) -> None:
    assert choices(await several.autocomplete(path, "", **options)) == [
        ("default — Main Wiki", "default"),
        ("second — Second Wiki", "second"),
    ]
    assert choices(await several.autocomplete(path, "SEC", **options)) == [
        ("second — Second Wiki", "second")
    ]
    # The site name matches too.
    assert choices(await several.autocomplete(path, "main", **options)) == [
        ("default — Main Wiki", "default")
    ]
    assert choices(await several.autocomplete(path, "third", **options)) == []
    assert choices(await several.autocomplete(path, "", guild_id=GUILD_C, **options)) == [
        ("third — Third Wiki", "third")
    ]
    assert sum(calls(fake) for fake in several.wikis.values()) == 0


@pytest.mark.parametrize(("path", "options"), COMMANDS_WITH_WIKI)
async def test_autocomplete_from_an_unserved_server_gets_nothing(
    several: WikisHarness, path: str, options: dict[str, Any]
) -> None:
    payload = several.payload(path, {**options, "wiki": ""})
    payload["type"] = AUTOCOMPLETE
    run = several.send(in_guild(payload))
    await several.settle()
    assert choices(run) == []


async def test_autocomplete_offers_at_most_25_wikis(session_factory: Sessions) -> None:
    keys = [f"w{i:02d}" for i in range(30)]
    names = {key: f"Wiki {key[1:]}" for key in keys}
    async for h in started(
        await WikisHarness.start_wikis(
            session_factory, wiki_guilds=dict.fromkeys(keys), site_names=names
        )
    ):
        offered = choices(await h.autocomplete("rollback", "", page="P", user="U"))
        assert offered == [(f"{key} — {names[key]}", key) for key in keys[:25]]
        assert [v for _, v in choices(await h.autocomplete("rollback", "w2"))] == keys[20:30]


# ---- embeds name the wiki where a server can use several ----------------------------------------


async def test_preview_result_and_log_name_the_wiki_on_a_several_wiki_server(
    several: WikisHarness,
) -> None:
    run = await rollback(several, wiki="second")
    click = await confirm(several, run)
    (log_post,) = several.log_posts()
    for embed in (run.original_message["embeds"][0], click.requests[-1].embed, log_post.embed):
        wiki = embed_field(embed, "Wiki")
        assert "Second Wiki" in wiki
        assert f"({home('second')})" in wiki or f"(<{home('second')}>)" in wiki
        assert "default.example" not in " ".join(embed_texts(embed))


async def test_a_one_wiki_server_is_not_told_which_wiki(session_factory: Sessions) -> None:
    """GUILD_ID may use `default` only here (`second` serves GUILD_B)."""
    one_wiki = {"default": frozenset({GUILD_ID, GUILD_B}), "second": frozenset({GUILD_B})}
    async for h in started(await WikisHarness.start_wikis(session_factory, wiki_guilds=one_wiki)):
        run = await rollback(h)
        click = await confirm(h, run)
        assert click.requests[-1].embed["title"] == "Rolled back"
        (log_post,) = h.log_posts()
        for embed in (run.original_message["embeds"][0], click.requests[-1].embed, log_post.embed):
            assert "Wiki" not in [f["name"] for f in embed.get("fields", [])]
            assert "Main Wiki" not in str(embed)
        # Its autocomplete offers its one wiki; the other is still refused.
        assert choices(await h.autocomplete("rollback", "")) == [("default — Main Wiki", "default")]
        refused = await rollback(h, wiki="second")
        assert_wiki_refused(refused.original_message["embeds"][0]["description"])
        assert calls(h.wikis["second"]) == 0


# ---- an unavailable wiki -------------------------------------------------------------------------


async def test_an_unavailable_wiki_says_so_and_the_other_works(several: WikisHarness) -> None:
    second, default = several.wikis["second"], several.wikis["default"]
    second.unavailable = "the wiki refused the bot's login"
    run = await rollback(several, wiki="second")
    shown = run.original_message["embeds"][0]
    assert run.callback.ephemeral
    assert "wiki second is unavailable" in " ".join(embed_texts(shown))
    assert calls(second) == 0
    (row,) = await several.rows()
    assert (row.status, row.error_code, row.wiki) == (
        RollbackStatus.FAILED,
        BotCode.WIKIUNAVAILABLE,
        "second",
    )

    other = await rollback(several, wiki="default")
    click = await confirm(several, other)
    assert click.requests[-1].embed["title"] == "Rolled back"
    assert len(default.rollback_calls) == 1


async def test_a_servers_default_wiki_unavailable_says_which(several: WikisHarness) -> None:
    await several.settings.set_default_wiki(GUILD_ID, "second", by=ADMIN)
    several.wikis["second"].unavailable = "the wiki could not be reached"
    run = await rollback(several)
    assert "wiki second is unavailable" in " ".join(embed_texts(run.original_message["embeds"][0]))


# ---- /rollbot-config wiki -------------------------------------------------------------------


async def test_admin_sets_the_default_wiki_recorded_posted_shown_and_reset(
    several: WikisHarness,
) -> None:
    shown = await several.run(MOD, "rollbot-config show", permissions=MANAGE_GUILD)
    embed = shown.callback.embed
    assert embed_field(embed, "Default wiki") == "`default` (default)"
    assert embed_field(embed, "Wikis this server may use (set by the bot's operator)") == (
        "`default`, `second`"
    )

    run = await several.run(MOD, "rollbot-config wiki", permissions=MANAGE_GUILD, wiki="second")
    assert run.callback.ephemeral
    (change,) = await changes(several)
    assert (change.guild_id, change.setting, change.changed_by_id) == (
        GUILD_ID,
        "wiki",
        MOD.user_id,
    )
    assert (change.old_value, change.new_value) == ("`default` (default)", "`second`")
    (post,) = several.discord.channel_posts(LOG_CHANNEL_ID)
    assert "`second`" in str(post.embed)
    shown = await several.run(MOD, "rollbot-config show", permissions=MANAGE_GUILD)
    assert embed_field(shown.callback.embed, "Default wiki") == "`second`"

    reset = await several.run(MOD, "rollbot-config reset", permissions=MANAGE_GUILD, setting="wiki")
    assert reset.callback.content == "Default wiki: `second` → `default` (default)."
    assert [c.new_value for c in await changes(several)] == ["`second`", "`default` (default)"]
    assert await several.settings.default_wiki(GUILD_ID) == "default"
    await rollback(several)
    assert [row.wiki for row in await several.rows()] == ["default"]


async def test_setting_the_default_wiki_needs_manage_server(several: WikisHarness) -> None:
    run = await several.run(MOD, "rollbot-config wiki", permissions=NO_PERMISSIONS, wiki="second")
    assert run.callback.content == NOT_ADMIN_TEXT
    assert await changes(several) == []
    assert several.log_posts() == []
    assert await several.settings.default_wiki(GUILD_ID) == "default"


# ---- /rollback-log by wiki -----------------------------------------------------------------------


async def test_search_export_and_stats_filter_by_wiki(several: WikisHarness) -> None:
    main_ids = await add_rows(several, 2, wiki="default")
    second_ids = await add_rows(
        several, 3, wiki="second", wiki_api_url="https://second.example/w/api.php"
    )
    await add_rows(several, 1, wiki="default", guild_id=GUILD_B)

    search = answer(await several.run(MOD, "rollback-log search", wiki="second"))
    assert ids_on(search) == second_ids[::-1]
    assert "second.example" in search["embeds"][0]["description"]
    assert "default.example" not in search["embeds"][0]["description"]
    # Without `wiki`: the server's default wiki, as for /rollback (the rule), and the
    # reply says which.
    unfiltered = answer(await several.run(MOD, "rollback-log search"))
    assert sorted(ids_on(unfiltered)) == sorted(main_ids)
    assert "wiki **default**" in unfiltered["content"] + str(unfiltered["embeds"])
    await several.run(MOD, "rollbot-config wiki", permissions=MANAGE_GUILD, wiki="second")
    unfiltered = answer(await several.run(MOD, "rollback-log search"))
    assert sorted(ids_on(unfiltered)) == sorted(second_ids)
    await several.run(MOD, "rollbot-config reset", permissions=MANAGE_GUILD, setting="wiki")

    await several.run(MOD, "rollback-log export", wiki="second")
    await several.run(MOD, "rollback-log export")
    (_, filtered), (_, whole) = several.uploads
    rows = list(csv.DictReader(io.StringIO(filtered.decode("utf-8-sig"))))
    assert {(int(r["id"]), r["wiki"]) for r in rows} == {(i, "second") for i in second_ids}
    rows = list(csv.DictReader(io.StringIO(whole.decode("utf-8-sig"))))
    assert {(int(r["id"]), r["wiki"]) for r in rows} == {(i, "default") for i in main_ids}

    for key, count in (("second", 3), ("default", 2)):
        stats = answer(await several.run(MOD, "rollback-log stats", wiki=key))
        assert stats["embeds"][0]["title"] == f"Rollback log statistics ({count} requests)"
    stats = answer(await several.run(MOD, "rollback-log stats"))
    assert stats["embeds"][0]["title"] == "Rollback log statistics (2 requests)"
    assert stats["embeds"][0]["description"].startswith("[Main Wiki")  # which wiki it counts


async def test_stats_of_a_server_link_to_its_own_wiki(several: WikisHarness) -> None:
    """GUILD_C's rows are all on `third`: its statistics must not link to the `.env` default."""
    await add_rows(several, 2, wiki="third", guild_id=GUILD_C, page_title="Third Page")
    stats = answer(await several.run(MOD, "rollback-log stats", guild_id=GUILD_C))
    pages = embed_field(stats["embeds"][0], "Most reverted pages")
    assert "https://third.example/w/index.php?title=Third_Page" in pages


# ---- buttons act on the row's wiki ---------------------------------------------------------------


async def test_confirm_acts_on_the_requests_wiki_after_the_default_changed(
    several: WikisHarness,
) -> None:
    second, default = several.wikis["second"], several.wikis["default"]
    await several.run(MOD, "rollbot-config wiki", permissions=MANAGE_GUILD, wiki="second")
    run = await rollback(several)  # on `second`, the default now
    await several.run(MOD, "rollbot-config reset", permissions=MANAGE_GUILD, setting="wiki")
    assert await several.settings.default_wiki(GUILD_ID) == "default"

    click = await confirm(several, run)
    result = click.requests[-1].embed
    assert result["title"] == "Rolled back"
    assert "second.example" in result["description"]
    assert (len(second.rollback_calls), calls(default)) == (1, 0)
    (row,) = await several.rows()
    assert (row.wiki, row.status) == ("second", RollbackStatus.SUCCEEDED)
