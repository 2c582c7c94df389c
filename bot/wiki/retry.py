"""When (and how long) to wait before retrying a failed wiki request."""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.wiki.errors import MaxLagError, RateLimitedError, WikiError, WikiTransportError


def _is_retryable_status(status_code: int | None) -> bool:
    # None = no HTTP response at all (timeout, connect error, reset).
    return status_code is None or status_code == 429 or 500 <= status_code <= 599


@dataclass(frozen=True)
class RetryPolicy:
    """Delays for retryable failures; everything else is not retried.

    `attempt` is 1 for the first failed try. `sleep` and `random` are injectable so tests never
    sleep and jitter is deterministic.
    """

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    maxlag_default_delay: float = 5.0
    ratelimit_delay: float = 15.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)

    def delay_for(self, attempt: int, error: WikiError) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, MaxLagError):
            # The wiki tells us how long (Retry-After), else how far behind the replicas are.
            hint = error.retry_after if error.retry_after is not None else error.lag
            delay = hint if hint is not None and hint > 0 else self.maxlag_default_delay
            return min(delay, self.max_delay)
        if isinstance(error, RateLimitedError):
            if error.retry_after is not None:
                return min(error.retry_after, self.max_delay)
            return min(self.ratelimit_delay * 2.0 ** (attempt - 1), self.max_delay)
        if isinstance(error, WikiTransportError) and _is_retryable_status(error.status_code):
            if error.retry_after is not None:
                return min(error.retry_after, self.max_delay)
            # Full jitter: spread clients out instead of retrying in lockstep.
            ceiling = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
            return self.random() * ceiling
        return None
