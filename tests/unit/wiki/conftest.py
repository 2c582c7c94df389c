"""Fixtures for the wiki client tests: a respx-mocked wiki and a client that never sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from bot.wiki.client import WikiClient
from bot.wiki.retry import RetryPolicy
from tests.unit.wiki.payloads import (
    API,
    BOT_LOGIN,
    PASSWORD,
    USER_AGENT,
    MakeClient,
    Sleeps,
    Wiki,
)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, random=lambda: 0.5)


@pytest.fixture
def wiki_mock() -> Iterator[respx.MockRouter]:
    # assert_all_called=False: tests declare the whole wiki but each uses only part of it.
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def wiki(wiki_mock: respx.MockRouter) -> Wiki:
    return Wiki(wiki_mock)


@pytest.fixture
async def make_client(policy: RetryPolicy) -> AsyncIterator[MakeClient]:
    """Build clients on one shared, injected httpx client; keyword overrides as in WikiClient."""
    async with httpx.AsyncClient() as http:

        def make(**overrides: Any) -> WikiClient:
            options: dict[str, Any] = {
                "api_url": API,
                "username": BOT_LOGIN,
                "password": SecretStr(PASSWORD),
                "user_agent": USER_AGENT,
                "http": http,
                "retry": policy,
            }
            options.update(overrides)
            return WikiClient(**options)

        yield make


@pytest.fixture
def client(make_client: MakeClient) -> WikiClient:
    return make_client()
