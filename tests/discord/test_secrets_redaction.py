"""Secrets (Discord token, wiki password) never reach a log line, tracebacks included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logging_setup import REDACTED, RedactingFilter, configure_logging
from tests.discord.harness import MOD, TOKEN, DiscordHarness, Sessions

PASSWORD = "wiki-bot-password-0123456789"


@pytest.fixture
def stream_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler formats like production and carries the redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter([TOKEN, PASSWORD]))
    logger = logging.getLogger("tests.discord.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Undo `configure_logging`'s changes to the root logger after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    httpx_level = logging.getLogger("httpx").level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("httpx").setLevel(httpx_level)


def _fail_login() -> None:
    raise RuntimeError(f"login failed: lgpassword={PASSWORD}")


def _send_with_token() -> None:
    raise ValueError(f"Authorization: Bot {TOKEN}")


def _fail_request() -> None:
    try:
        _send_with_token()
    except ValueError as inner:
        raise ConnectionError("request failed") from inner


def test_secret_in_message_arguments_is_redacted(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger

    logger.info("logging in with token %s and password %r", TOKEN, PASSWORD)

    out = stream.getvalue()
    assert TOKEN not in out
    assert PASSWORD not in out
    assert out.count(REDACTED) == 2
    assert "logging in with token" in out


def test_secret_in_exception_text_is_redacted(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger

    try:
        _fail_login()
    except RuntimeError:
        logger.exception("wiki login failed")

    out = stream.getvalue()
    assert "Traceback (most recent call last)" in out
    assert "RuntimeError: login failed: lgpassword=" + REDACTED in out
    assert PASSWORD not in out


def test_secret_in_chained_exception_is_redacted(
    stream_logger: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = stream_logger

    try:
        _fail_request()
    except ConnectionError:
        logger.exception("gateway error")

    out = stream.getvalue()
    assert "The above exception was the direct cause" in out
    assert TOKEN not in out
    assert f"Authorization: Bot {REDACTED}" in out


def test_longer_secret_is_removed_whole(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = stream_logger
    handler = logger.handlers[0]
    handler.filters[:] = [RedactingFilter(["abcd", "abcd-efgh-ijkl", "xy"])]

    logger.warning("values abcd-efgh-ijkl abcd xy")

    # The longer secret goes first (no "[redacted]-efgh-ijkl" leftovers); too-short ones are kept.
    assert stream.getvalue().strip().endswith(f"values {REDACTED} {REDACTED} xy")


@pytest.mark.asyncio
async def test_configured_logging_never_prints_the_token_during_a_rollback(
    root_logging: None,
    capsys: pytest.CaptureFixture[str],
    sqlite_session_factory: Sessions,
) -> None:
    """The production setup at DEBUG (discord.py logs every HTTP request) over a whole flow."""
    configure_logging("DEBUG", secrets=[TOKEN, PASSWORD])
    h = await DiscordHarness.start(sqlite_session_factory)
    try:
        prompt = await h.open_prompt(MOD)
        await h.click(MOD, prompt.confirm_id, message=prompt.message)
        logging.getLogger("bot.app").info("settings: token=%s password=%s", TOKEN, PASSWORD)
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()

    err = capsys.readouterr().err
    assert "discord.http" in err  # discord.py's own debug lines went through this handler
    assert TOKEN not in err
    assert PASSWORD not in err
    assert f"settings: token={REDACTED} password={REDACTED}" in err
