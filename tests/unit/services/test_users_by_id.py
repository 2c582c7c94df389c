"""/rollback with "#12345": the id is resolved to the account's name before the preview; the
row, the preview and the rollback then use the name."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.authz import StaticRolePolicy
from bot.services.rollback import Actor, Claimed, Ready, Refused, RollbackService, Succeeded
from bot.wiki.errors import WikiTransportError
from tests.unit.services.fakes import Clock, FakeWiki, ready_preview

MOD = Actor(user_id=1, display_name="Mod", role_ids=frozenset({111}), guild_id=999)
Sessions = async_sessionmaker[AsyncSession]


def make_service(sessions: Sessions, wiki: FakeWiki) -> RollbackService:
    return RollbackService(
        wiki=wiki,
        sessions=sessions,
        roles=StaticRolePolicy(rollback_roles=frozenset({111})),
        confirm_timeout=timedelta(seconds=120),
        clock=Clock(),
    )


async def stored(sessions: Sessions, request_id: int | None) -> RollbackRequest:
    assert request_id is not None
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


async def test_an_id_becomes_the_name_in_the_preview_the_row_and_the_rollback(
    session_factory: Sessions,
) -> None:
    wiki = FakeWiki(previews=[ready_preview(user="~2025-1")], user_ids={12345: "~2025-1"})
    service = make_service(session_factory, wiki)

    offered = await service.request(
        MOD, page="Main Page", user=" #12345", summary=None, markbot=False
    )

    assert isinstance(offered, Ready), offered
    assert wiki.user_id_calls == [12345]
    assert wiki.preview_calls == [("Main Page", "~2025-1")]
    assert (await stored(session_factory, offered.request.id)).target_user == "~2025-1"
    claim = await service.claim(offered.request.id or 0, MOD)
    assert isinstance(claim, Claimed)
    assert isinstance(await service.execute(claim), Succeeded)
    assert [call["user"] for call in wiki.rollback_calls] == ["~2025-1"]
    assert wiki.user_id_calls == [12345]  # resolved once, at the request


async def test_an_unknown_id_is_refused_before_any_preview(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)

    outcome = await service.request(MOD, page="Main Page", user="#404", summary=None, markbot=False)

    assert isinstance(outcome, Refused), outcome
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code, row.target_user) == (
        RollbackStatus.FAILED,
        "nosuchuserid",
        "#404",
    )
    assert row.error_message == "The wiki has no account with the user id 404."
    assert wiki.preview_calls == []


async def test_a_wiki_failure_while_resolving_ends_the_request_with_its_code(
    session_factory: Sessions,
) -> None:
    class Unreachable(FakeWiki):
        async def user_name_for_id(self, user_id: int) -> str | None:
            raise WikiTransportError("could not reach the wiki", ambiguous=False)

    wiki = Unreachable()
    outcome = await make_service(session_factory, wiki).request(
        MOD, page="Main Page", user="#5", summary=None, markbot=False
    )

    assert isinstance(outcome, Refused), outcome
    assert (await stored(session_factory, outcome.request.id)).error_code == "transport"
    assert wiki.preview_calls == []


async def test_a_plain_name_is_not_looked_up(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    outcome = await make_service(session_factory, wiki).request(
        MOD, page="Main Page", user="Vandal", summary=None, markbot=False
    )
    assert isinstance(outcome, Ready)
    assert wiki.user_id_calls == []
