"""RetryPolicy arithmetic: what is retried, how long, and when it stops."""

from __future__ import annotations

import pytest

from bot.wiki.errors import (
    AlreadyRolledError,
    MaxLagError,
    RateLimitedError,
    WikiTransportError,
)
from bot.wiki.retry import RetryPolicy

POLICY = RetryPolicy(random=lambda: 0.5)


def maxlag(retry_after: float | None = None, lag: float | None = None) -> MaxLagError:
    return MaxLagError(
        "maxlag", "Waiting for db1: 7 seconds lagged.", retry_after=retry_after, lag=lag
    )


def transport(status: int | None, retry_after: float | None = None) -> WikiTransportError:
    return WikiTransportError("x", ambiguous=False, status_code=status, retry_after=retry_after)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (maxlag(retry_after=5), 5.0),
        (maxlag(retry_after=600, lag=600), 60.0),  # capped at max_delay
        (maxlag(lag=7.5), 7.5),  # no Retry-After: the lag itself
        (maxlag(), 5.0),  # neither: maxlag_default_delay
        (maxlag(retry_after=0, lag=0), 5.0),  # "0" would be a busy loop
    ],
)
def test_maxlag_delay(error: MaxLagError, expected: float) -> None:
    assert POLICY.delay_for(1, error) == expected


def test_ratelimited_backs_off_growing_and_capped() -> None:
    policy = RetryPolicy(max_attempts=10)
    error = RateLimitedError("ratelimited", "You've exceeded your rate limit.")
    assert [policy.delay_for(n, error) for n in (1, 2, 3, 4)] == [15.0, 30.0, 60.0, 60.0]


def test_ratelimited_honours_retry_after_capped() -> None:
    error = RateLimitedError("ratelimited", "slow down", retry_after=90)
    assert POLICY.delay_for(1, error) == 60.0


@pytest.mark.parametrize("status", [None, 429, 500, 502, 503, 504])
def test_transport_full_jitter(status: int | None) -> None:
    policy = RetryPolicy(max_attempts=10, random=lambda: 0.5)
    delays = [policy.delay_for(n, transport(status)) for n in (1, 2, 3, 8)]
    # random() * min(base * 2**(n-1), max_delay)
    assert delays == [0.5, 1.0, 2.0, 30.0]


def test_transport_jitter_uses_random_each_time() -> None:
    values = iter([0.0, 0.99])
    policy = RetryPolicy(random=lambda: next(values))
    assert policy.delay_for(1, transport(503)) == 0.0
    assert policy.delay_for(2, transport(503)) == pytest.approx(1.98)


def test_transport_honours_retry_after_capped() -> None:
    assert POLICY.delay_for(1, transport(429, retry_after=3)) == 3.0
    assert POLICY.delay_for(1, transport(503, retry_after=3600)) == 60.0


@pytest.mark.parametrize(
    "error",
    [
        AlreadyRolledError("alreadyrolled", "Already rolled back."),
        transport(404),
        transport(403),
        WikiTransportError("not JSON", ambiguous=True, status_code=200),
    ],
)
def test_not_retried(error: Exception) -> None:
    assert POLICY.delay_for(1, error) is None  # type: ignore[arg-type]


def test_attempts_are_capped() -> None:
    policy = RetryPolicy(max_attempts=3)
    error = transport(503)
    assert policy.delay_for(2, error) is not None
    assert policy.delay_for(3, error) is None
    assert policy.delay_for(3, maxlag(retry_after=1)) is None
