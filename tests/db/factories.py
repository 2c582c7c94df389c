"""Rows for DB-backed tests: `build_request` makes a valid pending `RollbackRequest`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.db.models import RollbackRequest, RollbackStatus, utcnow

RequestFactory = Callable[..., RollbackRequest]

# A realistic Discord snowflake (> 2**60): it overflows any 32-bit column.
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
