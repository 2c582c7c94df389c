"""The one MediaWiki Action API client: login, rollback tokens, history reads and rollbacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from bot.wiki.api import JSON, dig, login_error, parse_response, parse_rollback
from bot.wiki.edits import (
    Edit,
    edits_query,
    later_query,
    parse_edits,
    parse_later,
    parse_relative,
    relative_query,
)
from bot.wiki.errors import (
    AssertUserFailedError,
    BadTokenError,
    LoginError,
    NotLoggedInError,
    WikiAPIError,
    WikiError,
    WikiTransportError,
)
from bot.wiki.history import (
    ROLLBACK_TAG,
    build_preview,
    one_value,
    parse_revision,
    parse_successor,
    same_user,
    single_page,
    successor_query,
)
from bot.wiki.links import SiteLinks
from bot.wiki.names import normalize_title, normalize_username
from bot.wiki.results import (
    Revision,
    RollbackPreview,
    RollbackResult,
    SiteInfo,
    Successor,
)
from bot.wiki.retry import RetryPolicy
from bot.wiki.siteinfo import REVERTPAGE_QUERY, SITEINFO_QUERY, parse_revertpage, parse_siteinfo
from bot.wiki.tempaccounts import is_temp_account, temp_account_patterns

__all__ = ["ROLLBACK_TAG", "WikiClient"]

# action=compare's answers when the linked side does not exist (or has no next/previous).
_NO_RELATIVE = frozenset({"nosuchrevid", "compare-relative-to-nothing", "missingcontent"})

log = logging.getLogger(__name__)

_HISTORY_PAGE_SIZE = 50  # revisions per history request; vandalism runs are usually short
_ANON_TOKEN = "+\\"  # noqa: S105 - the token MediaWiki hands out to a logged-out session


class WikiClient:
    """Talks to one wiki as one BotPassword account over one long-lived HTTP client."""

    def __init__(
        self,
        *,
        api_url: str,
        username: str,
        password: SecretStr,
        user_agent: str,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 1,
        timeout: float = 30.0,
        maxlag: int = 5,
        max_preview_edits: int = 500,
        temp_account_pattern: str | None = None,
    ) -> None:
        if not user_agent.strip():
            raise ValueError("user_agent must name the bot and give a contact")
        if max_concurrency < 1 or max_preview_edits < 1:
            raise ValueError("max_concurrency and max_preview_edits must be at least 1")
        self._api_url = api_url.strip()
        self._links = SiteLinks(self._api_url)
        # Which wiki a log line is about, with several wikis in one process.
        self._host = urlsplit(self._api_url).netloc or self._api_url
        self._username = username
        self._password = password
        self._user_agent = user_agent.strip()
        self._owns_http = http is None
        # Cookies live on this client: that is the login session.
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._retry = retry if retry is not None else RetryPolicy()
        self._timeout = timeout
        self._maxlag = maxlag
        self._max_preview_edits = max_preview_edits
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._login_lock = asyncio.Lock()
        self._logged_in = False
        self._session = 0  # bumped on every login, so concurrent callers re-log in only once
        self._rollback_token: str | None = None
        self._revertpage: str | None = None
        # Why this wiki cannot be used (set by the app when its login failed at start).
        self.unavailable: str | None = None
        self.unavailable_is_transient = False
        self._siteinfo: SiteInfo | None = None
        # The operator's WIKI_TEMP_ACCOUNT_PATTERN, for wikis that do not report theirs.
        self._temp_account_pattern = temp_account_pattern

    # -- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it (an injected one is the caller's)."""
        if self._owns_http:
            await self._http.aclose()

    # -- URLs -------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The wiki's api.php URL (recorded on every audit row)."""
        return self._api_url

    @property
    def account_name(self) -> str:
        """The wiki account the bot edits as (the BotPassword login name before `@`)."""
        name = self._username.partition("@")[0]
        try:
            return normalize_username(name)
        except ValueError:
            return name.strip()

    @property
    def index_url(self) -> str:
        return self._links.index_url

    def page_url(self, title: str) -> str:
        return self._links.page_url(title)

    def diff_url(self, diff: int, oldid: int) -> str:
        return self._links.diff_url(diff, oldid)

    def contribs_url(self, user: str) -> str:
        return self._links.contribs_url(user)

    def is_temp_account(self, user: str) -> bool:
        """Whether `user` is one of this wiki's temporary accounts (a label, never a check).

        Uses the `meta=siteinfo` read at start-up when there was one; no request of its own."""
        return is_temp_account(
            user, temp_account_patterns(self._siteinfo, self._temp_account_pattern)
        )

    # -- transport --------------------------------------------------------------------------

    async def _send_once(
        self, method: str, params: dict[str, str], *, lane: asyncio.Semaphore | None = None
    ) -> JSON:
        """One HTTP request under the concurrency limit (or `lane`); raises on any failure."""
        full = {**params, "format": "json", "formatversion": "2", "errorformat": "plaintext"}
        headers = {"User-Agent": self._user_agent}
        log.debug("wiki %s action=%s", method, params.get("action"))
        async with lane if lane is not None else self._semaphore:
            try:
                if method == "GET":
                    response = await self._http.get(
                        self._api_url, params=full, headers=headers, timeout=self._timeout
                    )
                else:
                    response = await self._http.post(
                        self._api_url, data=full, headers=headers, timeout=self._timeout
                    )
            except (
                httpx.ConnectError,
                httpx.ConnectTimeout,
                httpx.PoolTimeout,
                httpx.ProxyError,
                httpx.UnsupportedProtocol,
            ) as exc:
                # Nothing reached the wiki, so re-sending is safe even for a write.
                raise WikiTransportError(
                    f"could not reach the wiki ({type(exc).__name__})",
                    ambiguous=False,
                    timed_out=isinstance(exc, httpx.TimeoutException),
                ) from exc
            except httpx.TransportError as exc:
                # Read/write timeouts, resets, protocol errors: the wiki may have acted.
                raise WikiTransportError(
                    f"lost the connection to the wiki ({type(exc).__name__})",
                    ambiguous=True,
                    timed_out=isinstance(exc, httpx.TimeoutException),
                ) from exc
        return parse_response(response)

    async def _call(
        self, method: str, params: dict[str, str], *, retry_ambiguous: bool = True
    ) -> JSON:
        """`_send_once` with retries per the policy. Sleeps happen outside the semaphore."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send_once(method, params)
            except (WikiAPIError, WikiTransportError) as exc:
                if isinstance(exc, WikiTransportError) and exc.ambiguous and not retry_ambiguous:
                    raise
                delay = self._retry.delay_for(attempt, exc)
                if delay is None:
                    raise
                log.warning(
                    "wiki %s %s action=%s failed (%r); retry %d in %.1fs",
                    self._host,
                    method,
                    params.get("action"),
                    exc,
                    attempt,
                    delay,
                )
                await self._retry.sleep(delay)

    # -- session ----------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in with the BotPassword; raises LoginError with MediaWiki's reason."""
        async with self._login_lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        self._logged_in = False
        self._rollback_token = None  # tokens belong to a session
        data = await self._call("GET", {"action": "query", "meta": "tokens", "type": "login"})
        login_token = str(dig(data, "query", "tokens", "logintoken"))
        data = await self._call(
            "POST",
            {
                "action": "login",
                "lgname": self._username,
                "lgpassword": self._password.get_secret_value(),
                "lgtoken": login_token,
            },
        )
        result = dig(data, "login")
        if not isinstance(result, dict) or result.get("result") != "Success":
            raise login_error(result)
        self._logged_in = True
        self._session += 1
        log.info("logged in to %s as %s", self._host, result.get("lgusername", self.account_name))

    async def _ensure_logged_in(self) -> None:
        if self._logged_in:
            return
        async with self._login_lock:
            if not self._logged_in:
                await self._login_locked()

    async def _read(self, params: dict[str, str]) -> JSON:
        # Reads use the bot's session too: private wikis need it, and the bot should see the
        # history its own account will act on.
        await self._ensure_logged_in()
        return await self._call("GET", params)

    async def quick_read(self, params: dict[str, str], lane: asyncio.Semaphore) -> JSON:
        """One GET whose answer is worthless late (autocomplete): under `lane`, never behind a
        rollback; not retried; on the live session only (logging in would queue)."""
        if not self._logged_in or self.unavailable is not None:
            raise NotLoggedInError("notloggedin", "No live wiki session for a quick read.")
        return await self._send_once("GET", params, lane=lane)

    async def _relogin(self, seen_session: int) -> None:
        async with self._login_lock:
            if self._session == seen_session:  # nobody else has logged in again meanwhile
                log.warning("wiki %s: session lost; logging in again", self._host)
                await self._login_locked()

    async def _rollback_token_value(self) -> str:
        if self._rollback_token is None:
            data = await self._call(
                "GET", {"action": "query", "meta": "tokens", "type": "rollback"}
            )
            token = str(dig(data, "query", "tokens", "rollbacktoken"))
            if token == _ANON_TOKEN:
                raise NotLoggedInError("notloggedin", "The wiki handed out a logged-out token.")
            self._rollback_token = token
        return self._rollback_token

    async def _post_with_rollback_token(self, params: dict[str, str]) -> JSON:
        """POST a write: fresh token once on badtoken, fresh login once on a lost session."""
        await self._ensure_logged_in()
        refreshed_token = relogged = False
        while True:
            session = self._session
            try:
                token = await self._rollback_token_value()
                data = {
                    **params,
                    "assert": "user",
                    "maxlag": str(self._maxlag),
                    "token": token,
                }
                return await self._call("POST", data, retry_ambiguous=False)
            except BadTokenError:
                if refreshed_token:
                    raise
                refreshed_token = True
                log.info("rollback token rejected; fetching a new one")
                self._rollback_token = None
            except (AssertUserFailedError, NotLoggedInError):
                if relogged:
                    raise
                relogged = True
                await self._relogin(session)

    # -- history ----------------------------------------------------------------------------

    async def _history(
        self, title: str, limit: int
    ) -> AsyncGenerator[tuple[JSON, list[Revision]], None]:
        """Yield (page, revisions newest first) per request, following `continue`.

        A missing page yields once with no revisions. Raises InvalidTitleError for titles the
        wiki cannot have a history for.
        """
        cont: dict[str, str] = {}
        while True:
            params = {
                "action": "query",
                "prop": "revisions",
                "titles": one_value(title),
                "rvprop": "ids|timestamp|user|size|comment|tags",
                "rvlimit": str(limit),
                **cont,
            }
            data = await self._read(params)
            page = single_page(data, title)
            yield page, [parse_revision(raw) for raw in page.get("revisions", ())]
            more = data.get("continue")
            if page.get("missing") or not isinstance(more, dict) or "rvcontinue" not in more:
                return
            cont = {str(key): str(value) for key, value in more.items()}

    async def preview(self, title: str, user: str) -> RollbackPreview:
        """Read the page history and say what `action=rollback` would do right now."""
        title = normalize_title(title)
        target = normalize_username(user)
        limit = min(_HISTORY_PAGE_SIZE, self._max_preview_edits + 1)
        page: JSON = {}
        revisions: list[Revision] = []
        history = self._history(title, limit)
        try:
            async for current_page, batch in history:
                page = current_page
                revisions.extend(batch)
                # Stop reading once the run of the user's edits has ended or is too long.
                if len(revisions) > self._max_preview_edits or any(
                    revision.user is not None and not same_user(revision.user, target)
                    for revision in batch
                ):
                    break
        finally:
            await history.aclose()
        return build_preview(
            page,
            title,
            target,
            revisions,
            self._max_preview_edits,
            temp_account=self.is_temp_account(target),
        )

    async def user_name_for_id(self, user_id: int) -> str | None:
        """The name of the account with id `user_id` (`list=users&ususerids=`), None if the
        wiki has none (or hides it from the bot)."""
        data = await self._read({"action": "query", "list": "users", "ususerids": str(user_id)})
        users = dig(data, "query", "users")
        first = users[0] if isinstance(users, list) and users else {}
        if not isinstance(first, dict) or first.get("missing") or first.get("hidden"):
            return None
        name = first.get("name")
        return str(name) if isinstance(name, str) and name else None

    async def revision_after(
        self, title: str, revid: int, *, pageid: int | None = None
    ) -> Successor:
        """The revision saved right after `revid` on the page (None if `revid` is the newest).

        A page's history is a line: the edit after `revid` is the only one whose parent is
        `revid`. If a rollback of the edits up to `revid` happened, it is that edit. The page is
        looked up by id when known (a move keeps it), else by title.
        """
        data = await self._read(successor_query(title, revid, pageid))
        return parse_successor(data, title, revid, pageid)

    # -- single edits ("Roll back this edit") ------------------------------------------------

    async def edits(self, revids: Sequence[int]) -> dict[int, Edit]:
        """The revisions among `revids` the wiki has (≤ 50), with their pages."""
        return parse_edits(await self._read(edits_query(revids)))

    async def relative_revision(self, oldid: int, relative: str) -> int | None:
        """The newer side of `diff=<relative>&oldid=<oldid>`, or None if there is none."""
        try:
            return parse_relative(await self._read(relative_query(oldid, relative)))
        except WikiAPIError as exc:
            if exc.code in _NO_RELATIVE:
                return None
            raise

    async def later_revisions(self, edit: Edit) -> tuple[Revision | None, list[Revision], bool]:
        """The edit's parent, the revisions after it oldest first, and whether there are more."""
        query = later_query(edit.pageid, edit.revision.parentid or edit.revision.revid)
        return parse_later(await self._read(query), edit.revision.revid)

    # -- rollback ---------------------------------------------------------------------------

    async def rollback(
        self,
        title: str,
        user: str,
        *,
        summary: str | None,
        markbot: bool = False,
        tags: Sequence[str] = (),
    ) -> RollbackResult:
        """Roll back `user`'s consecutive top edits on `title`: one POST, never re-sent here.

        A lost answer raises `WikiTransportError(ambiguous=True)`; whether the wiki acted is
        decided by the caller's settlement step from the page history, in one place.
        """
        title = normalize_title(title)
        target = normalize_username(user)
        params = {"action": "rollback", "title": title, "user": target}
        if summary is not None:
            params["summary"] = summary
        if markbot:
            params["markbot"] = "1"
        if tags:
            params["tags"] = "|".join(tags)
        return parse_rollback(await self._post_with_rollback_token(params))

    def mark_unavailable(self, reason: str, *, transient: bool) -> None:
        """Commands on this wiki answer that it is unavailable (`transient`: retried)."""
        self.unavailable = reason
        self.unavailable_is_transient = transient

    def mark_available(self) -> None:
        self.unavailable = None
        self.unavailable_is_transient = False

    async def ensure_available(self) -> str | None:
        """None if the wiki can be used now, else why not. A wiki that was only unreachable is
        tried again here (a login), so it serves again as soon as it is back."""
        if self.unavailable is None or not self.unavailable_is_transient:
            return self.unavailable
        try:
            await self.login()
        except LoginError:
            self.mark_unavailable("the wiki refused the bot's login", transient=False)
        except WikiError:
            return self.unavailable
        else:
            self.mark_available()
        return self.unavailable

    @property
    def known_siteinfo(self) -> SiteInfo | None:
        """What `siteinfo()` read, without asking the wiki (None before it was read)."""
        return self._siteinfo

    async def siteinfo(self) -> SiteInfo:
        """The wiki's name, main page and article path (`meta=siteinfo`), read once; page
        links follow the article path from then on."""
        if self._siteinfo is None:
            self._siteinfo = parse_siteinfo(await self._call("GET", SITEINFO_QUERY), self._api_url)
            self._links = SiteLinks(self._api_url, article_url=self._siteinfo.article_url)
        return self._siteinfo

    # -- messages ---------------------------------------------------------------------------

    async def default_rollback_summary(self) -> str:
        """The wiki's raw `MediaWiki:Revertpage` text ($1 restored author, $2 reverted user)."""
        if self._revertpage is None:
            self._revertpage = parse_revertpage(await self._read(REVERTPAGE_QUERY))
        return self._revertpage
