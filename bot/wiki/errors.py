"""Exceptions the wiki client raises.

One root (`WikiError`). MediaWiki's own refusals are `WikiAPIError` subclasses chosen from one
table, `ERROR_CLASSES`, and always keep the wire `code` so callers (and the audit log) can tell
exactly what the wiki said. Network trouble is `WikiTransportError`, which says whether the
request may have been acted on (`ambiguous`) so a write is never blindly re-sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class WikiError(Exception):
    """Root of everything the wiki client raises."""


class WikiAPIError(WikiError):
    """The wiki answered with an API error (`MediaWiki-API-Error: <code>`)."""

    def __init__(
        self,
        code: str,
        info: str,
        *,
        retry_after: float | None = None,
        lag: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {info}")
        self.code = code
        self.info = info  # MediaWiki's plaintext message; wiki-controlled, escape before display
        self.retry_after = retry_after
        self.lag = lag

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, info={self.info!r})"


class AlreadyRolledError(WikiAPIError):
    """Someone else edited (or rolled back) the page first; the user is no longer top editor."""


class OnlyAuthorError(WikiAPIError):
    """Every revision of the page is by the user, so there is nothing to restore."""


class PermissionDeniedError(WikiAPIError):
    """The bot account (or its BotPassword grants) lacks `rollback`/`editpage`."""


class ProtectedPageError(WikiAPIError):
    """The page is protected against the bot account."""


class CascadeProtectedError(WikiAPIError):
    """The page is cascade-protected via a transcluding page."""


class BlockedError(WikiAPIError):
    """The bot account (or its IP) is blocked."""


class NotVisibleRevError(WikiAPIError):
    """The revision to restore has its text or author hidden (revision deletion)."""


class MissingTitleError(WikiAPIError):
    """The page does not exist."""


class InvalidTitleError(WikiAPIError):
    """The title is not a valid page title."""


class NoSuchPageIdError(WikiAPIError):
    """No page has that id."""


class BadUserError(WikiAPIError):
    """The `user` parameter is not a valid user name or IP."""


class BadTagsError(WikiAPIError):
    """A change tag may not be applied manually (not defined or not active)."""


class RateLimitedError(WikiAPIError):
    """The wiki's rate limit for rollbacks/edits was hit."""


class MaxLagError(WikiAPIError):
    """Database replicas lag more than our `maxlag`; wait and retry."""


class ReadOnlyError(WikiAPIError):
    """The wiki is in read-only mode (maintenance)."""


class BadTokenError(WikiAPIError):
    """The token was stale (session changed); the client refreshes it once."""


class AssertUserFailedError(WikiAPIError):
    """`assert=user` failed: the session was lost; the client logs in again once."""


class MustPostParamsError(WikiAPIError):
    """A parameter that must be POSTed was sent in the query string (a client bug)."""


class NotLoggedInError(WikiAPIError):
    """The action needs a logged-in session."""


class LoginError(WikiAPIError):
    """`action=login` did not succeed; `code` is MediaWiki's result (e.g. "Failed")."""


ERROR_CLASSES: Mapping[str, type[WikiAPIError]] = MappingProxyType(
    {
        "alreadyrolled": AlreadyRolledError,
        "onlyauthor": OnlyAuthorError,
        "permissiondenied": PermissionDeniedError,
        "protectedpage": ProtectedPageError,
        "cascadeprotected": CascadeProtectedError,
        "blocked": BlockedError,
        "autoblocked": BlockedError,
        "notvisiblerev": NotVisibleRevError,
        "missingtitle": MissingTitleError,
        "invalidtitle": InvalidTitleError,
        "nosuchpageid": NoSuchPageIdError,
        "baduser": BadUserError,
        "invaliduser": BadUserError,
        "badtags": BadTagsError,
        "ratelimited": RateLimitedError,
        "maxlag": MaxLagError,
        "readonly": ReadOnlyError,
        "badtoken": BadTokenError,
        "assertuserfailed": AssertUserFailedError,
        "mustpostparams": MustPostParamsError,
        "notloggedin": NotLoggedInError,
    }
)


def error_for(code: str, info: str, **kw: float | None) -> WikiAPIError:
    """Build the exception for an API error code; unknown codes get the base class."""
    return ERROR_CLASSES.get(code, WikiAPIError)(code, info, **kw)


class WikiTransportError(WikiError):
    """The request failed below the API: network error, timeout, HTTP 429/5xx, garbled body.

    `ambiguous` is True when the request may have reached the wiki and been acted on (read
    timeout, connection reset after sending, 5xx, unparseable 200). Only when it is False
    (connect error, connect/pool timeout, 429) is re-sending a write certainly safe.
    """

    def __init__(
        self,
        message: str,
        *,
        ambiguous: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous
        self.timed_out = timed_out  # the wiki did not answer in time (vs. refused/broken)
        self.status_code = status_code
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.args[0]!r}, ambiguous={self.ambiguous},"
            f" status_code={self.status_code})"
        )
