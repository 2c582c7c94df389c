"""A small stateful MediaWiki behind respx, for wiki faults a real ``php -S`` cannot produce on
cue (5xx, HTML error pages, malformed JSON, maxlag, readonly, connection refused).

One page, ``Sandbox``: Alice's good revision, then the vandal's edits. ``action=rollback`` really
changes the history (a ``mw-rollback`` revision by the bot), so after a fault the client's history
re-read sees the truth. Each rollback POST takes the next :class:`Step` of ``rollback_steps``:
whether the wiki acts, and what (if anything) the client gets back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx

API = "https://wiki.example.org/w/api.php"
BOT_LOGIN = "RollBot@rollbot"
BOT_ACCOUNT = "RollBot"
PASSWORD = "a-bot-password-of-32-characters-x"
USER_AGENT = "RollBot-faults/1.0 (https://example.org/rollbot; ops@example.org)"
TITLE = "Sandbox"
PAGEID = 77
GOOD_REVID = 1001
VANDAL_REVIDS = (1002, 1003)
REVERTPAGE = "Reverted edits by [[Special:Contributions/$2|$2]] to last revision by $1"

Answer = Callable[[httpx.Request], httpx.Response]


@dataclass(frozen=True)
class Step:
    """One rollback POST: ``acts`` says whether the wiki applies it; then the client gets
    ``answer(request)`` or ``error`` raised, or (both None) the wiki's real answer."""

    acts: bool
    answer: Answer | None = None
    error: type[httpx.TransportError] | None = None


PASS = Step(acts=True)


def html(status: int, text: str = "<html><body><h1>Bad Gateway</h1></body></html>") -> Answer:
    return lambda request: httpx.Response(status, text=text, headers={"Content-Type": "text/html"})


def api_error_response(
    code: str, text: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """An API error as MediaWiki sends it with errorformat=plaintext: HTTP 200 + header."""
    body = {"errors": [{"code": code, "text": text, "module": "main"}], "docref": "..."}
    return httpx.Response(200, json=body, headers={"MediaWiki-API-Error": code, **(headers or {})})


def api_error(code: str, text: str, headers: dict[str, str] | None = None) -> Answer:
    return lambda request: api_error_response(code, text, headers)


def raw(status: int, content: bytes, content_type: str = "application/json") -> Answer:
    return lambda request: httpx.Response(
        status, content=content, headers={"Content-Type": content_type}
    )


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeMediaWiki:
    rollback_steps: list[Step] = field(default_factory=list)
    down_after_rollback: bool = False  # every request after the first rollback POST: refused

    rollback_posts: int = 0
    applied: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)  # newest first

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        self.revisions = [
            self._rev(VANDAL_REVIDS[1], "Vandal", now - timedelta(minutes=5), "vandalism 2"),
            self._rev(VANDAL_REVIDS[0], "Vandal", now - timedelta(minutes=6), "vandalism 1"),
            self._rev(GOOD_REVID, "Alice", now - timedelta(days=1), "good", parentid=0),
        ]

    @staticmethod
    def _rev(
        revid: int,
        user: str,
        when: datetime,
        comment: str,
        *,
        parentid: int | None = None,
        tags: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        return {
            "revid": revid,
            "parentid": revid - 1 if parentid is None else parentid,
            "user": user,
            "timestamp": _ts(when),
            "size": 100,
            "comment": comment,
            "tags": list(tags),
        }

    # ---- dispatch ------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down_after_rollback and self.rollback_posts:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if request.method == "POST":
            params = dict(parse_qsl(request.content.decode()))
        else:
            params = dict(request.url.params)
        action = params.get("action")
        if action == "rollback" and request.method == "POST":
            return self._rollback(request, params)
        if action == "login":
            return httpx.Response(
                200, json={"login": {"result": "Success", "lgusername": BOT_ACCOUNT}}
            )
        if params.get("meta") == "tokens":
            kind = params.get("type", "csrf")
            return httpx.Response(
                200, json={"query": {"tokens": {f"{kind}token": f"{kind}-token+\\"}}}
            )
        if params.get("meta") == "allmessages":
            return httpx.Response(
                200,
                json={"query": {"allmessages": [{"name": "revertpage", "content": REVERTPAGE}]}},
            )
        if params.get("prop") == "revisions":
            limit = int(params.get("rvlimit", "50"))
            revisions = self.revisions  # newest first
            if "rvstartid" in params and params.get("rvdir") == "newer":
                # Oldest first, from the given revision on (as MediaWiki's rvdir=newer does).
                start = int(params["rvstartid"])
                revisions = [r for r in reversed(self.revisions) if r["revid"] >= start]
            page = {"pageid": PAGEID, "ns": 0, "title": TITLE, "revisions": revisions[:limit]}
            return httpx.Response(200, json={"batchcomplete": True, "query": {"pages": [page]}})
        raise AssertionError(f"the fake wiki does not know {request.method} {params}")

    def _rollback(self, request: httpx.Request, params: dict[str, str]) -> httpx.Response:
        self.rollback_posts += 1
        step = self.rollback_steps.pop(0) if self.rollback_steps else PASS
        answer = self._apply(params) if step.acts else None
        if step.error is not None:
            raise step.error("injected", request=request)
        if step.answer is not None:
            return step.answer(request)
        assert answer is not None, "a Step that does not act must say what the client gets"
        return answer

    def _apply(self, params: dict[str, str]) -> httpx.Response:
        target = params["user"]
        top = self.revisions[0]
        if top["user"] != target:
            return api_error_response("alreadyrolled", "Someone else has edited the page.")
        restored = next(r for r in self.revisions if r["user"] != target)
        revid = top["revid"] + 1
        self.revisions.insert(
            0,
            self._rev(
                revid,
                BOT_ACCOUNT,
                datetime.now(UTC),
                params.get("summary", ""),
                parentid=top["revid"],
                tags=("mw-rollback",),
            ),
        )
        result = {
            "title": TITLE,
            "pageid": PAGEID,
            "summary": params.get("summary", ""),
            "revid": revid,
            "old_revid": top["revid"],
            "last_revid": restored["revid"],
        }
        self.applied.append(result)
        return httpx.Response(200, json={"rollback": result})

    @property
    def bot_rollbacks(self) -> list[dict[str, Any]]:
        return [r for r in self.revisions if "mw-rollback" in r["tags"]]
