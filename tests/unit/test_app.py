"""The composition root: configuration errors, start-up checks, migrations, shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
from pathlib import Path

import discord
import httpx
import pytest
import respx
from pydantic import SecretStr

from bot import app
from bot.discord_bot import RollBot
from bot.settings import Settings
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
ENV_NAMES = [
    "DISCORD_TOKEN",
    "DISCORD_GUILD_IDS",
    "ROLLBACK_ROLE_IDS",
    "LOG_VIEWER_ROLE_IDS",
    "LOG_CHANNEL_ID",
    "WIKI_API_URL",
    "WIKI_USERNAME",
    "WIKI_PASSWORD",
    "WIKI_USER_AGENT",
    "DATABASE_URL",
    "CONFIRM_TIMEOUT_SECONDS",
    "LOG_LEVEL",
]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No rollbot variables, and a working directory without a `.env`."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings(tmp_path: Path) -> Settings:
    return Settings(
        discord_token=SecretStr(TOKEN),
        discord_guild_ids=[GUILD],
        rollback_role_ids=[1],
        wiki_api_url=API,
        wiki_username=BOT_LOGIN,
        wiki_password=SecretStr(PASSWORD),
        wiki_user_agent=USER_AGENT,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'new-dir' / 'rollbot.sqlite3'}",
    )


def test_missing_configuration_names_every_problem_without_a_traceback(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        app.load_settings()

    assert exited.value.code == 2
    err = capsys.readouterr().err
    for name in [
        "DISCORD_TOKEN",
        "DISCORD_GUILD_IDS",
        "ROLLBACK_ROLE_IDS",
        "WIKI_API_URL",
        "WIKI_USERNAME",
        "WIKI_PASSWORD",
        "WIKI_USER_AGENT",
    ]:
        assert f"{name}: missing" in err
    assert "Traceback" not in err


def test_invalid_values_are_explained(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    values = {
        "DISCORD_TOKEN": TOKEN,
        "ROLLBACK_ROLE_IDS": "12, x",
        "WIKI_API_URL": "wiki.org",
        "WIKI_USERNAME": BOT_LOGIN,
        "WIKI_PASSWORD": PASSWORD,
        "WIKI_USER_AGENT": "rollbot",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit):
        app.load_settings()

    err = capsys.readouterr().err
    assert "ROLLBACK_ROLE_IDS" in err
    assert "WIKI_API_URL" in err
    assert "WIKI_USER_AGENT: Value error, must include a contact" in err
    assert TOKEN not in err
    assert PASSWORD not in err


def test_env_file_and_comma_lists(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        f"DISCORD_TOKEN={TOKEN}\nROLLBACK_ROLE_IDS=11, 22\nLOG_CHANNEL_ID=\n"
        "DISCORD_GUILD_IDS=5, 6\n"
        f"WIKI_API_URL={API}\nWIKI_USERNAME={BOT_LOGIN}\nWIKI_PASSWORD={PASSWORD}\n"
        f"WIKI_USER_AGENT={USER_AGENT}\n"
    )
    loaded = app.load_settings()
    assert loaded.rollback_role_ids == [11, 22]
    assert loaded.discord_guild_ids == [5, 6]
    assert loaded.log_channel_id is None
    assert loaded.confirm_timeout_seconds == 120
    assert TOKEN not in repr(loaded)
    assert PASSWORD not in repr(loaded)


@pytest.mark.parametrize("value", [None, "", " , "])
def test_no_served_server_stops_the_bot_with_one_line(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
) -> None:
    """Without DISCORD_GUILD_IDS the bot would have no allowlist: it must not start."""
    values = {
        "DISCORD_TOKEN": TOKEN,
        "ROLLBACK_ROLE_IDS": "12",
        "WIKI_API_URL": API,
        "WIKI_USERNAME": BOT_LOGIN,
        "WIKI_PASSWORD": PASSWORD,
        "WIKI_USER_AGENT": USER_AGENT,
    }
    if value is not None:
        values["DISCORD_GUILD_IDS"] = value
    for name, setting in values.items():
        monkeypatch.setenv(name, setting)

    with pytest.raises(SystemExit) as exited:
        app.load_settings()

    assert exited.value.code == 2
    problems = capsys.readouterr().err.splitlines()[1:]  # after the heading line
    expected = (
        "  DISCORD_GUILD_IDS: missing"
        if value is None
        else "  DISCORD_GUILD_IDS: Value error, must list the ids of the servers rollbot serves "
        "(comma-separated); it refuses every other server"
    )
    assert problems == [expected]


@respx.mock(assert_all_mocked=True)
async def test_start_migrates_logs_in_and_explains_a_rejected_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(API, params__contains={"type": "login"}).mock(
        return_value=login_token_response()
    )
    login = respx_mock.post(API, data__contains={"action": "login"}).mock(
        return_value=login_success()
    )

    async def rejected(self: RollBot, token: str, *, reconnect: bool = True) -> None:
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(RollBot, "start", rejected)

    with pytest.raises(app.StartupError, match="Discord rejected DISCORD_TOKEN"):
        await app.main(settings(tmp_path))

    assert login.call_count == 1  # the wiki credentials are checked before Discord
    database = tmp_path / "new-dir" / "rollbot.sqlite3"
    with sqlite3.connect(database) as connection:  # created, and migrated to head
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"rollback_request", "alembic_version"} <= tables


@respx.mock(assert_all_mocked=True)
async def test_wrong_bot_password_stops_before_discord(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, respx_mock: respx.MockRouter
) -> None:
    respx_mock.get(API, params__contains={"type": "login"}).mock(
        return_value=login_token_response()
    )
    respx_mock.post(API, data__contains={"action": "login"}).mock(
        return_value=httpx.Response(
            200,
            json={
                "login": {
                    "result": "Failed",
                    "reason": {"code": "wrongpassword", "text": "Incorrect password."},
                }
            },
        )
    )
    started = False

    async def start(self: RollBot, token: str, *, reconnect: bool = True) -> None:
        nonlocal started
        started = True

    monkeypatch.setattr(RollBot, "start", start)

    with pytest.raises(app.StartupError, match="wiki refused WIKI_USERNAME/WIKI_PASSWORD") as err:
        await app.main(settings(tmp_path))

    assert not started
    assert PASSWORD not in str(err.value)


@respx.mock(assert_all_mocked=True)
async def test_unreachable_wiki_does_not_stop_the_bot(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    respx_mock: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    respx_mock.get(API).mock(side_effect=httpx.ConnectError("connection refused"))
    ran: list[str] = []

    async def start(self: RollBot, token: str, *, reconnect: bool = True) -> None:
        ran.append(token)

    monkeypatch.setattr(RollBot, "start", start)
    monkeypatch.setattr(RollBot, "setup_hook", _no_setup)

    with caplog.at_level(logging.WARNING):
        await app.main(settings(tmp_path))

    assert ran == [TOKEN]
    assert any("will retry on first use" in r.getMessage() for r in caplog.records)


async def _no_setup(self: RollBot) -> None:
    return None


def test_run_reports_a_startup_error_in_one_line(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app, "load_settings", lambda: settings(clean_env))
    monkeypatch.setattr(app, "configure_logging", lambda level, secrets: None)

    async def failing_main(_: Settings, __: object = None) -> None:
        raise app.StartupError("cannot reach Discord: no route")

    monkeypatch.setattr(app, "main", failing_main)

    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exited:
        app.run()

    assert exited.value.code == 1
    [record] = [r for r in caplog.records if r.name == "bot.app"]
    assert record.getMessage() == "cannot start: cannot reach Discord: no route"
    assert record.exc_info is None


async def test_sigterm_closes_the_bot() -> None:
    closed = asyncio.Event()

    class FakeBot:
        async def close(self) -> None:
            closed.set()

    loop = asyncio.get_running_loop()
    app._close_on_signals(FakeBot())  # type: ignore[arg-type]
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(5):
            await closed.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
