"""Retries: maxlag, ratelimited, 429/5xx on reads, and never a blind re-POST of a rollback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.wiki.client import WikiClient
from bot.wiki.errors import (
    MaxLagError,
    PermissionDeniedError,
    RateLimitedError,
    WikiTransportError,
)
from bot.wiki.retry import RetryPolicy
from tests.unit.wiki.payloads import (
    MakeClient,
    Sleeps,
    Wiki,
    api_error,
    history,
    rev,
    rollback_success,
)


def ago(seconds: float) -> str:
    """A wiki timestamp `seconds` before now (the rollback under test starts "now")."""
    moment = datetime.now(UTC) - timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def maxlag(retry_after: str) -> httpx.Response:
    return api_error(
        "maxlag",
        "Waiting for 10.64.16.8: 7 seconds lagged.",
        headers={"Retry-After": retry_after, "X-Database-Lag": "7"},
        data={"host": "10.64.16.8", "lag": 7, "type": "db"},
    )


def ratelimited() -> httpx.Response:
    return api_error(
        "ratelimited",
        "As an anti-abuse measure, you are limited from performing this action too many times.",
    )


def vandal_on_top() -> httpx.Response:
    return history(
        [
            rev(1003, "Vandal", ago(120)),
            rev(1002, "Vandal", ago(180)),
            rev(1001, "Alice", ago(86400)),
        ]
    )


def rolled_back_by_bot() -> httpx.Response:
    return history(
        [
            rev(1004, "RollBot", ago(1), tags=["mw-rollback"], comment="rv vandalism", size=300),
            rev(1003, "Vandal", ago(120)),
            rev(1002, "Vandal", ago(180)),
            rev(1001, "Alice", ago(86400)),
        ]
    )


async def test_maxlag_waits_retry_after_then_succeeds(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps
) -> None:
    wiki.rollback.side_effect = [maxlag("5"), rollback_success()]
    result = await client.rollback("Sandbox", "Vandal", summary=None)
    assert result.revid == 1004
    assert sleeps.delays == [5.0]
    assert wiki.rollback.call_count == 2


async def test_maxlag_retry_after_is_capped(client: WikiClient, wiki: Wiki, sleeps: Sleeps) -> None:
    wiki.rollback.side_effect = [maxlag("3600"), rollback_success()]
    await client.rollback("Sandbox", "Vandal", summary=None)
    assert sleeps.delays == [60.0]


async def test_maxlag_gives_up_after_max_attempts(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps
) -> None:
    wiki.rollback.side_effect = [maxlag("5")] * 4
    with pytest.raises(MaxLagError):
        await client.rollback("Sandbox", "Vandal", summary=None)
    assert wiki.rollback.call_count == 4
    assert sleeps.delays == [5.0, 5.0, 5.0]


async def test_ratelimited_backs_off_then_succeeds(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps
) -> None:
    wiki.rollback.side_effect = [ratelimited(), ratelimited(), rollback_success()]
    await client.rollback("Sandbox", "Vandal", summary=None)
    assert sleeps.delays == [15.0, 30.0]


async def test_ratelimited_gives_up(client: WikiClient, wiki: Wiki, sleeps: Sleeps) -> None:
    wiki.rollback.side_effect = [ratelimited()] * 4
    with pytest.raises(RateLimitedError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)
    assert caught.value.code == "ratelimited"
    assert sleeps.delays == [15.0, 30.0, 60.0]
    assert wiki.history.call_count == 0


def denied_and_ratelimited(*codes: str) -> httpx.Response:
    """One answer with several errors, as MediaWiki 1.39 sends when an account without the
    right is also over the limit (failed attempts count): header "permissiondenied, ratelimited"."""
    texts = {
        "permissiondenied": "The action you have requested is limited to users in: rollbacker.",
        "ratelimited": "As an anti-abuse measure, you are limited from performing this action.",
    }
    return httpx.Response(
        200,
        headers={"MediaWiki-API-Error": ", ".join(codes)},
        json={"errors": [{"code": c, "text": texts[c], "module": "rollback"} for c in codes]},
    )


@pytest.mark.parametrize(
    "codes", [("permissiondenied", "ratelimited"), ("ratelimited", "permissiondenied")]
)
async def test_permanent_error_wins_over_ratelimited(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps, codes: tuple[str, ...]
) -> None:
    """Whatever the order of the errors, the refusal is raised at once, never backed off."""
    wiki.rollback.side_effect = [denied_and_ratelimited(*codes)]
    with pytest.raises(PermissionDeniedError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)
    assert caught.value.code == "permissiondenied"
    assert wiki.rollback.call_count == 1
    assert sleeps.delays == []


async def test_reads_retry_5xx_and_429_with_jitter(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps
) -> None:
    wiki.history.side_effect = [
        httpx.Response(503, text="<html>Service Unavailable</html>"),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(429, headers={"Retry-After": "3"}, text="Too Many Requests"),
        vandal_on_top(),
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.edits_to_revert == 2
    # random() is 0.5: 0.5 * 1, 0.5 * 2, then the server's Retry-After.
    assert sleeps.delays == [0.5, 1.0, 3.0]
    assert wiki.history.call_count == 4


async def test_reads_give_up_after_max_attempts(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps
) -> None:
    wiki.history.side_effect = [httpx.Response(500)] * 4
    with pytest.raises(WikiTransportError) as caught:
        await client.preview("Sandbox", "Vandal")
    assert caught.value.status_code == 500
    assert len(sleeps.delays) == 3


async def test_read_timeout_on_a_read_is_retried(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps
) -> None:
    wiki.history.side_effect = [httpx.ReadTimeout("timed out"), vandal_on_top()]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.edits_to_revert == 2
    assert len(sleeps.delays) == 1


async def test_non_json_body_is_a_transport_error(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        httpx.Response(200, text="<!DOCTYPE html><title>Wiki error</title>"),
    ]
    with pytest.raises(WikiTransportError) as caught:
        await client.preview("Sandbox", "Vandal")
    assert caught.value.ambiguous is True
    assert caught.value.status_code == 200
    assert wiki.history.call_count == 1


async def test_connect_error_on_rollback_is_resent_without_history_check(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps
) -> None:
    wiki.rollback.side_effect = [httpx.ConnectError("connection refused"), rollback_success()]
    result = await client.rollback("Sandbox", "Vandal", summary=None)
    assert result.revid == 1004
    assert wiki.rollback.call_count == 2
    assert wiki.history.call_count == 0  # nothing reached the wiki, so no need to look
    assert sleeps.delays == [0.5]


async def test_connect_timeout_is_not_ambiguous(client: WikiClient, wiki: Wiki) -> None:
    wiki.rollback.side_effect = [httpx.ConnectTimeout("connect timed out")] * 4
    with pytest.raises(WikiTransportError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)
    assert caught.value.ambiguous is False
    assert caught.value.timed_out is True  # the audit row says "timeout", not "transport"
    assert wiki.rollback.call_count == 4
    assert wiki.history.call_count == 0


@pytest.mark.parametrize(
    ("failure", "timed_out"),
    [
        (httpx.ReadTimeout("timed out"), True),
        (httpx.ConnectError("connection refused"), False),
        (httpx.RemoteProtocolError("peer closed connection"), False),
    ],
)
async def test_transport_errors_say_whether_the_wiki_timed_out(
    client: WikiClient, wiki: Wiki, failure: Exception, timed_out: bool
) -> None:
    wiki.history.side_effect = [failure] * 4
    with pytest.raises(WikiTransportError) as caught:
        await client.preview("Sandbox", "Vandal")
    assert caught.value.timed_out is timed_out


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.Response(504, text="Gateway Timeout"),
        httpx.Response(200, text="<html>PHP fatal error</html>"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["read-timeout", "5xx", "garbled-body", "reset"],
)
async def test_a_lost_answer_is_raised_after_one_post_never_resent_here(
    client: WikiClient, wiki: Wiki, sleeps: Sleeps, failure: httpx.Response | Exception
) -> None:
    """The client does not judge a lost answer: the service's settlement step reads the
    history (once, in one place) and decides whether to send again."""
    wiki.rollback.side_effect = [failure, rollback_success()]
    with pytest.raises(WikiTransportError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)
    assert caught.value.ambiguous is True
    assert wiki.rollback.call_count == 1
    assert wiki.history.call_count == 0
    assert sleeps.delays == []


async def test_semaphore_not_held_while_sleeping(make_client: MakeClient, wiki: Wiki) -> None:
    """With max_concurrency=1, a request waiting to retry must not block other requests."""
    other_done = asyncio.Event()

    async def sleep_while_another_request_runs(_: float) -> None:
        await client.preview("Other", "Vandal")  # would deadlock if the semaphore were held
        other_done.set()

    client = make_client(
        max_concurrency=1,
        retry=RetryPolicy(sleep=sleep_while_another_request_runs, random=lambda: 0.5),
    )
    wiki.history.side_effect = [httpx.Response(503), vandal_on_top(), vandal_on_top()]
    preview = await asyncio.wait_for(client.preview("Sandbox", "Vandal"), timeout=2)
    assert other_done.is_set()
    assert preview.edits_to_revert == 2
