"""The code → exception table, and errors parsed off the wire keep their code and text."""

from __future__ import annotations

import httpx
import pytest

from bot.wiki import errors
from bot.wiki.client import WikiClient
from bot.wiki.errors import (
    ERROR_CLASSES,
    LoginError,
    WikiAPIError,
    WikiError,
    WikiTransportError,
    error_for,
)
from bot.wiki.retry import RetryPolicy
from tests.unit.wiki.payloads import DOCREF, MakeClient, Sleeps, Wiki, api_error

EXPECTED = {
    "alreadyrolled": errors.AlreadyRolledError,
    "onlyauthor": errors.OnlyAuthorError,
    "permissiondenied": errors.PermissionDeniedError,
    "protectedpage": errors.ProtectedPageError,
    "cascadeprotected": errors.CascadeProtectedError,
    "blocked": errors.BlockedError,
    "autoblocked": errors.BlockedError,
    "notvisiblerev": errors.NotVisibleRevError,
    "missingtitle": errors.MissingTitleError,
    "invalidtitle": errors.InvalidTitleError,
    "nosuchpageid": errors.NoSuchPageIdError,
    "baduser": errors.BadUserError,
    "invaliduser": errors.BadUserError,
    "badtags": errors.BadTagsError,
    "ratelimited": errors.RateLimitedError,
    "maxlag": errors.MaxLagError,
    "readonly": errors.ReadOnlyError,
    "badtoken": errors.BadTokenError,
    "assertuserfailed": errors.AssertUserFailedError,
    "mustpostparams": errors.MustPostParamsError,
    "notloggedin": errors.NotLoggedInError,
}


def test_table_has_every_required_code() -> None:
    assert dict(ERROR_CLASSES) == EXPECTED


@pytest.mark.parametrize(("code", "cls"), sorted(EXPECTED.items()))
def test_error_for_maps_code_to_class_and_keeps_code_and_info(
    code: str, cls: type[WikiAPIError]
) -> None:
    exc = error_for(code, "The wiki said no.", retry_after=3.0, lag=1.5)
    assert type(exc) is cls
    assert isinstance(exc, WikiError)
    assert (exc.code, exc.info, exc.retry_after, exc.lag) == (code, "The wiki said no.", 3.0, 1.5)


def test_unknown_code_gets_base_class_with_code_kept() -> None:
    exc = error_for("spamblacklist", "The text you wanted to save was blocked.")
    assert type(exc) is WikiAPIError
    assert exc.code == "spamblacklist"
    assert exc.info == "The text you wanted to save was blocked."


def test_login_error_and_transport_error_shapes() -> None:
    assert issubclass(LoginError, WikiAPIError)
    exc = WikiTransportError("boom", ambiguous=True, status_code=503, retry_after=2.0)
    assert isinstance(exc, WikiError)
    assert (exc.ambiguous, exc.status_code, exc.retry_after) == (True, 503, 2.0)


@pytest.fixture
def no_retry_client(make_client: MakeClient) -> WikiClient:
    # max_attempts=1: every error surfaces as-is, so the parser alone is under test.
    return make_client(retry=RetryPolicy(max_attempts=1, sleep=Sleeps()))


@pytest.mark.parametrize(("code", "cls"), sorted(EXPECTED.items()))
async def test_wire_error_becomes_its_class(
    code: str, cls: type[WikiAPIError], no_retry_client: WikiClient, wiki: Wiki
) -> None:
    wiki.messages.side_effect = [api_error(code, f"Text for {code}.")]
    with pytest.raises(cls) as caught:
        await no_retry_client.default_rollback_summary()
    assert type(caught.value) is cls
    assert caught.value.code == code
    assert caught.value.info == f"Text for {code}."


async def test_unknown_wire_code_is_base_class(no_retry_client: WikiClient, wiki: Wiki) -> None:
    wiki.messages.side_effect = [api_error("abusefilter-disallowed", "Disallowed.")]
    with pytest.raises(WikiAPIError) as caught:
        await no_retry_client.default_rollback_summary()
    assert type(caught.value) is WikiAPIError
    assert caught.value.code == "abusefilter-disallowed"


async def test_legacy_error_shape_is_understood(no_retry_client: WikiClient, wiki: Wiki) -> None:
    legacy = httpx.Response(
        200,
        headers={"MediaWiki-API-Error": "readonly"},
        json={"error": {"code": "readonly", "info": "The wiki is in read-only mode.", "*": DOCREF}},
    )
    wiki.messages.side_effect = [legacy]
    with pytest.raises(errors.ReadOnlyError) as caught:
        await no_retry_client.default_rollback_summary()
    assert caught.value.info == "The wiki is in read-only mode."


async def test_maxlag_error_carries_retry_after_and_lag(
    no_retry_client: WikiClient, wiki: Wiki
) -> None:
    response = api_error(
        "maxlag",
        "Waiting for 10.64.16.8: 7 seconds lagged.",
        headers={"Retry-After": "5", "X-Database-Lag": "7"},
        data={"host": "10.64.16.8", "lag": 7, "type": "db"},
    )
    wiki.messages.side_effect = [response]
    with pytest.raises(errors.MaxLagError) as caught:
        await no_retry_client.default_rollback_summary()
    assert (caught.value.retry_after, caught.value.lag) == (5.0, 7.0)
