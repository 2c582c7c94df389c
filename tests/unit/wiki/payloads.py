"""MediaWiki 1.39 formatversion=2 payloads and the fake wiki's respx routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

from bot.wiki.client import WikiClient

API = "https://wiki.example.org/w/api.php"
BOT_LOGIN = "RollBot@rollbot"
PASSWORD = "hunter2-bot-password-xyz"
USER_AGENT = "RollBot/1.0 (https://example.org/rollbot; ops@example.org)"
LOGIN_TOKEN = "9ed1499d99c0c34c73faa07157b3b6075b427365+\\"
ROLLBACK_TOKEN = "d36a517a732991d5aaafae8bd40eee4a5c7bf75a+\\"
DOCREF = "See https://wiki.example.org/w/api.php for API usage."

MakeClient = Callable[..., WikiClient]  # the `make_client` fixture


def form(request: httpx.Request) -> dict[str, str]:
    """The urlencoded body of a POST."""
    return dict(parse_qsl(request.content.decode()))


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def api_error(
    code: str, text: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    """An API error as MediaWiki sends it with errorformat=plaintext: HTTP 200 + header."""
    error: dict[str, Any] = {"code": code, "text": text, "module": "main"}
    error.update(extra)
    return httpx.Response(
        200,
        headers={"MediaWiki-API-Error": code, **(headers or {})},
        json={"errors": [error], "docref": DOCREF, "servedby": "mw1397"},
    )


def login_token_response() -> httpx.Response:
    return httpx.Response(
        200, json={"batchcomplete": True, "query": {"tokens": {"logintoken": LOGIN_TOKEN}}}
    )


def login_success() -> httpx.Response:
    return httpx.Response(
        200,
        json={"login": {"result": "Success", "lguserid": 42, "lgusername": "RollBot"}},
        headers={"Set-Cookie": "wikiSession=abc123; path=/; secure; HttpOnly"},
    )


def rollback_token_response(token: str = ROLLBACK_TOKEN) -> httpx.Response:
    return httpx.Response(
        200, json={"batchcomplete": True, "query": {"tokens": {"rollbacktoken": token}}}
    )


def rollback_success(
    *, title: str = "Sandbox", revid: int = 1004, old_revid: int = 1003, last_revid: int = 1001
) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "rollback": {
                "title": title,
                "pageid": 77,
                "summary": "Reverted edits by Vandal (talk) to last revision by Alice",
                "revid": revid,
                "old_revid": old_revid,
                "last_revid": last_revid,
            }
        },
    )


def rev(
    revid: int,
    user: str | None,
    timestamp: str,
    *,
    parentid: int | None = None,
    size: int = 100,
    comment: str = "edit",
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """One revision as prop=revisions&rvprop=ids|timestamp|user|size|comment|tags returns it."""
    raw: dict[str, Any] = {
        "revid": revid,
        "parentid": revid - 1 if parentid is None else parentid,
        "timestamp": timestamp,
        "size": size,
        "comment": comment,
        "tags": tags or [],
    }
    if user is None:
        raw["userhidden"] = True
    else:
        raw["user"] = user
    return raw


def history(
    revisions: list[dict[str, Any]],
    *,
    title: str = "Sandbox",
    pageid: int = 77,
    rvcontinue: str | None = None,
    normalized_from: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "query": {"pages": [{"pageid": pageid, "ns": 0, "title": title, "revisions": revisions}]}
    }
    if normalized_from is not None:
        body["query"]["normalized"] = [{"fromencoded": False, "from": normalized_from, "to": title}]
    if rvcontinue is None:
        body["batchcomplete"] = True
    else:
        body["continue"] = {"rvcontinue": rvcontinue, "continue": "||"}
    return httpx.Response(200, json=body)


def missing_page(title: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "batchcomplete": True,
            "query": {"pages": [{"ns": 0, "title": title, "missing": True}]},
        },
    )


class Sleeps:
    """A fake `sleep` that records delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Wiki:
    """The named routes of the fake wiki; tests add side effects and count calls."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.login_token = mock.get(API, params__contains={"meta": "tokens", "type": "login"})
        self.login_token.side_effect = lambda request: login_token_response()
        self.login = mock.post(API, data__contains={"action": "login"})
        self.login.side_effect = lambda request: login_success()
        self.rollback_token = mock.get(API, params__contains={"meta": "tokens", "type": "rollback"})
        self.rollback_token.side_effect = lambda request: rollback_token_response()
        self.rollback = mock.post(API, data__contains={"action": "rollback"})
        self.history = mock.get(API, params__contains={"prop": "revisions"})
        self.messages = mock.get(API, params__contains={"meta": "allmessages"})
