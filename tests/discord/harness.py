"""Drive a real `RollBot` through discord.py's own code paths, with Discord replaced by a fake.

What is real: `RollBot`, its `RollbotTree`, the cog, the DynamicItem buttons, `RollbackService`
on a migrated database, and all of discord.py - `Client.login` (static login, application info,
`setup_hook` with the command sync), the gateway parsers (`READY`, `GUILD_CREATE`,
`INTERACTION_CREATE`), the `CommandTree` and the view store's DynamicItem routing, the
`HTTPClient` and the interaction webhook adapter with their JSON encoding and their mapping of
HTTP statuses to `discord.NotFound` / `discord.Forbidden`.

What is fake: the network. Both of discord.py's REST paths end in an `aiohttp.ClientSession`
(`HTTPClient.request` for bot-token routes, `AsyncWebhookAdapter.request` for interaction
callbacks, follow-ups and `@original` edits, which do NOT pass through `HTTPClient.request`).
`FakeDiscord` is that session: it records every request as a `SentRequest` and answers like
Discord's API v10 does, keeping the messages it created so an edit returns the edited message
and a click can carry the message as the member sees it. The wiki is `FakeWiki`.

Typical use (see tests/discord/conftest.py for the `harness` fixture)::

    h = await DiscordHarness.start(sessions)              # logged in, READY, guild cached
    run = await h.slash(MOD, page="Main Page", user="Vandal")
    assert run.callback.callback_type == DEFERRED_CHANNEL_MESSAGE
    prompt = h.discord.message(run.original_message_id)   # what the moderator sees
    click = await h.click(MOD, confirm_id(request_id), message=prompt)
    row = await h.row(request_id)
    h.check_invariants()                                  # the fixture does this at teardown

`slash` / `click` dispatch and then wait for every task discord.py scheduled for them;
`send_slash` / `send_click` only dispatch (for concurrency tests), `settle()` then waits.

The bot serves GUILD_ID only. OTHER_GUILD_ID is a server that invited it without being served
(its admin: OUTSIDER): `in_guild(payload)` / `in_dm(payload)` re-send any interaction from
there or from a DM, `join_other_guild()` / `connect(also_in_other_guild=True)` put the bot in
it, and `FakeDiscord.left_guilds` records the bot leaving.

Several wikis: `start(sessions, wikis={"default": FakeWiki(), "second": FakeWiki(...)},
wiki_guilds={"second": frozenset({GUILD_ID})}, site_names={"second": "Second Wiki"})` wires
them as `bot.app.main` does: a `GuildSettingsService` (the operator's `wiki_guilds`, also the
role policy and log-channel source) as the workflow's `WikiAccess`, a `HistoryService`, and
`WikiSites` naming each wiki (its home page: the fake's `page_url("Main Page")`), so
`/rollbot-config` and `/rollback-log` are there too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

import aiohttp
from discord.http import Route
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, utcnow
from bot.discord_bot import RollBot
from bot.exts.rollback import RollbackCog
from bot.services.authz import StaticRolePolicy
from bot.services.guild_settings import GuildDefaults, GuildSettingsService
from bot.services.history import HistoryService
from bot.services.rollback import RollbackService
from bot.services.settlement import Settlement
from bot.services.suggest import Suggestions
from bot.ui.confirm import prompt_view
from bot.ui.sites import Site, WikiSites
from tests.unit.services.fakes import Clock, FakeWiki

Sessions = async_sessionmaker[AsyncSession]
JSON = dict[str, Any]


async def _no_sleep(seconds: float) -> None:
    """Settlement's re-check pauses, skipped: the fake wiki answers at once."""


# ---- the world -----------------------------------------------------------------------------------

TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.FAKE00.fake-bot-token-for-tests-only"
BOT_ID = 1_000_000_000_000_000_001
APP_ID = BOT_ID  # as for every bot created since 2019
OWNER_ID = 1_000_000_000_000_000_002
GUILD_ID = 1_100_000_000_000_000_000
CHANNEL_ID = 1_100_000_000_000_000_010  # where moderators run /rollback
LOG_CHANNEL_ID = 1_100_000_000_000_000_020
MOD_ROLE_ID = 1_100_000_000_000_000_101  # the configured rollback role
HELPER_ROLE_ID = 1_100_000_000_000_000_102  # some other role
# A server that invited the bot but is not in DISCORD_GUILD_IDS (the bot must not serve it).
OTHER_GUILD_ID = 1_400_000_000_000_000_000
OTHER_CHANNEL_ID = 1_400_000_000_000_000_010
OTHER_ROLE_ID = 1_400_000_000_000_000_101  # its admin's own role
DM_CHANNEL_ID = 1_400_000_000_000_000_500
CONFIRM_TIMEOUT = timedelta(seconds=120)

# Interaction callback types (Discord API "interaction response types").
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9
# Interaction types (what the gateway sends).
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
EPHEMERAL = 64  # message flag
LOADING = 128  # message flag of a "thinking" deferred response
NO_MENTIONS_PAYLOAD: JSON = {"parse": []}

_TIMESTAMP = "2026-11-20T12:00:00.000000+00:00"
_MEMBER_PERMISSIONS = "2248473465835073"
ADMINISTRATOR_PERMISSIONS = str((1 << 3) | (1 << 5))  # Administrator and Manage Server
_API_BASE = Route.BASE  # https://discord.com/api/v10


@dataclass(frozen=True, slots=True)
class Person:
    """A guild member as the gateway describes them in an interaction's `member` object."""

    user_id: int
    name: str
    role_ids: tuple[int, ...] = ()

    def user_payload(self) -> JSON:
        return {
            "id": str(self.user_id),
            "username": self.name.lower(),
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
        }

    def member_payload(self) -> JSON:
        return {
            "user": self.user_payload(),
            "nick": None,
            "avatar": None,
            "roles": [str(role_id) for role_id in self.role_ids],
            "joined_at": _TIMESTAMP,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "permissions": _MEMBER_PERMISSIONS,
            "communication_disabled_until": None,
        }

    def without_roles(self) -> Person:
        return Person(self.user_id, self.name, ())


MOD = Person(1_200_000_000_000_000_001, "Mod", (MOD_ROLE_ID,))
OTHER_MOD = Person(1_200_000_000_000_000_002, "OtherMod", (MOD_ROLE_ID, HELPER_ROLE_ID))
NOBODY = Person(1_200_000_000_000_000_003, "Nobody", (HELPER_ROLE_ID,))
# The admin of OTHER_GUILD_ID, with their own role there.
OUTSIDER = Person(1_400_000_000_000_000_001, "Outsider", (OTHER_ROLE_ID,))


def confirm_id(request_id: int) -> str:
    return f"rollbot:confirm:{request_id}"


def cancel_id(request_id: int) -> str:
    return f"rollbot:cancel:{request_id}"


# ---- payloads ------------------------------------------------------------------------------------


def bot_user_payload() -> JSON:
    return {
        "id": str(BOT_ID),
        "username": "rollbot",
        "global_name": None,
        "discriminator": "0",
        "avatar": None,
        "bot": True,
        "verified": True,
        "mfa_enabled": True,
        "flags": 0,
        "public_flags": 0,
        "locale": "en-US",
        "email": None,
    }


def application_payload() -> JSON:
    return {
        "id": str(APP_ID),
        "name": "rollbot",
        "description": "",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": {
            "id": str(OWNER_ID),
            "username": "owner",
            "global_name": "Owner",
            "discriminator": "0",
            "avatar": None,
        },
        "verify_key": "0" * 64,
        "flags": 0,
        "interactions_endpoint_url": None,
        "team": None,
    }


def text_channel_payload(
    channel_id: int, name: str, position: int = 0, *, guild_id: int = GUILD_ID
) -> JSON:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def role_payload(role_id: int, name: str, position: int) -> JSON:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": "0" if role_id != GUILD_ID else "1071698660929",
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild_payload(
    *, channels: Iterable[JSON], guild_id: int = GUILD_ID, name: str = "Wiki moderators"
) -> JSON:
    """A GUILD_CREATE for a guild with the mod role, another role and the given channels."""
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "owner_id": str(OWNER_ID),
        "afk_timeout": 300,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "features": [],
        "system_channel_flags": 0,
        "roles": [
            role_payload(guild_id, "@everyone", 0),
            role_payload(MOD_ROLE_ID, "Rollbacker", 2),
            role_payload(HELPER_ROLE_ID, "Helper", 1),
        ],
        "emojis": [],
        "stickers": [],
        "channels": list(channels),
        "threads": [],
        "members": [
            {
                "user": bot_user_payload(),
                "nick": None,
                "roles": [],
                "joined_at": _TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        ],
        "member_count": 4,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "large": False,
        "unavailable": False,
        "joined_at": _TIMESTAMP,
    }


def other_guild_payload() -> JSON:
    """GUILD_CREATE of OTHER_GUILD_ID: a server that invited the bot but is not served."""
    payload = guild_payload(
        channels=[text_channel_payload(OTHER_CHANNEL_ID, "general", guild_id=OTHER_GUILD_ID)],
        guild_id=OTHER_GUILD_ID,
        name="Someone else's server",
    )
    payload["roles"] = [
        role_payload(OTHER_GUILD_ID, "@everyone", 0),
        role_payload(OTHER_ROLE_ID, "Wannabe rollbacker", 1),
    ]
    payload["owner_id"] = str(OUTSIDER.user_id)
    return payload


def in_guild(
    payload: Mapping[str, Any],
    guild_id: int = OTHER_GUILD_ID,
    channel_id: int = OTHER_CHANNEL_ID,
    *,
    permissions: str | None = None,
) -> JSON:
    """The same interaction, sent from a channel of another server (by default the unlisted one).

    `permissions`: the member's permissions there (e.g. ADMINISTRATOR_PERMISSIONS).
    """
    moved: JSON = json.loads(json.dumps(payload))
    moved["guild_id"] = str(guild_id)
    moved["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
    moved["channel"] = text_channel_payload(channel_id, "general", guild_id=guild_id)
    moved["channel_id"] = str(channel_id)
    moved["authorizing_integration_owners"] = {"0": str(guild_id)}
    if "guild_id" in moved.get("data", {}):
        moved["data"]["guild_id"] = str(guild_id)
    if permissions is not None:
        moved["member"]["permissions"] = permissions
    return moved


def in_dm(payload: Mapping[str, Any]) -> JSON:
    """The same interaction, sent from the member's DM with the bot (no guild, no member)."""
    moved: JSON = json.loads(json.dumps(payload))
    user = moved.pop("member")["user"]
    for key in ("guild_id", "guild", "guild_locale"):
        moved.pop(key, None)
    moved.get("data", {}).pop("guild_id", None)
    moved["user"] = user
    moved["channel"] = {
        "id": str(DM_CHANNEL_ID),
        "type": 1,
        "last_message_id": None,
        "flags": 0,
        "recipients": [user],
    }
    moved["channel_id"] = str(DM_CHANNEL_ID)
    moved["context"] = 1  # BOT_DM
    return moved


def button_custom_ids(components: Iterable[Mapping[str, Any]]) -> list[str]:
    return [custom_id for _, custom_id in buttons(components)]


def buttons(components: Iterable[Mapping[str, Any]]) -> list[tuple[str | None, str]]:
    """(label, custom_id) of every button in a component tree, in order."""
    found: list[tuple[str | None, str]] = []
    for component in components:
        if component.get("type") == 2 and "custom_id" in component:
            found.append((component.get("label"), component["custom_id"]))
        found.extend(buttons(component.get("components", [])))
    return found


# ---- what the bot sent ---------------------------------------------------------------------------


@dataclass
class SentRequest:
    """One HTTP request the bot made to Discord, decoded."""

    seq: int
    method: str
    path: str  # e.g. "/channels/123/messages" (no /api/v10 prefix, no query string)
    json: Any  # the decoded JSON body, or None
    params: Mapping[str, Any] | None
    wiki_calls: int  # how many calls FakeWiki had received when this request was sent
    token: str | None = None  # the interaction token, for interaction callbacks and webhooks
    status: int = 200  # what FakeDiscord answered
    response: Any = None  # and the body it answered with

    @property
    def created_id(self) -> int:
        """The id of the message this request created or edited."""
        assert isinstance(self.response, dict), self.response
        return int(self.response["id"])

    @property
    def is_callback(self) -> bool:
        return self.method == "POST" and self.path.endswith("/callback")

    @property
    def callback_type(self) -> int | None:
        return self.json["type"] if self.is_callback else None

    @property
    def message(self) -> JSON:
        """The message fields of the body (`data` of a callback, the body otherwise)."""
        if self.is_callback:
            return dict(self.json.get("data") or {})
        return dict(self.json or {}) if isinstance(self.json, dict) else {}

    @property
    def carries_message(self) -> bool:
        """Whether this request sends or edits message content (so mentions matter)."""
        if self.is_callback:
            return self.callback_type in (CHANNEL_MESSAGE, UPDATE_MESSAGE)
        return self.method in ("POST", "PATCH") and (
            "/messages" in self.path or self.path.startswith("/webhooks/")
        )

    @property
    def flags(self) -> int:
        return int(self.message.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def content(self) -> str | None:
        return self.message.get("content")

    @property
    def embeds(self) -> list[JSON]:
        return list(self.message.get("embeds") or [])

    @property
    def embed(self) -> JSON:
        (only,) = self.embeds
        return only

    @property
    def components(self) -> list[JSON] | None:
        """None when the request leaves the components alone, [] when it removes them."""
        return self.message.get("components")

    @property
    def buttons(self) -> list[tuple[str | None, str]]:
        return buttons(self.components or [])

    @property
    def allowed_mentions(self) -> Any:
        return self.message.get("allowed_mentions")

    def __str__(self) -> str:
        kind = f" type={self.callback_type}" if self.is_callback else ""
        return f"#{self.seq} {self.method} {self.path}{kind} → {self.status}"


def embed_texts(embed: Mapping[str, Any]) -> list[str]:
    """Every string of an embed Discord renders Markdown in: description and field values.

    (Titles, field names and footers get no link/mention rendering; they are checked apart.)
    """
    texts = [embed.get("description") or ""]
    texts.extend(field_["value"] for field_ in embed.get("fields", []))
    return texts


def embed_field(embed: Mapping[str, Any], name: str) -> str:
    for field_ in embed.get("fields", []):
        if field_["name"] == name:
            return str(field_["value"])
    raise KeyError(f"no field {name!r} in {[f['name'] for f in embed.get('fields', [])]}")


# ---- the fake Discord API ------------------------------------------------------------------------


class _Headers(dict[str, str]):
    """Enough of aiohttp's CIMultiDictProxy for discord.py."""


class FakeResponse:
    """Enough of `aiohttp.ClientResponse` for `json_or_text` and `HTTPException`."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.reason = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden"}.get(
            status,
            "Not Found" if status == 404 else "Error",
        )
        self._text = "" if body is None else json.dumps(body)
        self.headers = _Headers(headers or {})
        if body is not None:
            self.headers["content-type"] = "application/json"

    async def text(self, encoding: str = "utf-8") -> str:
        return self._text

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class _Pending:
    """What `session.request(...)` returns: an async context manager that does the request."""

    def __init__(self, answer: Awaitable[FakeResponse]) -> None:
        self._answer = answer

    async def __aenter__(self) -> FakeResponse:
        return await self._answer

    async def __aexit__(self, *exc: object) -> None:
        return None


@dataclass
class Failure:
    """A scripted error answer for requests whose path matches `path` (a regex)."""

    method: str
    path: str
    status: int
    code: int
    message: str
    times: int | None = None  # None: every time
    # Instead of answering, the connection fails with this exception (aiohttp's, as discord.py
    # sees it when Discord or the network drops the connection).
    raises: Callable[[], BaseException] | None = None
    # Discord carries the request out, then the answer is lost (`raises` or the error status).
    after: bool = False
    headers: Mapping[str, str] | None = None
    extra: Mapping[str, Any] | None = None  # more fields of the error body (retry_after...)


@dataclass
class _InteractionRecord:
    interaction_id: int
    type: int
    message_id: int | None  # the message a component was clicked on
    callbacks: int = 0


Handler = Callable[[SentRequest, re.Match[str]], tuple[int, Any]]


class FakeDiscord:
    """An `aiohttp.ClientSession` look-alike answering like Discord's REST API v10.

    - `requests`: every `SentRequest`, in order. `unexpected`: requests no route matched.
    - `messages`: every message created, by id, as Discord currently stores it (edits applied).
    - `fail(method, path_regex, status, code, message)`: script an error answer.
    - Interactions are acknowledged at most once (a second callback gets Discord's 400 40060), and
      `@original` / follow-ups need an acknowledged interaction (else 404 10015), as on Discord.
    """

    def __init__(self, *, wiki_calls: Callable[[], int] = lambda: 0) -> None:
        self.requests: list[SentRequest] = []
        self.unexpected: list[SentRequest] = []
        self.messages: dict[int, JSON] = {}
        self.channels: dict[int, JSON] = {}
        self.synced_commands: dict[int | None, list[JSON]] = {}
        self.failures: list[Failure] = []
        self.closed = False
        self._wiki_calls = wiki_calls
        self.left_guilds: list[int] = []  # DELETE /users/@me/guilds/{id}, in order
        self._interactions: dict[str, _InteractionRecord] = {}
        self._originals: dict[str, int] = {}  # interaction token → its original message id
        self._nonces: dict[tuple[int, str], int] = {}  # (channel, nonce) → message id
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self._seq = itertools.count(1)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/users/@me"), self._get_me),
            ("DELETE", re.compile(r"/users/@me/guilds/(\d+)"), self._leave_guild),
            ("GET", re.compile(r"/oauth2/applications/@me"), self._get_application),
            ("PUT", re.compile(r"/applications/(\d+)/guilds/(\d+)/commands"), self._put_commands),
            ("PUT", re.compile(r"/applications/(\d+)/commands"), self._put_commands),
            ("GET", re.compile(r"/channels/(\d+)"), self._get_channel),
            ("POST", re.compile(r"/channels/(\d+)/messages"), self._post_channel_message),
            ("PATCH", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._edit_channel_message),
            ("POST", re.compile(r"/interactions/(\d+)/([^/]+)/callback"), self._callback),
            ("PATCH", re.compile(r"/webhooks/(\d+)/([^/]+)/messages/@original"), self._edit),
            ("PATCH", re.compile(r"/webhooks/(\d+)/([^/]+)/messages/(\d+)"), self._edit),
            ("GET", re.compile(r"/webhooks/(\d+)/([^/]+)/messages/@original"), self._get_orig),
            ("POST", re.compile(r"/webhooks/(\d+)/([^/]+)"), self._followup),
        ]

    # -- scripting and inspection ------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int,
        code: int,
        message: str,
        times: int | None = None,
    ) -> None:
        self.failures.append(Failure(method, path, status, code, message, times))

    def drop(
        self,
        method: str,
        path: str,
        *,
        times: int | None = None,
        after: bool = False,
        error: Callable[[], BaseException] = aiohttp.ServerDisconnectedError,
    ) -> None:
        """The connection drops on matching requests: before Discord acts, or (`after`) once it
        has acted and before its answer arrives. `error` is what aiohttp raises."""
        self.failures.append(Failure(method, path, 0, 0, "", times, raises=error, after=after))

    def rate_limit(
        self,
        method: str,
        path: str,
        *,
        retry_after: float,
        from_cloudflare: bool = False,
        times: int | None = None,
    ) -> None:
        """429 with `retry_after`. Discord's own carries a `Via` header and discord.py waits and
        resends by itself; Cloudflare's (no `Via`) reaches the caller as an HTTPException."""
        headers = {"Retry-After": str(retry_after)}
        if not from_cloudflare:
            headers["Via"] = "1.1 google"
        self.failures.append(
            Failure(
                method,
                path,
                429,
                0,
                "You are being rate limited.",
                times,
                headers=headers,
                extra={"retry_after": retry_after, "global": False},
            )
        )

    def snowflake(self) -> int:
        """A new id, unique across everything this Discord has seen (messages, interactions)."""
        return next(self._ids)

    def add_message(
        self, fields: Mapping[str, Any], *, channel_id: int = CHANNEL_ID, flags: int = 0
    ) -> JSON:
        """A message Discord already has (e.g. a prompt an earlier bot process sent)."""
        return self.message(int(self._new_message(channel_id, fields, flags=flags)["id"]))

    def add_channel(self, payload: JSON) -> None:
        self.channels[int(payload["id"])] = payload

    def register_interaction(self, payload: Mapping[str, Any]) -> None:
        message = payload.get("message")
        self._interactions[payload["token"]] = _InteractionRecord(
            interaction_id=int(payload["id"]),
            type=payload["type"],
            message_id=int(message["id"]) if message else None,
        )

    def callbacks_of(self, token: str) -> int:
        return self._interactions[token].callbacks

    @property
    def interaction_tokens(self) -> list[str]:
        return list(self._interactions)

    def message(self, message_id: int) -> JSON:
        """A message as Discord stores it now (a copy: later edits don't change it)."""
        copy: JSON = json.loads(json.dumps(self.messages[message_id]))
        return copy

    def original_message_id(self, token: str) -> int | None:
        return self._originals.get(token)

    def for_token(self, token: str) -> list[SentRequest]:
        return [r for r in self.requests if r.token == token]

    def channel_messages(self, channel_id: int) -> list[JSON]:
        """The messages Discord holds in `channel_id` now (edits applied), oldest first."""
        return [
            self.message(message_id)
            for message_id, message in self.messages.items()
            if int(message["channel_id"]) == channel_id
        ]

    def channel_posts(self, channel_id: int) -> list[SentRequest]:
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"
        ]

    # -- the aiohttp.ClientSession surface ----------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> _Pending:
        return _Pending(self._answer(method, url, kwargs))

    async def close(self) -> None:
        self.closed = True

    # -- answering --------------------------------------------------------------------------

    async def _answer(self, method: str, url: str, kwargs: Mapping[str, Any]) -> FakeResponse:
        await asyncio.sleep(0)  # a real request yields to the loop
        if not url.startswith(_API_BASE):
            raise AssertionError(f"request outside the Discord API: {method} {url}")
        path = unquote(url[len(_API_BASE) :].split("?", 1)[0])
        data = kwargs.get("data")
        if data is not None and not isinstance(data, str | bytes):
            raise AssertionError(f"multipart upload not modelled: {method} {path}")
        body = json.loads(data) if data else None
        sent = SentRequest(
            seq=next(self._seq),
            method=method,
            path=path,
            json=body,
            params=kwargs.get("params"),
            wiki_calls=self._wiki_calls(),
        )
        self.requests.append(sent)
        for failure in self.failures:
            if failure.method == method and re.fullmatch(failure.path, path):
                if failure.times is not None:
                    if failure.times == 0:
                        continue
                    failure.times -= 1
                if failure.after:
                    self._route(sent)  # Discord acts; its answer never arrives
                sent.token = self._token_of(path)
                if failure.raises is not None:
                    sent.status, sent.response = 0, None  # no answer at all
                    raise failure.raises()
                sent.status = failure.status
                sent.response = {
                    "message": failure.message,
                    "code": failure.code,
                    **(failure.extra or {}),
                }
                return FakeResponse(failure.status, sent.response, failure.headers)
        return self._route(sent)

    def _route(self, sent: SentRequest) -> FakeResponse:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(sent.path)
            if route_method == sent.method and match:
                status, answer = handler(sent, match)
                sent.status, sent.response = status, answer
                return FakeResponse(status, answer)
        sent.status = 404
        self.unexpected.append(sent)
        return FakeResponse(404, {"message": "404: Not Found", "code": 0})

    @staticmethod
    def _token_of(path: str) -> str | None:
        match = re.match(r"/(?:interactions|webhooks)/\d+/([^/]+)", path)
        return match[1] if match else None

    def _new_message(self, channel_id: int, fields: Mapping[str, Any], *, flags: int = 0) -> JSON:
        message_id = next(self._ids)
        message: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(GUILD_ID),
            "type": 0,
            "content": "",
            "author": bot_user_payload(),
            "embeds": [],
            "attachments": [],
            "components": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _TIMESTAMP,
            "edited_timestamp": None,
            "flags": flags,
            "application_id": str(APP_ID),
        }
        self._apply(message, fields)
        self.messages[message_id] = message
        return message

    @staticmethod
    def _apply(message: JSON, fields: Mapping[str, Any]) -> None:
        for key in ("content", "embeds", "components", "attachments"):
            if key in fields and fields[key] is not None:
                message[key] = fields[key]
        if "flags" in fields and fields["flags"] is not None:
            message["flags"] = int(fields["flags"]) | (int(message["flags"]) & EPHEMERAL)

    def _error(self, status: int, code: int, message: str) -> tuple[int, Any]:
        return status, {"message": message, "code": code}

    def _get_me(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        return 200, bot_user_payload()

    def _leave_guild(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        self.left_guilds.append(int(match[1]))
        return 204, None

    def _get_application(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        return 200, application_payload()

    def _put_commands(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        guild_id = int(match[2]) if match.lastindex == 2 else None
        answer = []
        for command in sent.json:
            created = {
                "id": str(next(self._ids)),
                "application_id": str(APP_ID),
                "version": str(next(self._ids)),
                "default_member_permissions": None,
                "type": 1,
                "nsfw": False,
                "options": [],
                "description": "",  # Discord's answer for context menus, which send none
                **command,
            }
            if guild_id is not None:
                created["guild_id"] = str(guild_id)
            answer.append(created)
        self.synced_commands[guild_id] = answer
        return 200, answer

    def _get_channel(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        channel = self.channels.get(int(match[1]))
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        return 200, channel

    def _post_channel_message(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        channel_id = int(match[1])
        if channel_id not in self.channels:
            return self._error(404, 10003, "Unknown Channel")
        body = sent.json or {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            # Discord: a message by the same author with this nonce in the last few minutes is
            # returned instead of creating another (the fake has no clock: any time).
            earlier = self._nonces.get((channel_id, str(nonce)))
            if earlier is not None and earlier in self.messages:
                return 200, self.message(earlier)
        message = self._new_message(channel_id, body)
        if nonce is not None:
            message["nonce"] = str(nonce)
            self._nonces[(channel_id, str(nonce))] = int(message["id"])
        return 200, json.loads(json.dumps(message))

    def _edit_channel_message(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        channel_id, message_id = int(match[1]), int(match[2])
        if channel_id not in self.channels:
            return self._error(404, 10003, "Unknown Channel")
        message = self.messages.get(message_id)
        if message is None or int(message["channel_id"]) != channel_id:
            return self._error(404, 10008, "Unknown Message")
        self._apply(message, sent.json or {})
        message["edited_timestamp"] = _TIMESTAMP
        return 200, json.loads(json.dumps(message))

    def _callback(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        token = sent.token = match[2]
        record = self._interactions.get(token)
        if record is None or record.interaction_id != int(match[1]):
            return self._error(404, 10062, "Unknown interaction")
        if record.callbacks:
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        kind = sent.json["type"]
        data = sent.json.get("data") or {}
        if kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE) and record.message_id is None:
            return self._error(400, 50035, "Invalid Form Body (not a component interaction)")
        if kind in (AUTOCOMPLETE_RESULT, MODAL):
            if (kind == AUTOCOMPLETE_RESULT) != (record.type == AUTOCOMPLETE):
                return self._error(400, 50035, "Invalid Form Body (autocomplete mismatch)")
            record.callbacks += 1
            return 204, None  # no message: nothing to edit or follow up
        record.callbacks += 1
        flags = int(data.get("flags") or 0)
        if kind == CHANNEL_MESSAGE:
            message = self._new_message(CHANNEL_ID, data, flags=flags & EPHEMERAL)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            message = self._new_message(CHANNEL_ID, {}, flags=(flags & EPHEMERAL) | LOADING)
        else:
            assert record.message_id is not None
            message = self.messages.get(record.message_id) or self._new_message(CHANNEL_ID, {})
            if kind == UPDATE_MESSAGE:
                self._apply(message, data)
                message["edited_timestamp"] = _TIMESTAMP
        self._originals[token] = int(message["id"])
        answer = {
            "interaction": {
                "id": str(record.interaction_id),
                "type": record.type,
                "response_message_id": message["id"],
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(int(message["flags"]) & EPHEMERAL),
            },
            "resource": {"type": kind, "message": message},
        }
        return 200, json.loads(json.dumps(answer))

    def _original(self, token: str) -> JSON | None:
        message_id = self._originals.get(token)
        return None if message_id is None else self.messages[message_id]

    def _edit(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        sent.token = match[2]
        if match.lastindex == 3:
            message = self.messages.get(int(match[3]))
        else:
            message = self._original(sent.token)
        return self._edit_message(sent, message)

    def _edit_message(self, sent: SentRequest, message: JSON | None) -> tuple[int, Any]:
        if message is None:
            return self._error(404, 10015, "Unknown Webhook")
        self._apply(message, sent.json or {})
        message["flags"] = int(message["flags"]) & ~LOADING
        message["edited_timestamp"] = _TIMESTAMP
        return 200, json.loads(json.dumps(message))

    def _get_orig(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        sent.token = match[2]
        message = self._original(match[2])
        if message is None:
            return self._error(404, 10015, "Unknown Webhook")
        return 200, message

    def _followup(self, sent: SentRequest, match: re.Match[str]) -> tuple[int, Any]:
        token = sent.token = match[2]
        original = self._original(token)
        if original is None:
            return self._error(404, 10015, "Unknown Webhook")
        if int(original["flags"]) & LOADING:
            # The first follow-up after a "thinking" defer replaces the loading message.
            return self._edit_message(sent, original)
        fields = sent.json or {}
        return 200, self._new_message(CHANNEL_ID, fields, flags=int(fields.get("flags") or 0))


class WallClock:
    """The log outbox's clock in tests: the real time plus what the test has skipped.

    Not the service's `Clock`: the audit repository stamps an ended row's `log_next_at` with
    the real time, so the outbox must compare against the real time; a test that wants a retry
    to come due skips ahead with `advance`."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class LibrarySleeps:
    """Stands in for the `asyncio` module inside `discord.http`: its waits (the back-off between
    its own retries of a 5xx, a 429's retry_after) return at once and are recorded."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.delays.append(delay)
        await asyncio.sleep(0)
        return result


# ---- dispatching interactions --------------------------------------------------------------------


@dataclass
class Dispatched:
    """One interaction sent to the bot, and (after `settle`) what the bot sent back for it."""

    payload: JSON
    discord: FakeDiscord

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def requests(self) -> list[SentRequest]:
        """Callback, `@original` edits and follow-ups of this interaction, in order."""
        return self.discord.for_token(self.token)

    @property
    def callbacks(self) -> list[SentRequest]:
        return [r for r in self.requests if r.is_callback]

    @property
    def callback(self) -> SentRequest:
        """The one interaction response (fails the test if there were none or several)."""
        callbacks = self.callbacks
        assert len(callbacks) == 1, [str(r) for r in self.requests]
        return callbacks[0]

    @property
    def edits(self) -> list[SentRequest]:
        return [r for r in self.requests if r.method == "PATCH"]

    @property
    def followups(self) -> list[SentRequest]:
        return [r for r in self.requests if r.method == "POST" and not r.is_callback]

    @property
    def original_message_id(self) -> int:
        message_id = self.discord.original_message_id(self.token)
        assert message_id is not None, "the interaction was never answered"
        return message_id

    @property
    def original_message(self) -> JSON:
        return self.discord.message(self.original_message_id)


@dataclass
class Prompt:
    """An open Confirm / Cancel prompt: the /rollback run, its request id and its message."""

    run: Dispatched
    request_id: int
    message: JSON  # as the moderator sees it right after the preview

    @property
    def confirm_id(self) -> str:
        return confirm_id(self.request_id)

    @property
    def cancel_id(self) -> str:
        return cancel_id(self.request_id)


class _LibraryErrors(logging.Handler):
    """Collects ERROR records of discord.py itself ("Ignoring exception in ...")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class DiscordHarness:
    """A logged-in `RollBot` wired to `FakeDiscord` and `FakeWiki`. Build with `start`."""

    SETTLE_TIMEOUT = 5.0

    def __init__(
        self,
        *,
        bot: RollBot,
        service: RollbackService,
        wiki: FakeWiki,
        clock: Clock,
        discord_api: FakeDiscord,
        sessions: Sessions,
    ) -> None:
        self.bot = bot
        self.service = service
        self.wiki = wiki
        # Every wiki by key (`wiki` is the first); several when `start` was given `wikis`.
        self.wikis: dict[str, FakeWiki] = {"default": wiki}
        # With `wikis`: the per-guild settings and history the bot was given (else None).
        self.guild_settings: GuildSettingsService | None = None
        self.history_service: HistoryService | None = None
        self.clock = clock
        # The log outbox's clock (see WallClock); `start` sets it.
        self.log_clock = WallClock()
        self.discord = discord_api
        self.sessions = sessions
        self.dispatched: list[Dispatched] = []
        self.task_errors: list[BaseException] = []
        # Tokens of interactions a test deliberately leaves unanswered (e.g. Discord refused).
        self.expected_unanswered: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._baseline: set[asyncio.Task[Any]] = set()
        self._library_errors = _LibraryErrors()

    # -- lifecycle ------------------------------------------------------------------------------

    @classmethod
    async def start(
        cls,
        sessions: Sessions,
        *,
        wiki: FakeWiki | None = None,
        clock: Clock | None = None,
        log_channel_id: int | None = LOG_CHANNEL_ID,
        log_channel_exists: bool = True,
        rollback_roles: Iterable[int] = (MOD_ROLE_ID,),
        confirm_timeout: timedelta = CONFIRM_TIMEOUT,
        connect: bool = True,
        discord_api: FakeDiscord | None = None,
        guild_ids: Iterable[int] = (GUILD_ID,),
        log_sweep_seconds: float = 3600,
        log_clock: WallClock | None = None,
        wikis: Mapping[str, FakeWiki] | None = None,
        wiki_guilds: Mapping[str, frozenset[int] | None] | None = None,
        site_names: Mapping[str, str] | None = None,
        suggestions: Callable[[RollbackService], Suggestions] | None = None,
    ) -> DiscordHarness:
        """Build the service and bot, log in (runs `setup_hook`), and optionally connect.

        `connect=False` leaves the bot logged in but without READY / GUILD_CREATE, so no guild,
        role or channel is cached (as right after a resume, or with an uncached guild).
        `log_channel_exists=False`: Discord answers 404 Unknown Channel for the log channel.
        `discord_api`: the FakeDiscord of an earlier harness, to simulate a restart (the new
        process talks to the same Discord, which still has the old messages).
        `wikis` (instead of `wiki`): several wikis by key, the first one the `.env` default;
        `wiki_guilds`: the servers each may serve (a key absent or None: every server);
        `site_names`: each wiki's site name (absent: it goes by its key). See the module doc.
        `suggestions`: builds the `page` / `user` autocomplete from the service (None: none).
        """
        if wikis is not None and wiki is not None:
            raise TypeError("give `wiki` or `wikis`, not both")
        fakes = dict(wikis) if wikis is not None else {"default": wiki or FakeWiki()}
        wiki = next(iter(fakes.values()))
        clock = clock if clock is not None else Clock()
        log_clock = log_clock if log_clock is not None else WallClock()
        guild_settings: GuildSettingsService | None = None
        if wikis is not None:
            guild_settings = GuildSettingsService(
                sessions=sessions,
                defaults=GuildDefaults(
                    log_channel_id=log_channel_id,
                    rollback_role_ids=frozenset(rollback_roles),
                    wiki_guilds={key: (wiki_guilds or {}).get(key) for key in fakes},
                ),
            )
        service = RollbackService(
            wikis=fakes,
            sessions=sessions,
            roles=guild_settings or StaticRolePolicy(rollback_roles=frozenset(rollback_roles)),
            confirm_timeout=confirm_timeout,
            clock=clock,
            settlement=Settlement(wikis=fakes, sessions=sessions, sleep=_no_sleep),
            access=guild_settings,
        )
        api = discord_api or FakeDiscord(
            wiki_calls=lambda: sum(
                len(w.preview_calls) + len(w.rollback_calls) + len(w.find_calls)
                for w in fakes.values()
            )
        )
        api.add_channel(text_channel_payload(CHANNEL_ID, "moderators", 0))
        if log_channel_exists and log_channel_id is not None:
            api.add_channel(text_channel_payload(log_channel_id, "rollback-log", 1))
        names = site_names or {}
        sites = WikiSites(
            {
                key: Site(
                    key=key,
                    links=fake,
                    name=names.get(key, key),
                    home_url=fake.page_url("Main Page") if key in names else None,
                )
                for key, fake in fakes.items()
            }
        )
        history = HistoryService(sessions=sessions, clock=clock) if wikis is not None else None
        bot = RollBot(
            service=service,
            sessions=sessions,
            links=sites if wikis is not None else wiki,
            log_channel_id=log_channel_id,
            guild_ids=list(guild_ids),
            guild_settings=guild_settings,
            history=history,
            sweep_seconds=3600,  # tests call `cog.sweep()` themselves
            # The outbox sweep runs once when the bot is ready; later sweeps are the test's
            # (`h.bot.log_poster.deliver_due()`) unless it asks for a real interval.
            log_sweep_seconds=log_sweep_seconds,
            clock=log_clock,
            suggestions=suggestions(service) if suggestions is not None else None,
        )
        harness = cls(
            bot=bot, service=service, wiki=wiki, clock=clock, discord_api=api, sessions=sessions
        )
        harness.log_clock = log_clock
        harness.wikis = fakes
        harness.guild_settings = guild_settings
        harness.history_service = history
        logging.getLogger("discord").addHandler(harness._library_errors)
        await harness._login()
        if connect:
            await harness.connect()
        return harness

    async def _login(self) -> None:
        """The real `Client.login`, with `HTTPClient.static_login` opening FakeDiscord."""
        http = self.bot.http
        api = self.discord

        async def static_login(token: str) -> Any:
            # As HTTPClient.static_login, except that the session is FakeDiscord.
            http._HTTPClient__session = api  # type: ignore[attr-defined]
            http._global_over = asyncio.Event()
            http._global_over.set()
            http.token = token
            return await http.request(Route("GET", "/users/@me"))

        http.static_login = static_login  # type: ignore[method-assign]
        await self.bot.login(TOKEN)
        self._baseline = set(asyncio.all_tasks())

    async def connect(self, *, also_in_other_guild: bool = False) -> None:
        """Gateway READY then GUILD_CREATE (guild, roles, channels cached); waits for ready.

        `also_in_other_guild`: the bot is also a member of OTHER_GUILD_ID (it was invited while
        offline), so READY lists it and its GUILD_CREATE follows.
        """
        state = self.bot._connection
        state.guild_ready_timeout = 0.01
        guild_ids = [GUILD_ID, OTHER_GUILD_ID] if also_in_other_guild else [GUILD_ID]
        ready: Any = {
            "v": 10,
            "user": bot_user_payload(),
            "guilds": [{"id": str(guild_id), "unavailable": True} for guild_id in guild_ids],
            "session_id": "fake-session",
            "resume_gateway_url": "wss://gateway.invalid",
            "application": {"id": str(APP_ID), "flags": 0},
            "shard": [0, 1],
        }
        guild: Any = guild_payload(channels=self.discord.channels.values())
        state.parse_ready(ready)
        state.parse_guild_create(guild)
        if also_in_other_guild:
            state.parse_guild_create(other_guild_payload())  # type: ignore[arg-type]
        await asyncio.wait_for(self.bot.wait_until_ready(), self.SETTLE_TIMEOUT)
        self._baseline = set(asyncio.all_tasks())

    async def join_other_guild(self) -> None:
        """The bot is invited to OTHER_GUILD_ID while connected (GUILD_CREATE → guild_join)."""
        before = set(asyncio.all_tasks())
        self.bot._connection.parse_guild_create(other_guild_payload())  # type: ignore[arg-type]
        self._tasks.update(set(asyncio.all_tasks()) - before)
        await self.settle()

    async def close(self) -> None:
        try:
            await self.settle()
        finally:
            await self.bot.close()
            logging.getLogger("discord").removeHandler(self._library_errors)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def cog(self) -> RollbackCog:
        cog = self.bot.get_cog("RollbackCog")
        assert isinstance(cog, RollbackCog)
        return cog

    # -- interaction payloads ------------------------------------------------------------------

    def _interaction_payload(self, person: Person, kind: int) -> JSON:
        interaction_id = self.discord.snowflake()
        channel = self.discord.channels[CHANNEL_ID]
        return {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"aW50ZXJhY3Rpb246{interaction_id}.fake-interaction-token",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "guild": {"id": str(GUILD_ID), "locale": "en-US", "features": []},
            "channel_id": str(CHANNEL_ID),
            "channel": channel,
            "member": person.member_payload(),
            "app_permissions": "2251799813685247",
            "locale": "en-GB",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 10_485_760,
        }

    def slash_payload(self, person: Person, name: str = "rollback", **options: Any) -> JSON:
        """An APPLICATION_COMMAND interaction for a synced guild command with `options`."""
        synced = {c["name"]: c for c in self.discord.synced_commands.get(GUILD_ID, [])}
        command = synced.get(name)
        assert command is not None, f"/{name} was not synced to the guild: {list(synced)}"
        types = {o["name"]: o["type"] for o in command.get("options", [])}
        payload = self._interaction_payload(person, 2)
        payload["data"] = {
            "id": command["id"],
            "name": name,
            "type": 1,
            "guild_id": str(GUILD_ID),
            "options": [
                {"name": key, "type": types[key], "value": value}
                for key, value in options.items()
                if value is not None
            ],
        }
        return payload

    def autocomplete_payload(
        self, person: Person, name: str = "rollback", *, focused: str, **options: Any
    ) -> JSON:
        """An APPLICATION_COMMAND_AUTOCOMPLETE interaction: `person` is typing option `focused`."""
        payload = self.slash_payload(person, name, **options)
        payload["type"] = AUTOCOMPLETE
        for option in payload["data"]["options"]:
            if option["name"] == focused:
                option["focused"] = True
        return payload

    def message_command_payload(
        self, person: Person, message: Mapping[str, Any], name: str = "Roll back this edit"
    ) -> JSON:
        """A message context-menu command on `message` (Discord resolves the message into the
        interaction, content and embeds included, without the message-content intent)."""
        synced = {c["name"]: c for c in self.discord.synced_commands.get(GUILD_ID, [])}
        command = synced.get(name)
        assert command is not None, f"{name!r} was not synced to the guild: {list(synced)}"
        assert command.get("type") == 3, command
        target = json.loads(json.dumps(message))
        target.setdefault("channel_id", str(CHANNEL_ID))
        payload = self._interaction_payload(person, 2)
        payload["data"] = {
            "id": command["id"],
            "name": name,
            "type": 3,
            "guild_id": str(GUILD_ID),
            "target_id": str(target["id"]),
            "resolved": {"messages": {str(target["id"]): target}},
        }
        return payload

    def select_payload(
        self, person: Person, custom_id: str, values: list[str], *, message: Mapping[str, Any]
    ) -> JSON:
        """A member's choice in the select menu `custom_id` of `message`."""
        menus = [
            component
            for row in message.get("components", [])
            for component in row.get("components", [])
            if component.get("type") == 3
        ]
        assert any(menu.get("custom_id") == custom_id for menu in menus), menus
        payload = self._interaction_payload(person, 3)
        payload["data"] = {"custom_id": custom_id, "component_type": 3, "values": values}
        payload["message"] = json.loads(json.dumps(message))
        return payload

    def click_payload(self, person: Person, custom_id: str, *, message: Mapping[str, Any]) -> JSON:
        """A MESSAGE_COMPONENT interaction for a click on the button `custom_id` of `message`.

        The button must be on `message` (a member can only click what they see).
        """
        assert custom_id in button_custom_ids(message.get("components", [])), (
            f"{custom_id} is not a button of message {message.get('id')}"
        )
        payload = self._interaction_payload(person, 3)
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        payload["message"] = json.loads(json.dumps(message))
        return payload

    # -- dispatch -------------------------------------------------------------------------------

    def send(self, payload: JSON) -> Dispatched:
        """Feed an INTERACTION_CREATE to the gateway parser; do not wait for the handlers."""
        self.discord.register_interaction(payload)
        before = set(asyncio.all_tasks())
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        self._tasks.update(set(asyncio.all_tasks()) - before)
        dispatched = Dispatched(payload, self.discord)
        self.dispatched.append(dispatched)
        return dispatched

    def send_slash(self, person: Person, **options: Any) -> Dispatched:
        return self.send(self.slash_payload(person, **options))

    def send_click(
        self, person: Person, custom_id: str, *, message: Mapping[str, Any]
    ) -> Dispatched:
        return self.send(self.click_payload(person, custom_id, message=message))

    async def slash(self, person: Person, **options: Any) -> Dispatched:
        """`/rollback` with these options by `person`; returns once the bot has finished."""
        dispatched = self.send_slash(person, **options)
        await self.settle()
        return dispatched

    async def click(
        self, person: Person, custom_id: str, *, message: Mapping[str, Any]
    ) -> Dispatched:
        dispatched = self.send_click(person, custom_id, message=message)
        await self.settle()
        return dispatched

    async def open_prompt(
        self, person: Person = MOD, *, page: str = "Main Page", user: str = "Vandal", **options: Any
    ) -> Prompt:
        """Run /rollback and return the prompt it showed (fails if it showed none)."""
        run = await self.slash(person, page=page, user=user, **options)
        message = run.original_message
        ids = button_custom_ids(message["components"])
        assert ids, f"no prompt buttons: {[str(r) for r in run.requests]}"
        request_id = int(ids[0].rsplit(":", 1)[1])
        return Prompt(run=run, request_id=request_id, message=message)

    def old_prompt_message(self, request_id: int) -> JSON:
        """A prompt message for `request_id` as an earlier bot process would have left it."""
        return self.discord.add_message(
            {
                "embeds": [{"title": "Confirm rollback", "type": "rich"}],
                "components": prompt_view(request_id).to_components(),
            },
            flags=EPHEMERAL,
        )

    async def settle(self, within: float | None = None) -> None:
        """Wait for every task the dispatched interactions started (and the tasks they start)."""
        deadline = asyncio.get_running_loop().time() + (within or self.SETTLE_TIMEOUT)
        current = asyncio.current_task()
        while True:
            # Tasks started by handlers (not long-lived ones from before the first dispatch).
            self._tasks.update(
                t for t in asyncio.all_tasks() if t not in self._baseline and t is not current
            )
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                break
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"handlers still running: {pending}")
            await asyncio.wait(pending, timeout=remaining)
        for task in self._tasks:
            if not task.cancelled() and task.exception() is not None:
                error = task.exception()
                assert error is not None
                if error not in self.task_errors:
                    self.task_errors.append(error)
        self._baseline |= self._tasks

    async def until(self, predicate: Callable[[], bool], within: float | None = None) -> None:
        """Poll until `predicate()` holds (for tests that hold a handler mid-way)."""
        async with asyncio.timeout(within or self.SETTLE_TIMEOUT):
            while not predicate():  # noqa: ASYNC110 - the state lives in fakes without events
                await asyncio.sleep(0.001)

    # -- inspection -------------------------------------------------------------------------------

    async def row(self, request_id: int) -> RollbackRequest:
        async with self.sessions() as session:
            row = await audit.get_request(session, request_id)
        assert row is not None, f"no audit row {request_id}"
        return row

    async def rows(self) -> list[RollbackRequest]:
        """Every audit row, oldest first."""
        async with self.sessions() as session:
            by_id = RollbackRequest.id  # a column at class level, `int | None` on rows
            result = await session.execute(select(RollbackRequest).order_by(by_id))  # type: ignore[arg-type]
            return list(result.scalars())

    def log_posts(self) -> list[SentRequest]:
        return self.discord.channel_posts(LOG_CHANNEL_ID)

    def check_invariants(self) -> None:
        """What must hold after any scenario (the `harness` fixture calls this at teardown).

        - every interaction got exactly one initial response (none: Discord shows "This
          interaction failed"; two: Discord refuses the second);
        - every message the bot sent or edited has `allowed_mentions == {"parse": []}`;
        - no handler task died, discord.py logged no "Ignoring exception", no unknown route.
        """
        problems: list[str] = []
        for dispatched in self.dispatched:
            count = self.discord.callbacks_of(dispatched.token)
            if count != 1 and dispatched.token not in self.expected_unanswered:
                kind = dispatched.payload["type"]
                problems.append(f"interaction type {kind} answered {count} times")
        for sent in self.discord.requests:
            if sent.carries_message and sent.allowed_mentions != NO_MENTIONS_PAYLOAD:
                problems.append(f"{sent}: allowed_mentions={sent.allowed_mentions!r}")
        problems.extend(f"task died: {error!r}" for error in self.task_errors)
        problems.extend(
            f"discord.py logged: {r.getMessage()}" for r in self._library_errors.records
        )
        problems.extend(f"unexpected request: {r}" for r in self.discord.unexpected)
        assert not problems, "\n".join(problems)
