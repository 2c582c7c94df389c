"""Reading the Action API's answers: errors (codes kept), expected fields, rollback results."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

import httpx

from bot.wiki.errors import LoginError, WikiAPIError, WikiTransportError, error_for
from bot.wiki.results import RollbackResult

JSON: TypeAlias = dict[str, Any]

log = logging.getLogger(__name__)


def retry_after(response: httpx.Response) -> float | None:
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


def api_error(response: httpx.Response, body: JSON) -> WikiAPIError | None:
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
    return error_for(code, info, retry_after=retry_after(response), lag=lag)


# Errors that only say "not now": when the wiki reports one together with a permanent refusal
# (`MediaWiki-API-Error: permissiondenied, ratelimited`), the refusal decides.
_TRANSIENT_CODES = frozenset({"ratelimited", "maxlag", "readonly"})


def _decisive_error(errors: list[JSON]) -> JSON:
    """The error to raise from several: the first permanent one, else the first."""
    for error in errors:
        if str(error.get("code")) not in _TRANSIENT_CODES:
            return error
    return errors[0]


def parse_response(response: httpx.Response) -> JSON:
    status = response.status_code
    if status == 429 or status >= 500:
        raise WikiTransportError(
            f"the wiki answered HTTP {status}",
            # A 429 is refused before MediaWiki runs; a 5xx may come after it acted.
            ambiguous=status != 429,
            status_code=status,
            retry_after=retry_after(response),
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
    error = api_error(response, body)
    if error is not None:
        raise error
    if "warnings" in body:
        log.debug("wiki API warnings: %s", body["warnings"])
    return body


def dig(data: JSON, *keys: str) -> Any:
    """`data[k1][k2]...`, or a WikiTransportError naming what was missing."""
    value: Any = data
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise WikiTransportError(
                f"unexpected wiki response: no {'.'.join(keys)}", ambiguous=True
            )
        value = value[key]
    return value


def parse_rollback(data: JSON) -> RollbackResult:
    raw = dig(data, "rollback")
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


def login_error(result: object) -> LoginError:
    # With errorformat=plaintext, `reason` is {"code", "text"}; older wikis send a string.
    if not isinstance(result, dict):
        return LoginError("unknown", "The wiki did not say why the login failed.")
    status = str(result.get("result", "unknown"))
    reason = result.get("reason")
    if isinstance(reason, dict):
        return LoginError(str(reason.get("code", status)), str(reason.get("text", "")))
    return LoginError(status, str(reason or "Login failed."))
