"""Shared pieces of the fault tests: the actor, the service and client factories, wiki checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import utcnow
from bot.services.authz import StaticRolePolicy
from bot.services.rollback import Actor, Ready, RollbackService
from bot.services.settlement import Settlement
from bot.wiki.client import ROLLBACK_TAG, WikiClient
from bot.wiki.retry import RetryPolicy

ROLE = 4242
MODERATOR = Actor(
    user_id=1001, display_name="Mod", role_ids=frozenset({ROLE}), guild_id=77, channel_id=5
)
CONFIRM_TIMEOUT = timedelta(minutes=5)
BOT_ACCOUNT = "Rollbot"  # the dev wiki's bot account (devwiki.ROLLBOT)


class Sleeps:
    """An injected `sleep` that records the delays and never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


def make_client(
    api_url: str,
    *,
    username: str,
    password: str,
    user_agent: str,
    timeout: float = 10.0,
    sleeps: Sleeps | None = None,
    max_attempts: int = 4,
) -> WikiClient:
    retry = RetryPolicy(
        max_attempts=max_attempts,
        sleep=sleeps if sleeps is not None else Sleeps(),
        random=lambda: 0.5,
    )
    return WikiClient(
        api_url=api_url,
        username=username,
        password=SecretStr(password),
        user_agent=user_agent,
        retry=retry,
        timeout=timeout,
    )


def make_service(
    wiki: WikiClient,
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Callable[[], datetime] = utcnow,
    sleeps: Sleeps | None = None,
    owner: str | None = None,
) -> RollbackService:
    """The real service; `sleeps` (default: one that never waits) also takes settlement's
    re-check pauses, whose count the tests read."""
    return RollbackService(
        wiki=wiki,
        sessions=sessions,
        roles=StaticRolePolicy(frozenset({ROLE})),
        confirm_timeout=CONFIRM_TIMEOUT,
        clock=clock,
        settlement=Settlement(
            wiki=wiki, sessions=sessions, sleep=sleeps if sleeps is not None else Sleeps()
        ),
        owner=owner,
    )


async def ready_request(service: RollbackService, page: str, user: str = "Vandal") -> int:
    """A `/rollback` that produced a preview: the row is `pending`; its id."""
    outcome = await service.request(
        MODERATOR, page=page, user=user, summary="fault test", markbot=False
    )
    assert isinstance(outcome, Ready), outcome
    assert outcome.request.id is not None
    return outcome.request.id


def is_bot_rollback(tags: tuple[str, ...], user: str) -> bool:
    return ROLLBACK_TAG in tags and user == BOT_ACCOUNT
