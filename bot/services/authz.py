"""Who may do what. Role lists come from settings (and later per-guild overrides)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


class RolePolicy(Protocol):
    """Where the role lists of a guild come from."""

    async def rollback_role_ids(self, guild_id: int) -> frozenset[int]: ...

    async def log_viewer_role_ids(self, guild_id: int) -> frozenset[int]: ...


@dataclass(frozen=True, slots=True)
class StaticRolePolicy:
    """The `.env` defaults, the same for every guild."""

    rollback_roles: frozenset[int]
    log_viewer_roles: frozenset[int] = frozenset()

    async def rollback_role_ids(self, guild_id: int) -> frozenset[int]:
        return self.rollback_roles

    async def log_viewer_role_ids(self, guild_id: int) -> frozenset[int]:
        return self.log_viewer_roles


def holds_any(member_role_ids: Collection[int], required: Collection[int]) -> bool:
    return not set(member_role_ids).isdisjoint(required)
