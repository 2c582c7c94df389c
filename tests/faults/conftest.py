"""Fixtures for the fault tests.

The real dev wiki comes from tests/integration (``wiki_template``, ``wiki``): same skip/fail rule,
a missing MediaWiki skips, or fails under ROLLBOT_REQUIRE_INTEGRATION=1. Every test here that uses
it carries the ``integration`` marker. The database fixtures (``database_url``, ``engine``,
``session_factory`` over SQLite and PostgreSQL) come from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.proxy import FaultProxy
from tests.faults.support import Sleeps
from tests.integration import conftest as integration
from tests.integration.conftest import devwiki

# The dev-wiki fixtures of tests/integration, shared rather than copied.
wiki_template = integration.wiki_template
wiki = integration.wiki

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.resolve().parents and "wiki" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def proxy(wiki: devwiki.RunningWiki) -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of this test's wiki; ``proxy.api_url`` is where the bot points."""
    async with FaultProxy(upstream_port=wiki.port) as running:
        yield running
