"""Start-up with several wikis: concurrent logins, a wiki that is down or refuses the login,
site names from meta=siteinfo, and a wiki that comes back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import SecretStr

from bot import app
from bot.discord_bot import RollBot
from bot.settings import DEFAULT_WIKI, Settings, WikiConfig
from bot.wiki.client import WikiClient
from bot.wiki.retry import RetryPolicy
from tests.unit.wiki.payloads import (
    API,
    BOT_LOGIN,
    PASSWORD,
    USER_AGENT,
    login_success,
    login_token_response,
)

TOKEN = "MTIzNDU2Nzg5.discord-token-secret-value"
GUILD = 1_100_000_000_000_000_000
SECOND_API = "https://second.example.org/w/api.php"
SECOND_PASSWORD = "second-bot-password-value"

WRONG_PASSWORD = httpx.Response(
    200,
    json={"login": {"result": "Failed", "reason": {"code": "wrongpassword", "text": "Incorrect."}}},
)


def siteinfo(name: str, server: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "query": {
                "general": {
                    "sitename": name,
                    "base": f"{server}/wiki/Main_Page",
                    "server": server,
                    "articlepath": "/wiki/$1",
                }
            }
        },
    )


def settings(tmp_path: Path) -> Settings:
    return Settings(
        discord_token=SecretStr(TOKEN),
        discord_guild_ids=[GUILD],
        rollback_role_ids=[1],
        wiki_api_url=API,
        wiki_username=BOT_LOGIN,
        wiki_password=SecretStr(PASSWORD),
        wiki_user_agent=USER_AGENT,
        wikis=["second"],
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'rollbot.sqlite3'}",
    )


def wikis() -> list[WikiConfig]:
    served = frozenset({GUILD})
    return [
        WikiConfig(DEFAULT_WIKI, API, BOT_LOGIN, SecretStr(PASSWORD), USER_AGENT, served),
        WikiConfig(
            "second", SECOND_API, "Rollbot@second", SecretStr(SECOND_PASSWORD), USER_AGENT, served
        ),
    ]


def mock_wiki(
    router: respx.MockRouter, api: str, *, login: httpx.Response, name: str, server: str
) -> respx.Route:
    router.get(api, params__contains={"type": "login"}).mock(return_value=login_token_response())
    router.get(api, params__contains={"meta": "siteinfo"}).mock(return_value=siteinfo(name, server))
    return router.post(api, data__contains={"action": "login"}).mock(return_value=login)


class Started:
    """What `RollBot.start` was called on: the bot `main` built, for a test to look at."""

    def __init__(self) -> None:
        self.bots: list[RollBot] = []


async def _no_setup(self: RollBot) -> None:
    return None


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Started:
    started = Started()

    async def start(bot: RollBot, token: str, *, reconnect: bool = True) -> None:
        started.bots.append(bot)

    monkeypatch.setattr(RollBot, "start", start)
    monkeypatch.setattr(RollBot, "setup_hook", _no_setup)
    return started


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_both_wikis_log_in_and_are_named_by_their_siteinfo(
    tmp_path: Path, respx_mock: respx.MockRouter, started: Started
) -> None:
    first = mock_wiki(
        respx_mock,
        API,
        login=login_success(),
        name="Example Wiki",
        server="https://wiki.example.org",
    )
    second = mock_wiki(
        respx_mock,
        SECOND_API,
        login=login_success(),
        name="Second Wiki",
        server="https://second.example.org",
    )

    await app.main(settings(tmp_path), wikis())

    assert (first.call_count, second.call_count) == (1, 1)
    [bot] = started.bots
    assert bot.sites.wikis_for(GUILD) == [DEFAULT_WIKI, "second"]
    assert (
        bot.sites.label(DEFAULT_WIKI)
        == r"[Example Wiki \(default\)](https://wiki.example.org/wiki/Main_Page)"
    )
    assert bot.sites.label("second").startswith(r"[Second Wiki \(second\)]")
    # Page links follow each wiki's own article path once siteinfo answered.
    assert bot.sites.links("second").page_url("A b") == "https://second.example.org/wiki/A_b"


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_a_wiki_that_refuses_the_login_is_unavailable_and_the_other_serves(
    tmp_path: Path,
    respx_mock: respx.MockRouter,
    started: Started,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock_wiki(
        respx_mock,
        API,
        login=login_success(),
        name="Example Wiki",
        server="https://wiki.example.org",
    )
    mock_wiki(
        respx_mock, SECOND_API, login=WRONG_PASSWORD, name="Second", server="https://s.example.org"
    )

    with caplog.at_level(logging.WARNING):
        await app.main(settings(tmp_path), wikis())

    [bot] = started.bots
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "the wiki second refused WIKI_SECOND_USERNAME/WIKI_SECOND_PASSWORD (wrongpassword)" in w
        for w in warnings
    )
    assert all(SECOND_PASSWORD not in r.getMessage() for r in caplog.records)
    assert bot.sites.label("second") == "second"  # never asked: it refused the bot


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_when_every_wiki_refuses_the_login_the_bot_stops_naming_each(
    tmp_path: Path, respx_mock: respx.MockRouter, started: Started
) -> None:
    mock_wiki(respx_mock, API, login=WRONG_PASSWORD, name="A", server="https://a.example.org")
    mock_wiki(respx_mock, SECOND_API, login=WRONG_PASSWORD, name="B", server="https://b.example")

    with pytest.raises(app.StartupError) as stopped:
        await app.main(settings(tmp_path), wikis())

    message = str(stopped.value)
    assert "the wiki refused WIKI_USERNAME/WIKI_PASSWORD (wrongpassword)" in message
    assert "the wiki second refused WIKI_SECOND_USERNAME/WIKI_SECOND_PASSWORD" in message
    assert started.bots == []


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_a_wiki_down_at_start_is_a_warning_and_the_other_serves(
    tmp_path: Path,
    respx_mock: respx.MockRouter,
    started: Started,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock_wiki(
        respx_mock,
        API,
        login=login_success(),
        name="Example Wiki",
        server="https://wiki.example.org",
    )
    respx_mock.route(url__startswith="https://second.example.org/").mock(
        side_effect=httpx.ConnectError("connection refused")
    )

    with caplog.at_level(logging.WARNING):
        await app.main(settings(tmp_path), wikis())

    [bot] = started.bots
    assert any(
        "wiki second not reachable at start" in r.getMessage() and "will retry" in r.getMessage()
        for r in caplog.records
    )
    assert bot.sites.label(DEFAULT_WIKI).startswith(r"[Example Wiki \(default\)]")


@respx.mock(assert_all_mocked=True, assert_all_called=False)
async def test_log_in_marks_each_wiki_by_what_went_wrong(respx_mock: respx.MockRouter) -> None:
    mock_wiki(respx_mock, API, login=WRONG_PASSWORD, name="A", server="https://a.example.org")
    wiki_up = False

    def second_wiki(request: httpx.Request) -> httpx.Response:
        if not wiki_up:
            raise httpx.ConnectError("connection refused")
        return login_success() if request.method == "POST" else login_token_response()

    respx_mock.route(url__startswith=SECOND_API).mock(side_effect=second_wiki)
    no_retry = RetryPolicy(max_attempts=1, sleep=_instant, random=lambda: 0.0)
    refused = WikiClient(
        api_url=API,
        username=BOT_LOGIN,
        password=SecretStr(PASSWORD),
        user_agent=USER_AGENT,
        retry=no_retry,
    )
    unreachable = WikiClient(
        api_url=SECOND_API,
        username="Rollbot@second",
        password=SecretStr(SECOND_PASSWORD),
        user_agent=USER_AGENT,
        retry=no_retry,
    )
    async with refused, unreachable:
        await app._log_in({DEFAULT_WIKI: refused, "second": unreachable})

        assert refused.unavailable is not None
        assert not refused.unavailable_is_transient
        assert unreachable.unavailable is not None
        assert unreachable.unavailable_is_transient

        # A refused login is not retried per command; an unreachable wiki is, and serves as
        # soon as it answers.
        assert await refused.ensure_available() == "the wiki refused the bot's login"
        assert await unreachable.ensure_available() == "the wiki could not be reached"
        wiki_up = True
        assert await unreachable.ensure_available() is None
        assert unreachable.unavailable is None


async def _instant(_: float) -> None:
    await asyncio.sleep(0)
