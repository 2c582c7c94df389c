"""What the workflow needs from a wiki client, and how a wiki error becomes an audit code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from bot.services.codes import BotCode
from bot.services.edit_check import EditWiki
from bot.services.settlement import SettlementWiki
from bot.settings import DEFAULT_WIKI
from bot.wiki.errors import WikiAPIError, WikiError, WikiTransportError
from bot.wiki.results import RollbackPreview, RollbackResult


class RollbackWiki(SettlementWiki, EditWiki, Protocol):
    """What the workflow needs from the wiki client (a fake in unit tests)."""

    @property
    def api_url(self) -> str: ...

    async def ensure_available(self) -> str | None:
        """None when this wiki can be used now, else why not (its login was refused, or it was
        unreachable and still is)."""
        ...

    async def preview(self, title: str, user: str) -> RollbackPreview: ...

    async def user_name_for_id(self, user_id: int) -> str | None:
        """The name of account `user_id` ("#12345"), None if the wiki has no such account."""
        ...

    async def rollback(
        self, title: str, user: str, *, summary: str | None, markbot: bool = False
    ) -> RollbackResult: ...

    async def default_rollback_summary(self) -> str: ...


def error_fields(exc: WikiError) -> tuple[str, str]:
    if isinstance(exc, WikiAPIError):
        return exc.code, exc.info
    if isinstance(exc, WikiTransportError):
        return (BotCode.TIMEOUT if exc.timed_out else BotCode.TRANSPORT), str(exc)
    return BotCode.WIKIERROR, str(exc)


W = TypeVar("W")


def keyed(wiki: W | None, wikis: Mapping[str, W] | None) -> dict[str, W]:
    """One wiki (as `default`) or several by key: what the services are built with."""
    if wikis is not None:
        if wiki is not None:
            raise TypeError("give `wiki` or `wikis`, not both")
        return dict(wikis)
    if wiki is None:
        raise TypeError("a wiki is needed")
    return {DEFAULT_WIKI: wiki}


class WikiAccess(Protocol):
    """Which wikis a server may use (the operator's choice) and its default among them."""

    def wikis_for(self, guild_id: int) -> Sequence[str]: ...

    async def default_wiki(self, guild_id: int) -> str | None: ...


class EveryWiki:
    """Every server may use every wiki; the default wiki is `default` (one-wiki setups, tests)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = tuple(keys)

    def wikis_for(self, guild_id: int) -> Sequence[str]:
        return self._keys

    async def default_wiki(self, guild_id: int) -> str | None:
        return DEFAULT_WIKI if DEFAULT_WIKI in self._keys else self._keys[0]
