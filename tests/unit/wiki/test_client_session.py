"""Request shape, login, the rollback-token cache, badtoken and lost sessions."""

from __future__ import annotations

import httpx
import pytest
import respx
from pydantic import SecretStr

from bot.wiki.client import WikiClient
from bot.wiki.errors import AssertUserFailedError, BadTokenError, LoginError
from tests.unit.wiki.payloads import (
    API,
    BOT_LOGIN,
    LOGIN_TOKEN,
    PASSWORD,
    ROLLBACK_TOKEN,
    USER_AGENT,
    Wiki,
    api_error,
    form,
    query,
    rollback_success,
    rollback_token_response,
)

COMMON = {"format": "json", "formatversion": "2", "errorformat": "plaintext"}


async def test_rollback_request_shape(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback.side_effect = [rollback_success()]
    result = await client.rollback(
        "Sandbox", "vandal_user", summary="rv spam", markbot=True, tags=["rollbot", "x"]
    )
    assert result.revid == 1004
    assert result.old_revid == 1003
    assert result.last_revid == 1001
    assert result.pageid == 77

    # Reads are GETs with the common parameters in the query string.
    token_request = wiki.rollback_token.calls.last.request
    assert token_request.method == "GET"
    assert query(token_request) == {
        "action": "query",
        "meta": "tokens",
        "type": "rollback",
        **COMMON,
    }
    # The write is a POST whose parameters are all in the body, none in the URL.
    request = wiki.rollback.calls.last.request
    assert request.method == "POST"
    assert request.url.params == httpx.QueryParams()
    assert form(request) == {
        "action": "rollback",
        "title": "Sandbox",
        "user": "Vandal user",
        "summary": "rv spam",
        "markbot": "1",
        "tags": "rollbot|x",
        "token": ROLLBACK_TOKEN,
        "assert": "user",
        "maxlag": "5",
        **COMMON,
    }


async def test_optional_rollback_params_omitted(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback.side_effect = [rollback_success()]
    await client.rollback("Sandbox", "Vandal", summary=None)
    sent = form(wiki.rollback.calls.last.request)
    assert "summary" not in sent
    assert "markbot" not in sent
    assert "tags" not in sent


async def test_user_agent_sent_on_every_request(
    client: WikiClient, wiki: Wiki, wiki_mock: respx.MockRouter
) -> None:
    wiki.rollback.side_effect = [rollback_success()]
    await client.rollback("Sandbox", "Vandal", summary=None)
    assert wiki_mock.calls.call_count == 4  # login token, login, rollback token, rollback
    for call in wiki_mock.calls:
        assert call.request.headers["User-Agent"] == USER_AGENT


def test_empty_user_agent_rejected() -> None:
    with pytest.raises(ValueError, match="user_agent"):
        WikiClient(api_url=API, username=BOT_LOGIN, password=SecretStr("x"), user_agent="  ")


def test_urls_and_account_name(client: WikiClient) -> None:
    assert client.account_name == "RollBot"
    assert client.index_url == "https://wiki.example.org/w/index.php"
    assert (
        client.page_url("User talk:Foo bar/Q&A #1?")
        == "https://wiki.example.org/w/index.php?title=User_talk:Foo_bar/Q%26A_%231%3F"
    )
    assert (
        client.diff_url(1004, 1003) == "https://wiki.example.org/w/index.php?diff=1004&oldid=1003"
    )
    assert (
        client.contribs_url("2001:DB8:0:0:0:0:0:1")
        == "https://wiki.example.org/w/index.php?title=Special:Contributions/2001:DB8:0:0:0:0:0:1"
    )
    assert (
        client.page_url("Ünïcode") == "https://wiki.example.org/w/index.php?title=%C3%9Cn%C3%AFcode"
    )


async def test_aclose_closes_only_its_own_client() -> None:
    injected = httpx.AsyncClient()
    async with WikiClient(
        api_url=API,
        username=BOT_LOGIN,
        password=SecretStr("x"),
        user_agent=USER_AGENT,
        http=injected,
    ):
        pass
    assert not injected.is_closed
    await injected.aclose()

    owned = WikiClient(
        api_url=API, username=BOT_LOGIN, password=SecretStr("x"), user_agent=USER_AGENT
    )
    await owned.aclose()
    assert owned._http.is_closed  # no public handle on a client it made itself


async def test_login_success(client: WikiClient, wiki: Wiki) -> None:
    await client.login()
    assert wiki.login_token.call_count == 1
    assert query(wiki.login_token.calls.last.request) == {
        "action": "query",
        "meta": "tokens",
        "type": "login",
        **COMMON,
    }
    sent = wiki.login.calls.last.request
    assert sent.method == "POST"
    assert form(sent) == {
        "action": "login",
        "lgname": BOT_LOGIN,
        "lgpassword": PASSWORD,
        "lgtoken": LOGIN_TOKEN,
        **COMMON,
    }


async def test_session_cookie_is_kept(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback.side_effect = [rollback_success()]
    await client.rollback("Sandbox", "Vandal", summary=None)
    assert "wikiSession=abc123" in wiki.rollback.calls.last.request.headers["Cookie"]


async def test_login_failure_raises_with_reason_and_never_the_password(
    client: WikiClient, wiki: Wiki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    wiki.login.side_effect = [
        httpx.Response(
            200,
            json={
                "login": {
                    "result": "Failed",
                    "reason": {
                        "code": "wrongpassword",
                        "text": "Incorrect username or password entered. Please try again.",
                    },
                }
            },
        )
    ]
    with pytest.raises(LoginError) as caught:
        await client.login()
    assert caught.value.code == "wrongpassword"
    assert caught.value.info == "Incorrect username or password entered. Please try again."
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert PASSWORD not in text
    assert wiki.login.call_count == 1  # a refused login is not retried


async def test_login_failure_legacy_string_reason(client: WikiClient, wiki: Wiki) -> None:
    wiki.login.side_effect = [
        httpx.Response(200, json={"login": {"result": "Aborted", "reason": "Use a bot password."}})
    ]
    with pytest.raises(LoginError) as caught:
        await client.login()
    assert (caught.value.code, caught.value.info) == ("Aborted", "Use a bot password.")


async def test_first_write_logs_in_lazily_and_token_is_cached(
    client: WikiClient, wiki: Wiki
) -> None:
    wiki.rollback.side_effect = [rollback_success(), rollback_success(revid=2000)]
    await client.rollback("Sandbox", "Vandal", summary=None)
    second = await client.rollback("Other page", "Vandal", summary=None)
    assert second.revid == 2000
    assert wiki.login.call_count == 1
    assert wiki.rollback_token.call_count == 1  # one token request for two rollbacks
    assert [form(c.request)["token"] for c in wiki.rollback.calls] == [ROLLBACK_TOKEN] * 2


async def test_badtoken_refreshes_token_once_and_retries(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback_token.side_effect = [
        rollback_token_response("stale+\\"),
        rollback_token_response("fresh+\\"),
    ]
    wiki.rollback.side_effect = [
        api_error("badtoken", "Invalid CSRF token."),
        rollback_success(),
    ]
    result = await client.rollback("Sandbox", "Vandal", summary=None)
    assert result.revid == 1004
    assert wiki.rollback_token.call_count == 2
    assert [form(c.request)["token"] for c in wiki.rollback.calls] == ["stale+\\", "fresh+\\"]
    assert wiki.login.call_count == 1


async def test_second_badtoken_raises(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback.side_effect = [
        api_error("badtoken", "Invalid CSRF token."),
        api_error("badtoken", "Invalid CSRF token."),
    ]
    with pytest.raises(BadTokenError):
        await client.rollback("Sandbox", "Vandal", summary=None)
    assert wiki.rollback.call_count == 2
    assert wiki.rollback_token.call_count == 2


async def test_lost_session_logs_in_again_and_retries(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback.side_effect = [
        api_error(
            "assertuserfailed", "You are no longer logged in, so the action could not be completed."
        ),
        rollback_success(),
    ]
    result = await client.rollback("Sandbox", "Vandal", summary=None)
    assert result.revid == 1004
    assert wiki.login.call_count == 2  # lazy login, then the re-login
    assert wiki.rollback_token.call_count == 2  # tokens die with the session
    assert wiki.rollback.call_count == 2


async def test_notloggedin_relogs_once_then_gives_up(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback.side_effect = [
        api_error("assertuserfailed", "You are no longer logged in."),
        api_error("assertuserfailed", "You are no longer logged in."),
    ]
    with pytest.raises(AssertUserFailedError):
        await client.rollback("Sandbox", "Vandal", summary=None)
    assert wiki.login.call_count == 2
    assert wiki.rollback.call_count == 2


async def test_logged_out_token_triggers_relogin(client: WikiClient, wiki: Wiki) -> None:
    # The token endpoint answers "+\\" when the session cookie has silently expired.
    wiki.rollback_token.side_effect = [rollback_token_response("+\\"), rollback_token_response()]
    wiki.rollback.side_effect = [rollback_success()]
    await client.rollback("Sandbox", "Vandal", summary=None)
    assert wiki.login.call_count == 2
    assert form(wiki.rollback.calls.last.request)["token"] == ROLLBACK_TOKEN


async def test_default_rollback_summary_is_raw_and_cached(client: WikiClient, wiki: Wiki) -> None:
    raw = (
        "Reverted edits by [[Special:Contributions/$2|$2]] ([[User talk:$2|talk]])"
        " to last revision by [[User:$1|$1]]"
    )
    wiki.messages.side_effect = [
        httpx.Response(
            200,
            json={
                "batchcomplete": True,
                "query": {"allmessages": [{"name": "revertpage", "content": raw}]},
            },
        )
    ]
    assert await client.default_rollback_summary() == raw
    assert await client.default_rollback_summary() == raw
    assert wiki.messages.call_count == 1
    sent = query(wiki.messages.calls.last.request)
    assert sent["ammessages"] == "revertpage"
    assert sent["uselang"] == "content"
    assert "amenableparser" not in sent
