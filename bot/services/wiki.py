"""What the workflow needs from a wiki client, and how a wiki error becomes an audit code."""

from __future__ import annotations

from typing import Protocol

from bot.services.codes import BotCode
from bot.services.settlement import SettlementWiki
from bot.wiki.errors import WikiAPIError, WikiError, WikiTransportError
from bot.wiki.results import RollbackPreview, RollbackResult


class RollbackWiki(SettlementWiki, Protocol):
    """What the workflow needs from the wiki client (a fake in unit tests)."""

    @property
    def api_url(self) -> str: ...

    async def preview(self, title: str, user: str) -> RollbackPreview: ...

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
