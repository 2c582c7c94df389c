"""Helpers for the DB tests (the database fixtures themselves are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.db.models import RollbackRequest, RollbackStatus, utcnow

RequestFactory = Callable[..., RollbackRequest]

# Bigger than 2**63 / 8: a realistic Discord snowflake that overflows any 32-bit column.
SNOWFLAKE = 1234567890123456789


def build_request(**overrides: Any) -> RollbackRequest:
    """A valid pending request; keyword arguments override any field."""
    fields: dict[str, Any] = {
        "guild_id": SNOWFLAKE,
        "channel_id": SNOWFLAKE + 1,
        "requester_id": SNOWFLAKE + 2,
        "requester_name": "Moderator",
        "wiki_api_url": "https://wiki.example.org/w/api.php",
        "page_title": "Main Page",
        "target_user": "Vandal",
        "status": RollbackStatus.PENDING,
        "expires_at": utcnow() + timedelta(minutes=2),
    }
    fields.update(overrides)
    return RollbackRequest(**fields)


@pytest.fixture
def make_request() -> RequestFactory:
    return build_request
