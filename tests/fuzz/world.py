"""The world a fuzz case runs in, and the properties checked after every case.

- `FuzzHarness`: the review harness (`/rollback` and `/rollback-log` with per-guild settings, as
  `app.main` wires them) whose link builder is a real `WikiClient` (never opened: it holds the
  wiki password as in production and percent-encodes titles as production does), whose wiki is
  `FuzzWiki`, and whose Discord is `StrictDiscord`.
- `StrictDiscord`: FakeDiscord (with uploads) that also refuses what the real API refuses - an
  embed or message over Discord's limits gets 400 Invalid Form Body instead of being stored.
- `FuzzWiki`: FakeWiki answering from a generated `WikiScript` and from the input itself (titles
  MediaWiki cannot hold are `invalidtitle`, whatever the script says).
- `LogWatch`: every log line as production prints it (same format, same redaction filter).
- `Checker`: the properties, checked over the slice of the world one case touched.
- `TALLIES`: what the fuzz run did per backend, for the closing note (`tests/fuzz/conftest.py`).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pydantic import SecretStr
from sqlalchemy import Table, func, select, text
from sqlmodel import SQLModel

from bot.db.engine import create_session_factory
from bot.db.models import RollbackRequest, RollbackStatus
from bot.discord_bot import RollBot
from bot.logging_setup import RedactingFilter
from bot.services.guild_settings import GuildDefaults, GuildSettingsService
from bot.services.history import HistoryService
from bot.services.rollback import RollbackService
from bot.services.settlement import Settlement
from bot.ui.csv_export import DANGEROUS_PREFIXES
from bot.wiki.client import WikiClient
from bot.wiki.errors import InvalidTitleError, WikiTransportError, error_for
from bot.wiki.history import ROLLBACK_TAG
from bot.wiki.names import capitalized_title
from bot.wiki.results import PreviewProblem, Revision, RollbackPreview, RollbackResult, Successor
from tests.conftest import migrated_engine, postgres_base_url, scratch_postgres_database, sqlite_url
from tests.discord.harness import (
    _API_BASE,
    CHANNEL_ID,
    CHANNEL_MESSAGE,
    CONFIRM_TIMEOUT,
    DEFERRED_CHANNEL_MESSAGE,
    GUILD_ID,
    HELPER_ROLE_ID,
    JSON,
    LOG_CHANNEL_ID,
    MOD,
    MOD_ROLE_ID,
    NO_MENTIONS_PAYLOAD,
    NOBODY,
    OTHER_MOD,
    TOKEN,
    UPDATE_MESSAGE,
    FakeDiscord,
    FakeResponse,
    SentRequest,
    WallClock,
    _no_sleep,
    text_channel_payload,
)
from tests.discord.test_history_commands import ReviewHarness, UploadingDiscord
from tests.unit.services.fakes import T0, Clock, FakeWiki

PASSWORD = "fuzz-wiki-B0tPassw0rd-5f3c9e1d"  # the BotPassword the WikiClient holds
SECRETS = (TOKEN, PASSWORD)
API_URL = "https://wiki.example/w/api.php"
KNOWN_IDS = frozenset(
    {MOD.user_id, OTHER_MOD.user_id, NOBODY.user_id, MOD_ROLE_ID, HELPER_ROLE_ID}
    | {GUILD_ID, CHANNEL_ID, LOG_CHANNEL_ID}
)
_LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"  # as bot.logging_setup

# ---- Discord's limits -----------------------------------------------------------------------

# https://discord.com/developers/docs/resources/message#embed-object-embed-limits (counted here
# in code points, as discord.py's len(Embed) does).
_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}
_EMBED_TOTAL = 6000
_CONTENT = 2000
_URL = 2048


def _embed_problems(index: int, embed: Mapping[str, Any]) -> tuple[list[str], int]:
    problems: list[str] = []
    total = 0
    for key, limit in _EMBED_TEXT_LIMITS.items():
        value = embed.get(key) or ""
        total += len(value)
        if len(value) > limit:
            problems.append(f"embeds.{index}.{key}: {len(value)} > {limit}")
    fields = embed.get("fields") or []
    if len(fields) > 25:
        problems.append(f"embeds.{index}.fields: {len(fields)} > 25")
    for number, item in enumerate(fields):
        name, value = item.get("name") or "", item.get("value") or ""
        total += len(name) + len(value)
        if not name or len(name) > 256:
            problems.append(f"embeds.{index}.fields.{number}.name: length {len(name)}")
        if not value or len(value) > 1024:
            problems.append(f"embeds.{index}.fields.{number}.value: length {len(value)}")
    footer = (embed.get("footer") or {}).get("text") or ""
    author = (embed.get("author") or {}).get("name") or ""
    total += len(footer) + len(author)
    if len(footer) > 2048 or len(author) > 256:
        problems.append(f"embeds.{index}.footer/author too long")
    url = embed.get("url")
    if url is not None and (len(url) > _URL or not re.fullmatch(r"https?://\S+", url)):
        problems.append(f"embeds.{index}.url: not a well formed URL ({len(url)} chars)")
    return problems, total


def message_problems(fields: Mapping[str, Any]) -> list[str]:
    """Why Discord would refuse a message with these fields (empty: it would accept it)."""
    problems: list[str] = []
    content = fields.get("content")
    if isinstance(content, str) and len(content) > _CONTENT:
        problems.append(f"content: {len(content)} > {_CONTENT}")
    embeds = fields.get("embeds") or []
    if len(embeds) > 10:
        problems.append(f"embeds: {len(embeds)} > 10")
    total = 0
    for index, embed in enumerate(embeds):
        found, size = _embed_problems(index, embed)
        problems.extend(found)
        total += size
    if total > _EMBED_TOTAL:
        problems.append(f"embeds: {total} characters > {_EMBED_TOTAL}")
    stack = list(fields.get("components") or [])
    while stack:
        component = stack.pop()
        stack.extend(component.get("components") or [])
        if len(component.get("custom_id") or "") > 100 or len(component.get("label") or "") > 80:
            problems.append(f"component {component.get('custom_id')!r}: id or label too long")
    return problems


class StrictDiscord(UploadingDiscord):
    """FakeDiscord that refuses an over-long message with 400 Invalid Form Body, as Discord does.

    (FakeDiscord stores whatever it is sent: a preview embed 200 characters over the limit would
    pass there and fail for every moderator.)
    """

    async def _answer(self, method: str, url: str, kwargs: Mapping[str, Any]) -> FakeResponse:
        path = unquote(url[len(_API_BASE) :].split("?", 1)[0])
        data = kwargs.get("data")
        body = json.loads(data) if isinstance(data, str | bytes) and data else None
        problems = message_problems(_message_fields(method, path, body))
        if not problems:
            return await super()._answer(method, url, kwargs)
        await asyncio.sleep(0)
        sent = SentRequest(
            seq=next(self._seq),
            method=method,
            path=path,
            json=body,
            params=kwargs.get("params"),
            wiki_calls=self._wiki_calls(),
            token=self._token_of(path),
            status=400,
            response={"code": 50035, "message": f"Invalid Form Body: {'; '.join(problems)}"},
        )
        self.requests.append(sent)
        return FakeResponse(400, sent.response)

    def _apply(self, message: JSON, fields: Mapping[str, Any]) -> None:  # type: ignore[override]
        """As FakeDiscord's, but an uploaded file comes back as Discord describes it (with its
        `id`, `size` and `url`), which discord.py needs to build the returned message."""
        attachments = fields.get("attachments")
        if attachments:
            fields = {**fields, "attachments": [self._attachment(a) for a in attachments]}
        FakeDiscord._apply(message, fields)

    def _attachment(self, sent: Mapping[str, Any]) -> JSON:
        if "size" in sent:
            return dict(sent)
        name = str(sent.get("filename"))
        size = next((len(data) for n, data in reversed(self.uploads) if n == name), 0)
        url = f"https://cdn.discordapp.com/attachments/{CHANNEL_ID}/{self.snowflake()}/{name}"
        return {
            "id": str(self.snowflake()),
            "filename": name,
            "size": size,
            "url": url,
            "proxy_url": url,
            "content_type": "text/csv; charset=utf-8",
        }


def _message_fields(method: str, path: str, body: Any) -> Mapping[str, Any]:
    if not isinstance(body, dict) or method not in ("POST", "PATCH"):
        return {}
    if path.endswith("/callback"):
        if body.get("type") in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            return body.get("data") or {}
        return {}
    return body


# ---- the wiki -------------------------------------------------------------------------------

PREVIEW_KINDS = ("ready", "missing", "notlast", "onlyauthor", "apierror", "transport", "crash")
ROLLBACK_KINDS = (
    "ok",
    "apierror",
    "transport",
    "ambiguous-found",
    "ambiguous-none",
    "ambiguous-superseded",
    "ambiguous-unverified",
    "crash",
)


@dataclass(frozen=True)
class WikiScript:
    """How the wiki answers one case (generated)."""

    preview: str = "ready"
    rollback: str = "ok"
    page_changes: bool = False  # someone edits between the preview and Confirm
    error_code: str = "protectedpage"
    error_info: str = "This page has been protected."  # wiki-controlled text
    edits: int = 2
    capped: bool = False
    restored_user: str | None = "Editor"  # None: hidden by revision deletion
    top_user: str | None = "Someone"
    default_summary_fails: bool = False


class WikiCrashError(RuntimeError):
    """A bug in the wiki client (not a wiki answer): the service must log it and carry on."""


def _crash() -> WikiCrashError:
    # The way a careless client would carry a secret: in the cause of a chained exception.
    error = WikiCrashError("unexpected answer while logging in")
    error.__cause__ = ConnectionError(f"POST {API_URL} action=login lgpassword={PASSWORD}")
    return error


_ILLEGAL_IN_TITLE = re.compile(r"[#<>\[\]|{}\x00-\x1f\x7f]")
_NAMESPACE_ONLY = re.compile(r"(?i)(talk|user|user talk|special|)\s*:\s*")


def wiki_title_problem(title: str) -> str | None:
    """Why MediaWiki would call `title` invalid (its own checks, simplified)."""
    if _ILLEGAL_IN_TITLE.search(title):
        return "The requested page title contains invalid characters."
    if len(title.encode("utf-8", "surrogatepass")) > 255:
        return "The requested page title is too long."
    if _NAMESPACE_ONLY.fullmatch(title):
        return "The requested page title is empty or contains only the name of a namespace."
    if title.lower().startswith("special:"):
        return "Special pages have no history to roll back."
    return None


class FuzzWiki(FakeWiki):
    """Answers from `script` (set per case) and from the title itself."""

    def __init__(self) -> None:
        super().__init__()
        self.script = WikiScript()
        self.crashes = 0
        self._previews_this_case = 0
        self._top = 1000

    def begin_case(self, script: WikiScript) -> None:
        self.script = script
        self.crashes = 0
        self._previews_this_case = 0
        self._top += 1000  # every case gets revisions of its own

    async def preview(self, title: str, user: str) -> RollbackPreview:
        self.preview_calls.append((title, user))
        script = self.script
        self._previews_this_case += 1
        problem = wiki_title_problem(title)
        if problem is not None:
            raise InvalidTitleError("invalidtitle", f"{problem} Title: {title}")
        if script.preview == "apierror":
            raise error_for(script.error_code, script.error_info)
        if script.preview == "transport":
            raise WikiTransportError("connection refused", ambiguous=False)
        if script.preview == "crash":
            self.crashes += 1
            raise _crash()
        # The page changes once, between the first preview and the re-check at Confirm.
        top_revid = self._top + (1 if script.page_changes and self._previews_this_case > 1 else 0)
        return self._preview(capitalized_title(title), user, top_revid)

    def _preview(self, title: str, user: str, top_revid: int) -> RollbackPreview:
        script = self.script
        stamp = T0 + timedelta(minutes=top_revid % 10_000)
        top = Revision(top_revid, top_revid - 1, user, stamp, 40)
        restored = Revision(
            top_revid - script.edits, top_revid - script.edits - 1, script.restored_user, stamp, 900
        )
        problems = {
            "missing": PreviewProblem.MISSING_PAGE,
            "notlast": PreviewProblem.NOT_LAST_EDITOR,
            "onlyauthor": PreviewProblem.ONLY_AUTHOR,
        }
        problem = problems.get(script.preview)
        if problem is PreviewProblem.MISSING_PAGE:
            return RollbackPreview(title, None, user, None, None, 0, False, problem)
        if problem is PreviewProblem.NOT_LAST_EDITOR:
            other = Revision(top_revid, top_revid - 1, script.top_user, stamp, 40)
            return RollbackPreview(title, 7, user, other, None, 0, False, problem)
        if problem is PreviewProblem.ONLY_AUTHOR:
            return RollbackPreview(title, 7, user, top, None, script.edits, False, problem)
        return RollbackPreview(title, 7, user, top, restored, script.edits, script.capped, None)

    async def rollback(
        self, title: str, user: str, *, summary: str | None, markbot: bool = False
    ) -> RollbackResult:
        self.rollback_calls.append(
            {"title": title, "user": user, "summary": summary, "markbot": markbot}
        )
        kind = self.script.rollback
        if kind == "apierror":
            raise error_for(self.script.error_code, self.script.error_info)
        if kind == "transport":
            raise WikiTransportError("connection refused", ambiguous=False)
        if kind.startswith("ambiguous"):
            raise WikiTransportError("read timeout", ambiguous=True, timed_out=True)
        if kind == "crash":
            self.crashes += 1
            raise _crash()
        return self._result(title, summary or "")

    def _result(self, title: str, summary: str) -> RollbackResult:
        top = self._top + (1 if self.script.page_changes else 0)
        return RollbackResult(
            title=title,
            pageid=7,
            summary=summary,
            revid=top + 1,
            old_revid=top,
            last_revid=top - self.script.edits,
        )

    async def revision_after(
        self, title: str, revid: int, *, pageid: int | None = None
    ) -> Successor:
        """What settlement reads after a lost answer: the bot's rollback, someone else's edit,
        nothing yet, or an unreadable history, as the script says."""
        self.find_calls.append((title, revid))
        kind = self.script.rollback
        if kind == "ambiguous-unverified":
            raise WikiTransportError("read timeout", ambiguous=True, timed_out=True)
        revision = None
        if kind in ("ambiguous-found", "ambiguous-superseded"):
            ours = kind == "ambiguous-found"
            revision = Revision(
                revid=revid + 1,
                parentid=revid,
                user=self.account_name if ours else self.script.top_user,
                timestamp=T0 + timedelta(hours=1),
                size=900,
                comment="Reverted edits (found in the history)",
                tags=(ROLLBACK_TAG,) if ours else (),
            )
        return Successor(title=title, pageid=pageid or 7, after_revid=revid, revision=revision)

    async def default_rollback_summary(self) -> str:
        if self.script.default_summary_fails:
            raise error_for("missingmessage", "The wiki has no MediaWiki:Revertpage text.")
        return await super().default_rollback_summary()


# ---- the harness ------------------------------------------------------------------------------


class FuzzHarness(ReviewHarness):
    """One bot for a whole fuzz run; see the module docstring."""

    wiki: FuzzWiki
    links: WikiClient
    log_watch: LogWatch

    @classmethod
    async def start_fuzz(cls, sessions: Any) -> FuzzHarness:
        wiki = FuzzWiki()
        clock = Clock()
        settings = GuildSettingsService(
            sessions=sessions,
            defaults=GuildDefaults(
                log_channel_id=LOG_CHANNEL_ID, rollback_role_ids=frozenset({MOD_ROLE_ID})
            ),
        )
        service = RollbackService(
            wiki=wiki,
            sessions=sessions,
            roles=settings,
            confirm_timeout=CONFIRM_TIMEOUT,
            clock=clock,
            # Settlement's re-check pauses (7.5 s after a lost answer) are not waited for.
            settlement=Settlement(wiki=wiki, sessions=sessions, sleep=_no_sleep),
        )
        api = StrictDiscord(
            wiki_calls=lambda: (
                len(wiki.preview_calls) + len(wiki.rollback_calls) + len(wiki.find_calls)
            )
        )
        api.add_channel(text_channel_payload(CHANNEL_ID, "moderators", 0))
        api.add_channel(text_channel_payload(LOG_CHANNEL_ID, "rollback-log", 1))
        history = HistoryService(sessions=sessions, clock=clock)
        # Production passes its WikiClient as the link builder; this one is never opened.
        links = WikiClient(
            api_url=API_URL,
            username="Rollbot@rollbot",
            password=SecretStr(PASSWORD),
            user_agent="rollbot-fuzz/1.0 (https://wiki.example/wiki/User:Rollbot)",
        )
        log_clock = WallClock()
        bot = RollBot(
            service=service,
            sessions=sessions,
            links=links,
            guild_ids=[GUILD_ID],
            guild_settings=settings,
            history=history,
            sweep_seconds=3600,  # the cases run the sweep themselves
            log_sweep_seconds=3600,  # the outbox sweep too (`h.bot.log_poster.deliver_due()`)
            clock=log_clock,
        )
        h = cls(
            bot=bot, service=service, wiki=wiki, clock=clock, discord_api=api, sessions=sessions
        )
        h.log_clock = log_clock
        h.settings = settings
        h.history = history
        h.links = links
        await h._login()
        await h.connect()
        return h

    async def settle(self, within: float | None = None) -> None:
        await super().settle(within)
        # Finished tasks are checked (their errors are in `task_errors`); forgetting them keeps
        # each settle proportional to one case, not to the whole run.
        self._tasks = {task for task in self._tasks if not task.done()}
        self._baseline = {task for task in self._baseline if not task.done()}

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.links.aclose()


@asynccontextmanager
async def fuzz_world(backend: str, tmp_path: Path) -> AsyncIterator[FuzzHarness]:
    """A migrated database of `backend`, a connected `FuzzHarness` on it, and a `LogWatch`."""
    async with AsyncExitStack() as stack:
        if backend == "sqlite":
            url = sqlite_url(tmp_path)
        else:
            url = await stack.enter_async_context(scratch_postgres_database(postgres_base_url()))
        engine = await stack.enter_async_context(migrated_engine(url))
        watch = stack.enter_context(LogWatch.installed())
        h = await FuzzHarness.start_fuzz(create_session_factory(engine))
        h.log_watch = watch
        try:
            yield h
        finally:
            await h.close()


# ---- logs ---------------------------------------------------------------------------------------


class _SeenRaw(logging.Filter):
    """Counts records that held a secret before redaction (runs before `RedactingFilter`)."""

    def __init__(self, watch: LogWatch) -> None:
        super().__init__()
        self._watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        raw = record.getMessage()
        if record.exc_info:
            raw += logging.Formatter().formatException(record.exc_info)
        if any(secret in raw for secret in SECRETS):
            self._watch.redacted += 1
        return True


class LogWatch(logging.Handler):
    """Every log record, formatted and redacted exactly as `configure_logging` does.

    Keeps only what the checks need (lines are not stored: a long run logs megabytes): the
    formatted lines holding a secret (`leaks`), and ERROR records (`errors`).
    """

    def __init__(self, *, redact: bool = True) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(_LOG_FORMAT))
        self.addFilter(_SeenRaw(self))
        if redact:
            self.addFilter(RedactingFilter(SECRETS))
        self.lines = 0
        self.redacted = 0
        self.leaks: list[str] = []
        self.errors: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.lines += 1
        if any(secret in line for secret in SECRETS):
            self.leaks.append(line[:300])
        if record.levelno >= logging.ERROR:
            self.errors.append(record)

    @staticmethod
    def installed(*, redact: bool = True) -> _Installed:
        return _Installed(LogWatch(redact=redact))


class _Installed:
    """Context manager: the watch on the root logger (at INFO, production's default) and on
    `bot` / `discord` (at DEBUG, where discord.py logs every request body)."""

    def __init__(self, watch: LogWatch) -> None:
        self.watch = watch
        self._levels: dict[str, int] = {}

    def __enter__(self) -> LogWatch:
        for name, level in (("", logging.INFO), ("bot", logging.DEBUG), ("discord", logging.DEBUG)):
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(level)
            logger.addHandler(self.watch)
            # bot/discord DEBUG lines stop here: pytest's own capture would keep every one of
            # them (hundreds of MB over a long run). Failures list their ERROR lines anyway.
            logger.propagate = not name
        return self.watch

    def __exit__(self, *exc: object) -> None:
        for name, level in self._levels.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self.watch)
            logger.setLevel(level)
            logger.propagate = True


# ---- the properties -------------------------------------------------------------------------

# Mention syntax Discord renders: `@everyone` / `@here`, users, roles, channels. A match counts
# only when not backslash-escaped (an even run of backslashes escapes itself).
_MENTION = re.compile(
    r"(?P<slashes>\\*)(?:@(?P<mass>everyone|here)|<(?P<kind>@!?|@&|#)(?P<id>\d+)>)"
)
# The line the service logs for a wiki-client bug (its text, since redaction rewrites `msg`).
_CRASH_LOG = re.compile(r"request \d+ crashed")
_CRASH_LOGGERS = frozenset({"bot.services.rollback", "bot.services.sending"})


def rendered_mentions(text: str) -> list[str]:
    """Mention syntax Discord would render in `text` for someone the bot did not mean to name
    (anything but this guild's own members, roles and channels)."""
    found = []
    for match in _MENTION.finditer(text):
        if len(match["slashes"]) % 2:
            continue
        if match["mass"] or int(match["id"]) not in KNOWN_IDS:
            found.append(match[0].lstrip("\\"))
    return found


def pinging_mentions(text: str) -> list[str]:
    """The rendered mentions that could notify someone were `allowed_mentions` ever to allow
    it: `@everyone`, `@here`, and users or roles by a real snowflake (17-20 digits)."""
    return [
        found
        for found in rendered_mentions(text)
        if not found.startswith("<#") and not re.fullmatch(r"<@[!&]?\d{1,16}>", found)
    ]


def _embed_strings(embed: Mapping[str, Any]) -> Iterable[str]:
    yield embed.get("title") or ""
    yield embed.get("description") or ""
    for item in embed.get("fields") or []:
        yield item.get("name") or ""
        yield item.get("value") or ""
    yield (embed.get("footer") or {}).get("text") or ""


@dataclass
class Tally:
    """What the fuzz run did (printed by tests/fuzz/conftest.py at the end of the session)."""

    cases: Counter[str] = field(default_factory=Counter)
    interactions: int = 0
    requests: int = 0
    log_lines: int = 0
    db_cells: int = 0
    redacted: int = 0
    unhandled: int = 0
    pings: int = 0
    unescaped: int = 0
    leaks: int = 0
    refused_by_discord: int = 0
    unanswered: int = 0
    left_open: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def note(self) -> str:
        cases = sum(self.cases.values())
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.cases.items()))
        outcomes = ", ".join(f"{k} {n}" for k, n in self.outcomes.most_common())
        return (
            f"fuzz: {cases} cases run ({kinds}); {self.interactions} interactions, "
            f"{self.requests} Discord requests, {self.log_lines} log lines, {self.db_cells} DB "
            f"cells checked; {self.unhandled} unhandled, {self.pings} pings, {self.leaks} leaks, "
            f"{self.unescaped} unescaped mentions, {self.refused_by_discord} refused by Discord, "
            f"{self.unanswered} mis-answered, {self.left_open} rows left open "
            f"({self.redacted} log records redacted)\n  outcomes: {outcomes}"
        )


# One per backend, so the closing note says what each database saw.
TALLIES: defaultdict[str, Tally] = defaultdict(Tally)


@dataclass
class Window:
    """Where the world stood when a case began (the case is checked from here on)."""

    requests: int
    dispatched: int
    task_errors: int
    library_errors: int
    unexpected: int
    log_errors: int
    log_leaks: int
    log_lines: int
    redacted: int
    uploads: int
    first_ids: dict[str, int]  # per table with an `id` key: the first id this case may add

    @property
    def first_row_id(self) -> int:
        return self.first_ids[RollbackRequest.__tablename__]


class Checker:
    """The properties of one case. `begin` before the case, `check` after it."""

    def __init__(self, h: FuzzHarness, tally: Tally) -> None:
        self.h = h
        self.tally = tally

    async def begin(self) -> Window:
        h = self.h
        first_ids: dict[str, int] = {}
        async with h.sessions() as session:
            for table in _tables_with_ids():
                last = await session.scalar(select(func.max(table.c.id)))
                first_ids[table.name] = (last or 0) + 1
        return Window(
            requests=len(h.discord.requests),
            dispatched=len(h.dispatched),
            task_errors=len(h.task_errors),
            library_errors=len(h._library_errors.records),
            unexpected=len(h.discord.unexpected),
            log_errors=len(h.log_watch.errors),
            log_leaks=len(h.log_watch.leaks),
            log_lines=h.log_watch.lines,
            redacted=h.log_watch.redacted,
            uploads=len(h.uploads),
            first_ids=first_ids,
        )

    async def check(self, window: Window, *, kind: str) -> list[str]:
        """Every property over what happened since `window`; updates the tally."""
        h, tally = self.h, self.tally
        await h.settle()
        tally.cases[kind] += 1
        problems: list[str] = []
        problems += self._answers(window)
        problems += self._requests(window)
        problems += self._errors(window)
        problems += await self._database(window)
        leaks = h.log_watch.leaks[window.log_leaks :]
        tally.leaks += len(leaks)
        problems += [f"secret in a log line: {line}" for line in leaks]
        tally.log_lines += h.log_watch.lines - window.log_lines
        tally.redacted += h.log_watch.redacted - window.redacted
        return problems

    def _answers(self, window: Window) -> list[str]:
        """Each interaction answered exactly once, and only to the member (ephemeral)."""
        h, problems = self.h, []
        by_token: dict[str | None, list[SentRequest]] = {}
        for request in h.discord.requests[window.requests :]:
            by_token.setdefault(request.token, []).append(request)
        for dispatched in h.dispatched[window.dispatched :]:
            self.tally.interactions += 1
            sent = by_token.get(dispatched.token, [])
            callbacks = [r for r in sent if r.is_callback and r.status < 300]
            if len(callbacks) != 1:
                self.tally.unanswered += 1
                problems.append(
                    f"interaction {dispatched.payload['data']} answered {len(callbacks)} times: "
                    f"{[str(r) for r in sent]}"
                )
                continue
            (callback,) = callbacks
            followups = [r for r in sent if r.method == "POST" and not r.is_callback]
            public = callback.callback_type in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE) and (
                not callback.ephemeral
            )
            if public or any(not r.ephemeral for r in followups if r.status < 300):
                self.tally.unanswered += 1
                problems.append(f"a public answer to {dispatched.payload['data']}")
        return problems

    def _requests(self, window: Window) -> list[str]:
        """Nothing can ping, nothing is refused by Discord, no secret is sent."""
        h, problems = self.h, []
        sent = h.discord.requests[window.requests :]
        self.tally.requests += len(sent)
        for request in sent:
            if request.status >= 400:
                self.tally.refused_by_discord += 1
                problems.append(f"Discord refused {request}: {request.response}")
            if request.carries_message and request.allowed_mentions != NO_MENTIONS_PAYLOAD:
                self.tally.pings += 1
                problems.append(f"{request}: allowed_mentions={request.allowed_mentions!r}")
            content = pinging_mentions(request.content or "")
            if content:
                self.tally.pings += 1
                problems.append(f"{request}: unescaped in content: {content}")
            for embed in request.embeds:
                for value in _embed_strings(embed):
                    if rendered_mentions(value):
                        self.tally.unescaped += 1
                        problems.append(f"{request}: in an embed: {rendered_mentions(value)}")
            body = json.dumps([request.json, request.params], ensure_ascii=False, default=str)
            if any(secret in body for secret in SECRETS):
                self.tally.leaks += 1
                problems.append(f"secret sent to Discord in {request}")
        for name, data in h.uploads[window.uploads :]:
            problems += self._upload(name, data)
        return problems

    def _upload(self, name: str, data: bytes) -> list[str]:
        raw = gzip.decompress(data) if name.endswith(".gz") else data
        text_ = raw.decode("utf-8", "surrogatepass")
        problems = []
        if any(secret in text_ for secret in SECRETS):
            self.tally.leaks += 1
            problems.append(f"secret in the upload {name}")
        for row in csv.reader(io.StringIO(text_, newline="")):
            for value in row:
                if value.startswith(DANGEROUS_PREFIXES):
                    problems.append(f"{name}: a spreadsheet would run the cell {value[:40]!r}")
        return problems

    def _errors(self, window: Window) -> list[str]:
        """No unhandled exception: no task died, nothing logged at ERROR but the wiki crashes
        the service is meant to log (one line each), no request Discord does not know."""
        h = self.h
        errors = [f"task died: {e!r}" for e in h.task_errors[window.task_errors :]]
        errors += [
            f"discord.py logged: {r.getMessage()}"
            for r in h._library_errors.records[window.library_errors :]
        ]
        logged = h.log_watch.errors[window.log_errors :]
        crashes = [
            r for r in logged if r.name in _CRASH_LOGGERS and _CRASH_LOG.fullmatch(r.getMessage())
        ]
        if len(crashes) > h.wiki.crashes:
            errors.append(f"{len(crashes)} crash lines for {h.wiki.crashes} wiki crashes")
        errors += [
            f"logged at ERROR by {r.name}: {r.getMessage()}"
            for r in logged
            if r not in crashes and not r.name.startswith("discord")  # those are counted above
        ]
        errors += [f"unexpected request: {r}" for r in h.discord.unexpected[window.unexpected :]]
        self.tally.unhandled += len(errors)
        return errors

    async def _database(self, window: Window) -> list[str]:
        """No secret in any column of the rows this case added (every row of tables without an
        `id`); no row of this case left open; and this case's outcomes, for the closing note."""
        problems = await self.secrets_in_tables(window.first_ids)
        async with self.h.sessions() as session:
            rows = (
                await session.execute(
                    select(RollbackRequest).where(
                        RollbackRequest.id >= window.first_row_id  # type: ignore[operator]
                    )
                )
            ).scalars()
            for row in rows:
                status = RollbackStatus(row.status)
                outcome = f"{status.value}/{row.error_code}" if row.error_code else status.value
                self.tally.outcomes[outcome] += 1
                if not status.is_terminal:
                    self.tally.left_open += 1
                    problems.append(f"request #{row.id} left {status.value}")
            open_anywhere = await session.scalar(
                text("SELECT count(*) FROM rollback_request WHERE status IN ('pending','running')")
            )
        if open_anywhere:
            self.tally.left_open += 1
            problems.append(f"{open_anywhere} rows pending or running after the case")
        return problems

    async def secrets_in_tables(self, first_ids: Mapping[str, int] | None = None) -> list[str]:
        """Every column of every table (from `first_ids[table]` on, where given) as text."""
        problems: list[str] = []
        async with self.h.sessions() as session:
            for table in SQLModel.metadata.sorted_tables:
                query = select(table)
                if first_ids and table.name in first_ids:
                    query = query.where(table.c.id >= first_ids[table.name])
                for row in (await session.execute(query)).all():
                    for column, value in zip(table.columns, row, strict=True):
                        self.tally.db_cells += 1
                        if value is not None and any(s in str(value) for s in SECRETS):
                            self.tally.leaks += 1
                            problems.append(f"secret in {table.name}.{column.name}")
        return problems


def _tables_with_ids() -> list[Table]:
    return [t for t in SQLModel.metadata.sorted_tables if "id" in t.c and t.c.id.primary_key]
