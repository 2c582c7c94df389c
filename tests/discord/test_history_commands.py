"""`/rollback-log` through discord.py's real objects: permissions, search pages and the pager,
show, export attachments, stats, bad input, and two guilds with their own settings.

`ReviewHarness` is the shared `DiscordHarness` with the review features switched on: the bot
gets a `GuildSettingsService` (also the workflow's `RolePolicy`) and a `HistoryService`, and
Discord accepts file uploads (multipart), which the plain harness does not model.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from bot.discord_bot import RollBot
from bot.exts.history import NOT_ALLOWED_TEXT
from bot.services.guild_settings import Editor, GuildDefaults, GuildSettingsService, Setting
from bot.services.history import HistoryService
from bot.services.rollback import RollbackService
from tests.discord.harness import (
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    CONFIRM_TIMEOUT,
    DEFERRED_CHANNEL_MESSAGE,
    EPHEMERAL,
    GUILD_ID,
    HELPER_ROLE_ID,
    JSON,
    LOG_CHANNEL_ID,
    MOD,
    MOD_ROLE_ID,
    NOBODY,
    OTHER_MOD,
    UPDATE_MESSAGE,
    DiscordHarness,
    Dispatched,
    FakeDiscord,
    Person,
    Sessions,
    _Pending,
    buttons,
    embed_field,
    text_channel_payload,
)
from tests.unit.services.fakes import Clock, FakeWiki

pytestmark = pytest.mark.asyncio

GUILD_B = 1_100_000_000_000_000_900
CHANNEL_B = 1_100_000_000_000_000_910
ADMIN = Editor(1, "Admin")


class UploadingDiscord(FakeDiscord):
    """FakeDiscord that also takes multipart requests (messages with attachments)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uploads: list[tuple[str, bytes]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> _Pending:
        data = kwargs.get("data")
        if isinstance(data, aiohttp.FormData):
            payload_json = None
            for options, _headers, value in data._fields:
                if options["name"] == "payload_json":
                    payload_json = value
                else:
                    self.uploads.append((str(options["filename"]), value.read()))
            kwargs["data"] = payload_json
        return super().request(method, url, **kwargs)


class ReviewHarness(DiscordHarness):
    settings: GuildSettingsService
    history: HistoryService

    @classmethod
    async def start_review(
        cls,
        sessions: Sessions,
        *,
        wiki: FakeWiki | None = None,
        defaults: GuildDefaults | None = None,
        export_max_bytes: int = 8 * 1024 * 1024,
        discord_api: UploadingDiscord | None = None,
        clock: Clock | None = None,
    ) -> ReviewHarness:
        """`discord_api`: an earlier harness's Discord, to simulate a restart (the new process
        talks to the same Discord, which still has the old messages)."""
        wiki = wiki if wiki is not None else FakeWiki()
        clock = clock if clock is not None else Clock()
        settings = GuildSettingsService(
            sessions=sessions,
            defaults=defaults
            or GuildDefaults(
                log_channel_id=LOG_CHANNEL_ID, rollback_role_ids=frozenset({MOD_ROLE_ID})
            ),
        )
        service = RollbackService(
            wiki=wiki,
            sessions=sessions,
            roles=settings,
            confirm_timeout=CONFIRM_TIMEOUT,
            clock=clock,
        )
        api = discord_api if discord_api is not None else UploadingDiscord()
        api.add_channel(text_channel_payload(CHANNEL_ID, "moderators", 0))
        api.add_channel(text_channel_payload(LOG_CHANNEL_ID, "rollback-log", 1))
        history = HistoryService(sessions=sessions, clock=clock)
        bot = RollBot(
            service=service,
            sessions=sessions,
            links=wiki,
            guild_ids=[GUILD_ID, GUILD_B],  # B: a second served server
            guild_settings=settings,
            history=history,
            export_max_bytes=export_max_bytes,
            sweep_seconds=3600,
            log_sweep_seconds=3600,
        )
        h = cls(
            bot=bot, service=service, wiki=wiki, clock=clock, discord_api=api, sessions=sessions
        )
        h.settings = settings
        h.history = history
        await h._login()
        await h.connect()
        return h

    @property
    def uploads(self) -> list[tuple[str, bytes]]:
        assert isinstance(self.discord, UploadingDiscord)
        return self.discord.uploads

    def command_payload(
        self,
        person: Person,
        command: str,
        path: Iterable[str],
        options: dict[str, Any],
        *,
        guild_id: int = GUILD_ID,
        resolved: JSON | None = None,
    ) -> JSON:
        """An APPLICATION_COMMAND for `/command path… options…` as Discord sends it."""
        synced = {c["name"]: c for c in self.discord.synced_commands.get(GUILD_ID, [])}
        assert command in synced, f"/{command} not synced: {list(synced)}"
        spec = synced[command]
        node: list[JSON] = spec.get("options", [])
        names = list(path)
        for name in names:
            node = next(o for o in node if o["name"] == name).get("options", [])
        types = {o["name"]: o["type"] for o in node}
        leaf: list[JSON] = [
            {"name": key, "type": types[key], "value": value}
            for key, value in options.items()
            if value is not None
        ]
        for name, kind in reversed(list(zip(names, [2] * (len(names) - 1) + [1], strict=True))):
            leaf = [{"name": name, "type": kind, "options": leaf}]
        payload = self._interaction_payload(person, 2)
        payload["data"] = {
            "id": spec["id"],
            "name": command,
            "type": 1,
            "guild_id": str(GUILD_ID),
            "options": leaf,
        }
        if resolved:
            payload["data"]["resolved"] = resolved
        if guild_id != GUILD_ID:
            _move_to_guild(payload, guild_id)
        return payload

    async def run(
        self,
        person: Person,
        path: str,
        *,
        guild_id: int = GUILD_ID,
        resolved: JSON | None = None,
        permissions: str | None = None,
        **options: Any,
    ) -> Dispatched:
        """E.g. `run(MOD, "rollback-log search", user="Vandal")`."""
        command, *rest = path.split()
        payload = self.command_payload(
            person, command, rest, options, guild_id=guild_id, resolved=resolved
        )
        if permissions is not None:
            payload["member"]["permissions"] = permissions
        dispatched = self.send(payload)
        await self.settle()
        return dispatched

    async def click_as(
        self, person: Person, custom_id: str, *, message: JSON, guild_id: int = GUILD_ID
    ) -> Dispatched:
        payload = self.click_payload(person, custom_id, message=message)
        if guild_id != GUILD_ID:
            _move_to_guild(payload, guild_id)
        dispatched = self.send(payload)
        await self.settle()
        return dispatched


def _move_to_guild(payload: JSON, guild_id: int) -> None:
    """The same interaction, from another server (one the bot has not cached)."""
    payload["guild_id"] = str(guild_id)
    payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
    channel = dict(payload["channel"])
    channel["guild_id"] = str(guild_id)
    channel["id"] = str(CHANNEL_B)
    payload["channel"] = channel
    payload["channel_id"] = str(CHANNEL_B)
    if "data" in payload and "guild_id" in payload["data"]:
        payload["data"]["guild_id"] = str(guild_id)


def user_resolved(person: Person) -> JSON:
    member = person.member_payload()
    member.pop("user")
    return {
        "users": {str(person.user_id): person.user_payload()},
        "members": {str(person.user_id): member},
    }


@pytest.fixture
async def review(sqlite_session_factory: Sessions) -> AsyncIterator[ReviewHarness]:
    h = await ReviewHarness.start_review(sqlite_session_factory)
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


async def add_rows(h: DiscordHarness, count: int, **overrides: Any) -> list[int]:
    """`count` finished requests, oldest first, one minute apart (ending now)."""
    now = utcnow()
    rows = []
    for i in range(count):
        when = now - timedelta(minutes=count - i)
        fields: dict[str, Any] = {
            "guild_id": GUILD_ID,
            "channel_id": CHANNEL_ID,
            "requester_id": MOD.user_id,
            "requester_name": MOD.name,
            "wiki_api_url": "https://wiki.example/w/api.php",
            "page_title": f"Page {i}",
            "target_user": "Vandal",
            "status": RollbackStatus.SUCCEEDED,
            "created_at": when,
            "updated_at": when,
            "edits_to_revert": 2,
            "revid": 1000 + i,
            "old_revid": 900 + i,
        }
        fields.update(overrides)
        rows.append(RollbackRequest(**fields))
    async with h.sessions.begin() as session:
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows if row.id is not None]


def answer(run: Dispatched) -> JSON:
    """What the member finally sees: the callback message, or the edited deferred reply."""
    message = run.original_message
    assert int(message["flags"]) & EPHEMERAL, "every /rollback-log answer is ephemeral"
    return message


def ids_on(message: JSON) -> list[int]:
    description = message["embeds"][0]["description"]
    return [int(part.split("`")[0]) for part in description.split("`#")[1:]]


# ---- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("rollback-log search", {}),
        ("rollback-log show", {"id": 1}),
        ("rollback-log export", {}),
        ("rollback-log stats", {}),
    ],
)
async def test_every_subcommand_refuses_members_without_a_role(
    review: ReviewHarness, path: str, options: dict[str, Any]
) -> None:
    await add_rows(review, 1)
    run = await review.run(NOBODY, path, **options)
    assert run.callback.callback_type == CHANNEL_MESSAGE
    assert run.callback.ephemeral
    assert run.callback.content == NOT_ALLOWED_TEXT
    assert review.uploads == []


@pytest.mark.parametrize("path", ["rollback-log search", "rollback-log stats"])
async def test_log_viewer_roles_may_read_without_rollback_rights(
    review: ReviewHarness, path: str
) -> None:
    await review.settings.add_role(GUILD_ID, Setting.VIEWER_ROLES, HELPER_ROLE_ID, by=ADMIN)
    run = await review.run(NOBODY, path)
    assert run.callback.callback_type == DEFERRED_CHANNEL_MESSAGE
    assert answer(run)["embeds"]
    # ...but a viewer role does not let them roll back.
    rollback = await review.slash(NOBODY, page="Main Page", user="Vandal")
    assert "you need one of these roles" in (rollback.callback.content or "")


async def test_env_log_viewer_roles_apply_without_guild_settings(
    sqlite_session_factory: Sessions,
) -> None:
    defaults = GuildDefaults(
        log_channel_id=LOG_CHANNEL_ID,
        rollback_role_ids=frozenset({MOD_ROLE_ID}),
        log_viewer_role_ids=frozenset({HELPER_ROLE_ID}),
    )
    h = await ReviewHarness.start_review(sqlite_session_factory, defaults=defaults)
    try:
        run = await h.run(NOBODY, "rollback-log search")
        assert run.callback.callback_type == DEFERRED_CHANNEL_MESSAGE
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


# ---- search and the pager ------------------------------------------------------------------------


async def test_search_empty(review: ReviewHarness) -> None:
    message = answer(await review.run(MOD, "rollback-log search"))
    embed = message["embeds"][0]
    assert embed["title"] == "Rollback log: 0 matching"
    assert "No request matches." in embed["description"]
    assert _disabled(message) == {"Prev": True, "Next": True}


def _disabled(message: JSON) -> dict[str, bool]:
    return {
        c["label"]: bool(c.get("disabled"))
        for row in message["components"]
        for c in row["components"]
    }


async def test_exactly_ten_is_one_page(review: ReviewHarness) -> None:
    ids = await add_rows(review, 10)
    message = answer(await review.run(MOD, "rollback-log search"))
    assert ids_on(message) == ids[::-1]
    assert message["embeds"][0]["title"] == "Rollback log: 10 matching"
    assert _disabled(message) == {"Prev": True, "Next": True}


async def test_next_and_prev_walk_the_pages_and_rows_added_meanwhile_do_not_shift_them(
    review: ReviewHarness,
) -> None:
    ids = await add_rows(review, 25)
    run = await review.run(MOD, "rollback-log search", user="vandal")
    first = answer(run)
    assert ids_on(first) == ids[:14:-1]
    assert first["embeds"][0]["title"] == "Rollback log: 25 matching"
    assert _disabled(first) == {"Prev": True, "Next": False}

    await add_rows(review, 3)  # new requests arrive while reading
    click = await review.click_as(MOD, _button_id(first, "Next"), message=first)
    assert click.callback.callback_type == UPDATE_MESSAGE
    second = review.discord.message(int(first["id"]))
    assert ids_on(second) == ids[14:4:-1]
    assert "Page 2" in second["embeds"][0]["footer"]["text"]
    # The total was counted when the search was made, and is not counted again.
    assert second["embeds"][0]["title"] == "Rollback log: 25 matching"

    await review.click_as(MOD, _button_id(second, "Next"), message=second)
    third = review.discord.message(int(first["id"]))
    assert ids_on(third) == ids[4::-1]
    assert "Page 3" in third["embeds"][0]["footer"]["text"]
    assert _disabled(third) == {"Prev": False, "Next": True}  # the last page

    await review.click_as(MOD, _button_id(third, "Prev"), message=third)
    back = review.discord.message(int(first["id"]))
    assert ids_on(back) == ids[14:4:-1]
    assert "Page 2" in back["embeds"][0]["footer"]["text"]
    assert [label for label, _ in _buttons(back)] == ["Prev", "Next"]


def _buttons(message: JSON) -> list[tuple[str | None, str]]:
    return buttons(message["components"])


def _button_id(message: JSON, label: str) -> str:
    for name, custom_id in _buttons(message):
        if name == label:
            return custom_id
    raise KeyError(label)


async def test_only_the_searcher_may_turn_pages(review: ReviewHarness) -> None:
    await add_rows(review, 15)
    first = answer(await review.run(MOD, "rollback-log search"))
    click = await review.click_as(OTHER_MOD, _button_id(first, "Next"), message=first)
    assert click.callback.callback_type == CHANNEL_MESSAGE
    assert click.callback.ephemeral
    assert "someone else's search" in (click.callback.content or "")
    assert ids_on(review.discord.message(int(first["id"]))) == ids_on(first)


async def test_a_searcher_who_lost_the_role_cannot_turn_pages(review: ReviewHarness) -> None:
    await add_rows(review, 15)
    first = answer(await review.run(MOD, "rollback-log search"))
    click = await review.click_as(MOD.without_roles(), _button_id(first, "Next"), message=first)
    assert click.callback.content == NOT_ALLOWED_TEXT


async def test_filters_reach_the_query(review: ReviewHarness) -> None:
    kept = await add_rows(review, 2, target_user="Some vandal", status=RollbackStatus.FAILED)
    await add_rows(review, 2, target_user="Some vandal")
    await add_rows(review, 2, requester_id=OTHER_MOD.user_id, status=RollbackStatus.FAILED)
    run = await review.run(
        MOD,
        "rollback-log search",
        resolved=user_resolved(MOD),
        user="some_vandal",
        moderator=str(MOD.user_id),
        status="failed",
        since="1d",
    )
    message = answer(run)
    assert ids_on(message) == kept[::-1]
    assert "user **Some vandal**" in message["embeds"][0]["description"]
    assert f"moderator <@{MOD.user_id}>" in message["embeds"][0]["description"]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("since", "last tuesday", "`since`: I can't read 'last tuesday' as a time."),
        ("until", "2026-02-30", "`until`: I can't read '2026-02-30' as a time."),
        ("user", "Bad|Name", "`user`: User names cannot contain"),
    ],
)
async def test_bad_options_get_a_clear_ephemeral_message(
    review: ReviewHarness, option: str, value: str, expected: str
) -> None:
    run = await review.run(MOD, "rollback-log search", **{option: value})
    assert run.callback.callback_type == CHANNEL_MESSAGE
    assert run.callback.ephemeral
    assert expected in (run.callback.content or "")


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("rollback-log search", {"until": "@everyone <@&1100000000000000101>"}),
        ("rollback-log stats", {"since": "@here"}),
    ],
)
async def test_an_unreadable_option_is_quoted_back_with_its_mentions_defused(
    review: ReviewHarness, command: str, options: dict[str, str]
) -> None:
    run = await review.run(MOD, command, **options)
    content = run.callback.content or ""
    assert "I can't read" in content
    assert "@everyone" not in content
    assert "@here" not in content
    assert "<@&1100000000000000101>" not in content
    assert run.callback.allowed_mentions == {"parse": []}


async def test_a_name_that_normalisation_lengthens_finds_the_row_stored_cut(
    review: ReviewHarness,
) -> None:
    """NFC turns U+0958 into two characters: 255 typed become 510, the row keeps 255."""
    typed = "\u0958" * 255
    await review.slash(NOBODY, page="Main Page", user=typed)  # denied: a row, no wiki call
    [row] = await review.rows()
    assert len(row.target_user) == 255
    message = answer(await review.run(MOD, "rollback-log search", user=typed))
    assert ids_on(message) == [row.id]


async def test_wiki_text_in_results_is_escaped(review: ReviewHarness) -> None:
    await add_rows(review, 1, page_title="**@everyone** [x](http://evil)", target_user="<@&1>")
    description = answer(await review.run(MOD, "rollback-log search"))["embeds"][0]["description"]
    label = description.split("· [", 1)[1].split("](", 1)[0]  # the page link's visible text
    assert label.startswith("\\*\\*@\u200beveryone\\*\\*")
    assert "](http://evil)" not in description
    assert "[\\<@&1\\>]" in description


# ---- show ----------------------------------------------------------------------------------------


async def test_show_lists_the_recorded_facts_with_links(review: ReviewHarness) -> None:
    [request_id] = await add_rows(
        review,
        1,
        status=RollbackStatus.FAILED,
        error_code="protectedpage",
        error_message="This page has been protected",
        summary="=cmd",
        log_message_id=1_300_000_000_000_000_555,
        confirmed_by_id=MOD.user_id,
        confirmed_at=utcnow(),
    )
    run = await review.run(MOD, "rollback-log show", id=request_id)
    assert run.callback.ephemeral
    embed = run.callback.embed
    assert embed["title"].startswith(f"Request #{request_id}: failed")
    assert "Special:Contributions/Vandal" in embed_field(embed, "Target user")
    assert embed_field(embed, "Requested by") == f"<@{MOD.user_id}> (Mod)"
    assert "protectedpage" in embed_field(embed, "Error")
    assert embed_field(embed, "Diff").startswith("[see the change](https://wiki.example/")
    assert embed_field(embed, "Log message") == (
        f"[jump](https://discord.com/channels/{GUILD_ID}/{LOG_CHANNEL_ID}/1300000000000000555)"
    )


async def test_show_gives_the_saved_summary_and_jumps_to_the_rows_own_log_channel(
    review: ReviewHarness,
) -> None:
    moved_from = LOG_CHANNEL_ID + 1  # the log channel when the request ended, since changed
    [request_id] = await add_rows(
        review,
        1,
        result_summary="Reverted edits by [[Special:Contributions/Vandal|Vandal]] @everyone",
        log_channel_id=moved_from,
        log_message_id=1_300_000_000_000_000_777,
    )
    embed = (await review.run(MOD, "rollback-log show", id=request_id)).callback.embed
    assert embed_field(embed, "Saved summary") == (
        "Reverted edits by \\[\\[Special\\:Contributions/Vandal\\|Vandal\\]\\] @\u200beveryone"
    )
    assert embed_field(embed, "Log message") == (
        f"[jump](https://discord.com/channels/{GUILD_ID}/{moved_from}/1300000000000000777)"
    )


async def test_show_without_a_saved_summary_has_no_such_field(review: ReviewHarness) -> None:
    [request_id] = await add_rows(review, 1)
    embed = (await review.run(MOD, "rollback-log show", id=request_id)).callback.embed
    assert "Saved summary" not in [field["name"] for field in embed["fields"]]


async def test_show_of_another_servers_request_says_there_is_none(
    review: ReviewHarness,
) -> None:
    [other] = await add_rows(review, 1, guild_id=GUILD_B)
    run = await review.run(MOD, "rollback-log show", id=other)
    assert run.callback.content == f"There is no request #{other} on this server."


# ---- export --------------------------------------------------------------------------------------


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# The file's columns as spreadsheets and scripts know them: new ones are only ever appended.
CSV_HEADER = [
    *("id", "created_at", "updated_at", "guild_id", "channel_id", "requester_id"),
    *("requester_name", "wiki_api_url", "page_title", "page_id", "target_user", "summary"),
    *("markbot", "status", "expires_at", "edits_to_revert", "top_revid", "restored_revid"),
    *("revid", "old_revid", "last_revid", "error_code", "error_message", "confirmed_by_id"),
    *("confirmed_at", "prompt_message_id", "log_message_id", "log_post_error"),
    "result_summary",
    "wiki",
]


async def test_export_attaches_a_safe_csv_of_every_match(review: ReviewHarness) -> None:
    ids = await add_rows(
        review, 12, summary='=HYPERLINK("http://evil")', result_summary="-Reverted edits"
    )
    await add_rows(review, 2, guild_id=GUILD_B)
    run = await review.run(MOD, "rollback-log export")
    assert run.callback.callback_type == DEFERRED_CHANNEL_MESSAGE
    [(filename, data)] = review.uploads
    assert filename.startswith(f"rollback-log-{GUILD_ID}-")
    assert filename.endswith(".csv")
    rows = _csv(data)
    header = rows[0]
    assert header == CSV_HEADER
    assert [int(row[0]) for row in rows[1:]] == ids[::-1]
    assert {row[header.index("summary")] for row in rows[1:]} == {'\'=HYPERLINK("http://evil")'}
    assert {row[-2] for row in rows[1:]} == {"'-Reverted edits"}
    assert {row[-1] for row in rows[1:]} == {"default"}
    message = answer(run)
    assert "**12** requests" in message["content"]
    assert message["attachments"]


async def test_export_too_big_is_gzipped_or_cut_with_a_count(
    sqlite_session_factory: Sessions,
) -> None:
    h = await ReviewHarness.start_review(sqlite_session_factory, export_max_bytes=96 * 1024)
    try:
        await add_rows(h, 400, summary="x" * 900)
        run = await h.run(MOD, "rollback-log export")
        [(filename, data)] = h.uploads
        assert filename.endswith(".csv.gz")
        assert len(data) <= 96 * 1024
        content = answer(run)["content"]
        assert "Compressed with gzip" in content
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


async def test_export_with_no_match_sends_no_file(review: ReviewHarness) -> None:
    run = await review.run(MOD, "rollback-log export", status="denied")
    assert review.uploads == []
    assert "No request matches" in answer(run)["content"]


# ---- stats ---------------------------------------------------------------------------------------


async def test_stats(review: ReviewHarness) -> None:
    await add_rows(review, 3)
    await add_rows(review, 2, status=RollbackStatus.FAILED, target_user="Spammer")
    await add_rows(review, 1, status=RollbackStatus.DENIED, requester_id=NOBODY.user_id)
    run = await review.run(MOD, "rollback-log stats", since="7d")
    embed = answer(run)["embeds"][0]
    assert embed["title"] == "Rollback log statistics (6 requests)"
    assert "succeeded: **3**" in embed_field(embed, "By outcome")
    assert "failed: **2**" in embed_field(embed, "By outcome")
    assert embed_field(embed, "By moderator (requests, succeeded)").startswith(
        f"<@{MOD.user_id}> (Mod): **5**, 3 succeeded"
    )
    assert "Vandal" in embed_field(embed, "Most reverted users")


async def test_stats_bad_since(review: ReviewHarness) -> None:
    run = await review.run(MOD, "rollback-log stats", since="ages")
    assert "`since`: I can't read 'ages'" in (run.callback.content or "")


# ---- several guilds ------------------------------------------------------------------------------


async def test_each_guild_sees_its_own_rows_under_its_own_roles(review: ReviewHarness) -> None:
    a_ids = await add_rows(review, 2)
    b_ids = await add_rows(review, 3, guild_id=GUILD_B)
    # In guild B only HELPER_ROLE_ID may roll back (and so read the log); MOD's role is A's.
    await review.settings.remove_role(GUILD_B, Setting.ROLLBACK_ROLES, MOD_ROLE_ID, by=ADMIN)
    await review.settings.add_role(GUILD_B, Setting.ROLLBACK_ROLES, HELPER_ROLE_ID, by=ADMIN)

    in_a = answer(await review.run(MOD, "rollback-log search"))
    assert ids_on(in_a) == a_ids[::-1]
    refused = await review.run(MOD, "rollback-log search", guild_id=GUILD_B)
    assert refused.callback.content == NOT_ALLOWED_TEXT
    in_b = answer(await review.run(NOBODY, "rollback-log search", guild_id=GUILD_B))
    assert ids_on(in_b) == b_ids[::-1]
