"""The one MediaWiki Action API client: login, rollback tokens, previews and rollbacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from bot.wiki.errors import (
    AssertUserFailedError,
    BadTokenError,
    InvalidTitleError,
    LoginError,
    NotLoggedInError,
    WikiAPIError,
    WikiError,
    WikiTransportError,
    error_for,
)
from bot.wiki.names import normalize_title, normalize_username
from bot.wiki.results import PreviewProblem, Revision, RollbackPreview, RollbackResult
from bot.wiki.retry import RetryPolicy

log = logging.getLogger(__name__)

JSON: TypeAlias = dict[str, Any]

ROLLBACK_TAG = "mw-rollback"  # MediaWiki tags every rollback edit with this (since 1.28)
_HISTORY_PAGE_SIZE = 50  # revisions per history request; vandalism runs are usually short
# After an ambiguous failure we look for our rollback a little before we sent it, in case the
# wiki's clock is behind ours. Kept small so an older rollback of ours is not mistaken for it.
_CLOCK_SKEW = timedelta(seconds=60)
_ANON_TOKEN = "+\\"  # noqa: S105 - the token MediaWiki hands out to a logged-out session


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP-date; rare enough to fall back to our own backoff


def _float_or_none(value: object) -> float | None:
    if isinstance(value, int | float | str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _api_error(response: httpx.Response, body: JSON) -> WikiAPIError | None:
    """The error in a 200 response, in errorformat=plaintext or the legacy shape."""
    header_code = response.headers.get("MediaWiki-API-Error")
    code: str | None = None
    info = ""
    lag: float | None = None
    errors = body.get("errors")
    legacy = body.get("error")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = _decisive_error([error for error in errors if isinstance(error, dict)])
        code = str(first.get("code", header_code or "unknown"))
        info = str(first.get("text") or first.get("*") or "")
        data = first.get("data")
        if isinstance(data, dict):
            lag = _float_or_none(data.get("lag"))
    elif isinstance(legacy, dict):
        code = str(legacy.get("code", header_code or "unknown"))
        info = str(legacy.get("info") or legacy.get("*") or "")
        lag = _float_or_none(legacy.get("lag"))
    elif header_code:
        code = header_code
    if code is None:
        return None
    if lag is None:
        lag = _float_or_none(response.headers.get("X-Database-Lag"))
    return error_for(code, info, retry_after=_retry_after(response), lag=lag)


# Errors that only say "not now": when the wiki reports one together with a permanent refusal
# (`MediaWiki-API-Error: permissiondenied, ratelimited`), the refusal decides.
_TRANSIENT_CODES = frozenset({"ratelimited", "maxlag", "readonly"})


def _decisive_error(errors: list[JSON]) -> JSON:
    """The error to raise from several: the first permanent one, else the first."""
    for error in errors:
        if str(error.get("code")) not in _TRANSIENT_CODES:
            return error
    return errors[0]


def _parse_revision(raw: JSON) -> Revision:
    return Revision(
        revid=int(raw["revid"]),
        parentid=int(raw.get("parentid", 0)),
        # Hidden (revision-deleted) user names come back as "userhidden": true, no "user".
        user=None if raw.get("userhidden") else raw.get("user"),
        timestamp=datetime.fromisoformat(raw["timestamp"]).astimezone(UTC),
        size=int(raw.get("size", 0)),
        comment=None if raw.get("commenthidden") else raw.get("comment"),
        tags=tuple(raw.get("tags", ())),
    )


def _summarise_run(
    revisions: Sequence[Revision], target: str, max_edits: int
) -> tuple[int, Revision | None, bool]:
    """(edits to revert, revision to restore, capped?) for a newest-first history."""
    count = 0
    for revision in revisions:
        if not _same_user(revision.user, target):
            # MediaWiki restores the newest revision by a different actor. A hidden user
            # counts as different: we cannot see who it is, and the wiki then refuses with
            # notvisiblerev (unless the hidden revision really was the target's own).
            return count, (revision if count else None), False
        if count == max_edits:
            return count, None, True  # the run is longer than we are willing to read
        count += 1
    return count, None, False


def _same_user(revision_user: str | None, normalized: str) -> bool:
    # A hidden user name can't be confirmed to be `normalized`, so it counts as someone else.
    if revision_user is None:
        return False
    try:
        return normalize_username(revision_user) == normalized
    except ValueError:
        return revision_user == normalized


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
    ) -> None:
        if not user_agent.strip():
            raise ValueError("user_agent must name the bot and give a contact")
        if max_concurrency < 1 or max_preview_edits < 1:
            raise ValueError("max_concurrency and max_preview_edits must be at least 1")
        self._api_url = api_url.strip()
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
        base, sep, _ = self._api_url.rpartition("api.php")
        return f"{base}index.php" if sep else self._api_url

    def page_url(self, title: str) -> str:
        return f"{self.index_url}?title={quote(title.strip().replace(' ', '_'), safe='/:')}"

    def diff_url(self, diff: int, oldid: int) -> str:
        return f"{self.index_url}?diff={diff}&oldid={oldid}"

    def contribs_url(self, user: str) -> str:
        return self.page_url(f"Special:Contributions/{user}")

    # -- transport --------------------------------------------------------------------------

    async def _send_once(self, method: str, params: dict[str, str]) -> JSON:
        """One HTTP request under the concurrency limit; raises on any kind of failure."""
        full = {**params, "format": "json", "formatversion": "2", "errorformat": "plaintext"}
        headers = {"User-Agent": self._user_agent}
        log.debug("wiki %s action=%s", method, params.get("action"))
        async with self._semaphore:
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
        return self._parse_response(response)

    @staticmethod
    def _parse_response(response: httpx.Response) -> JSON:
        status = response.status_code
        if status == 429 or status >= 500:
            raise WikiTransportError(
                f"the wiki answered HTTP {status}",
                # A 429 is refused before MediaWiki runs; a 5xx may come after it acted.
                ambiguous=status != 429,
                status_code=status,
                retry_after=_retry_after(response),
            )
        if status != 200:
            raise WikiTransportError(
                f"the wiki answered HTTP {status}", ambiguous=False, status_code=status
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise WikiTransportError(
                "the wiki sent a response that is not a JSON object",
                ambiguous=True,
                status_code=status,
            )
        error = _api_error(response, body)
        if error is not None:
            raise error
        if "warnings" in body:
            log.debug("wiki API warnings: %s", body["warnings"])
        return body

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
                    "wiki %s action=%s failed (%r); retry %d in %.1fs",
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
        login_token = str(_dig(data, "query", "tokens", "logintoken"))
        data = await self._call(
            "POST",
            {
                "action": "login",
                "lgname": self._username,
                "lgpassword": self._password.get_secret_value(),
                "lgtoken": login_token,
            },
        )
        result = _dig(data, "login")
        if not isinstance(result, dict) or result.get("result") != "Success":
            raise _login_error(result)
        self._logged_in = True
        self._session += 1
        log.info("logged in to the wiki as %s", result.get("lgusername", self.account_name))

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

    async def _relogin(self, seen_session: int) -> None:
        async with self._login_lock:
            if self._session == seen_session:  # nobody else has logged in again meanwhile
                log.warning("wiki session lost; logging in again")
                await self._login_locked()

    async def _rollback_token_value(self) -> str:
        if self._rollback_token is None:
            data = await self._call(
                "GET", {"action": "query", "meta": "tokens", "type": "rollback"}
            )
            token = str(_dig(data, "query", "tokens", "rollbacktoken"))
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
                "titles": _one_value(title),
                "rvprop": "ids|timestamp|user|size|comment|tags",
                "rvlimit": str(limit),
                **cont,
            }
            data = await self._read(params)
            page = _single_page(data, title)
            yield page, [_parse_revision(raw) for raw in page.get("revisions", ())]
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
                    not _same_user(revision.user, target) for revision in batch
                ):
                    break
        finally:
            await history.aclose()
        top = revisions[0] if revisions else None
        count, restored, capped = _summarise_run(revisions, target, self._max_preview_edits)

        problem: PreviewProblem | None = None
        if page.get("missing"):
            problem = PreviewProblem.MISSING_PAGE
        elif count == 0:
            problem = PreviewProblem.NOT_LAST_EDITOR
        elif restored is None and not capped:
            problem = PreviewProblem.ONLY_AUTHOR
        return RollbackPreview(
            title=str(page.get("title", title)),
            pageid=int(page["pageid"]) if "pageid" in page else None,
            target_user=target,
            top=top,
            restored=restored,
            edits_to_revert=count,
            edits_capped=capped,
            problem=problem,
        )

    async def find_rollback(
        self, title: str, user: str, *, since: datetime
    ) -> RollbackResult | None:
        """Find a rollback of `user`'s edits made by this bot's account at or after `since`.

        Looks for the bot's newest `mw-rollback`-tagged revision whose parent is by `user`, then
        for the revision it restored (the newest older one not by `user`). `since` is UTC; a
        naive value is taken as UTC. Used after an ambiguous failure and to reconcile
        rollbacks interrupted by a crash.
        """
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; ours are UTC
        title = normalize_title(title)
        target = normalize_username(user)
        bot_account = self.account_name
        candidate: Revision | None = None
        reverted_seen = False  # found the candidate's parent, a revision by `target`
        history = self._history(title, _HISTORY_PAGE_SIZE)
        try:
            async for page, revisions in history:
                for revision in revisions:
                    if candidate is not None and not reverted_seen:
                        if revision.revid == candidate.parentid and _same_user(
                            revision.user, target
                        ):
                            reverted_seen = True
                            continue
                        candidate = None  # that rollback reverted someone else; keep looking
                    if candidate is None:
                        if revision.timestamp < since:
                            return None
                        if ROLLBACK_TAG in revision.tags and _same_user(revision.user, bot_account):
                            candidate = revision
                        continue
                    if not _same_user(revision.user, target):
                        return RollbackResult(
                            title=str(page["title"]),
                            pageid=int(page["pageid"]),
                            summary=candidate.comment or "",
                            revid=candidate.revid,
                            old_revid=candidate.parentid,
                            last_revid=revision.revid,
                        )
        finally:
            await history.aclose()
        return None

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
        """Roll back `user`'s consecutive top edits on `title`.

        Never re-sends blindly after an ambiguous failure: the page history decides whether the
        rollback already happened (return it), can be retried (the user is still on top), or
        is unknown (re-raise the WikiTransportError, `ambiguous=True`).
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
        started = datetime.now(UTC)
        attempt = 0
        while True:
            attempt += 1
            try:
                data = await self._post_with_rollback_token(params)
                return _parse_rollback(data)
            except WikiTransportError as exc:
                if not exc.ambiguous:
                    raise
                outcome = await self._settle_ambiguous(title, target, started, attempt, exc)
            if isinstance(outcome, RollbackResult):
                return outcome
            log.warning(
                "rollback of %s on %r not applied; retrying in %.1fs", target, title, outcome
            )
            await self._retry.sleep(outcome)

    async def _settle_ambiguous(
        self,
        title: str,
        user: str,
        started: datetime,
        attempt: int,
        exc: WikiTransportError,
    ) -> RollbackResult | float:
        """After an ambiguous failure: the applied rollback, or a delay before re-sending."""
        log.warning("rollback of %s on %r may or may not have happened (%r)", user, title, exc)
        try:
            # The user still on top means the rollback did not happen. Checked first, so an
            # earlier rollback of ours inside the clock-skew window is not taken for this one.
            preview = await self.preview(title, user)
            found = None
            if preview.problem is not None:
                found = await self.find_rollback(title, user, since=started - _CLOCK_SKEW)
        except WikiError as check_error:
            log.warning("could not re-read the history of %r: %r", title, check_error)
            raise exc from check_error
        if preview.problem is None:
            delay = self._retry.delay_for(attempt, exc)
            if delay is None:
                raise exc
            return delay
        if found is None:
            raise exc
        log.info("rollback of %s on %r had been applied as revision %d", user, title, found.revid)
        return found

    # -- messages ---------------------------------------------------------------------------

    async def default_rollback_summary(self) -> str:
        """The wiki's raw `MediaWiki:Revertpage` text ($1 restored author, $2 reverted user)."""
        if self._revertpage is None:
            data = await self._read(
                {
                    "action": "query",
                    "meta": "allmessages",
                    "ammessages": "revertpage",
                    # Rollback summaries are saved in the content language, not the bot's.
                    "uselang": "content",
                },
            )
            messages = _dig(data, "query", "allmessages")
            first = messages[0] if isinstance(messages, list) and messages else {}
            if not isinstance(first, dict) or "content" not in first:
                raise WikiAPIError("missingmessage", "The wiki has no MediaWiki:Revertpage text.")
            self._revertpage = str(first["content"])
        return self._revertpage


def _dig(data: JSON, *keys: str) -> Any:
    """`data[k1][k2]...`, or a WikiTransportError naming what was missing."""
    value: Any = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise WikiTransportError(
                f"unexpected wiki response: no {'.'.join(keys)}", ambiguous=True
            )
        value = value[key]
    return value


def _one_value(value: str) -> str:
    """`value` as the only value of a multi-value parameter such as `titles`.

    MediaWiki splits those on `|`, so "A|B" would read two pages (answered in any order) and a
    preview could show another page's history. A leading U+001F makes U+001F the separator
    instead; the wiki then judges "A|B" as one (invalid) title.
    """
    return f"\x1f{value}" if "|" in value else value


def _single_page(data: JSON, title: str) -> JSON:
    query = _dig(data, "query")
    pages = query.get("pages") if isinstance(query, dict) else None
    if isinstance(pages, list) and len(pages) > 1:
        raise InvalidTitleError("invalidtitle", f"{title!r} names more than one page.")
    if not isinstance(pages, list) or not pages or not isinstance(pages[0], dict):
        # e.g. an interwiki title: the wiki reports it under query.interwiki and has no page.
        raise InvalidTitleError("invalidtitle", f"{title!r} is not a page on this wiki.")
    page: JSON = pages[0]
    if page.get("invalid"):
        raise InvalidTitleError("invalidtitle", str(page.get("invalidreason", "Invalid title.")))
    if page.get("special"):
        raise InvalidTitleError("invalidtitle", "Special pages have no history to roll back.")
    return page


def _parse_rollback(data: JSON) -> RollbackResult:
    raw = _dig(data, "rollback")
    try:
        return RollbackResult(
            title=str(raw["title"]),
            pageid=int(raw["pageid"]),
            summary=str(raw.get("summary", "")),
            revid=int(raw["revid"]),
            old_revid=int(raw["old_revid"]),
            last_revid=int(raw["last_revid"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WikiTransportError("unexpected rollback response", ambiguous=True) from exc


def _login_error(result: object) -> LoginError:
    # With errorformat=plaintext, `reason` is {"code", "text"}; older wikis send a string.
    if not isinstance(result, dict):
        return LoginError("unknown", "The wiki did not say why the login failed.")
    status = str(result.get("result", "unknown"))
    reason = result.get("reason")
    if isinstance(reason, dict):
        return LoginError(str(reason.get("code", status)), str(reason.get("text", "")))
    return LoginError(status, str(reason or "Login failed."))
