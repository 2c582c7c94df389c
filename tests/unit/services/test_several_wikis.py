"""One service, several wikis (SQLite and PostgreSQL): each row names its wiki and everything
that happens to it afterwards (confirm, reconcile, re-checks) goes to that wiki's client; a
server acts only on the wikis the operator granted it, whatever the client sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.authz import StaticRolePolicy
from bot.services.codes import BotCode
from bot.services.guild_settings import Editor, GuildDefaults, GuildSettingsService
from bot.services.rollback import (
    Actor,
    Claimed,
    Denied,
    Ready,
    Refused,
    RollbackService,
    Succeeded,
)
from bot.services.settlement import Settlement
from bot.settings import DEFAULT_WIKI
from bot.wiki.results import RollbackResult
from tests.unit.services.fakes import Clock, FakeWiki

Sessions = async_sessionmaker[AsyncSession]

MOD_ROLE = 111
HOME, PARTNER = 1001, 1002
MOD = Actor(user_id=1, display_name="Mod", role_ids=frozenset({MOD_ROLE}), guild_id=HOME)
PARTNER_MOD = Actor(
    user_id=2, display_name="Partner", role_ids=frozenset({MOD_ROLE}), guild_id=PARTNER
)
NOBODY = Actor(user_id=3, display_name="Nobody", role_ids=frozenset({5}), guild_id=HOME)

# HOME may use both wikis; PARTNER only `second`.
WIKI_GUILDS: dict[str, frozenset[int] | None] = {
    DEFAULT_WIKI: frozenset({HOME}),
    "second": frozenset({HOME, PARTNER}),
}


async def no_sleep(_: float) -> None:
    return None


class World:
    def __init__(self, sessions: Sessions, clock: Clock | None = None) -> None:
        self.sessions = sessions
        self.clock = clock or Clock()
        self.default = FakeWiki(api_url="https://main.example/w/api.php")
        self.second = FakeWiki(api_url="https://second.example/w/api.php")
        self.settings = GuildSettingsService(
            sessions=sessions,
            defaults=GuildDefaults(
                log_channel_id=None,
                rollback_role_ids=frozenset({MOD_ROLE}),
                wiki_guilds=WIKI_GUILDS,
            ),
        )

    def service(self, owner: str = "p1") -> RollbackService:
        wikis = {DEFAULT_WIKI: self.default, "second": self.second}
        return RollbackService(
            wikis=wikis,
            access=self.settings,
            sessions=self.sessions,
            roles=StaticRolePolicy(rollback_roles=frozenset({MOD_ROLE})),
            confirm_timeout=timedelta(seconds=120),
            clock=self.clock,
            settlement=Settlement(wikis=wikis, sessions=self.sessions, sleep=no_sleep),
            owner=owner,
        )

    def wiki_calls(self, wiki: FakeWiki) -> int:
        return len(wiki.preview_calls) + len(wiki.rollback_calls) + len(wiki.find_calls)


async def stored(sessions: Sessions, request_id: int | None) -> RollbackRequest:
    assert request_id is not None
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


async def ask(service: RollbackService, actor: Actor, wiki: str) -> object:
    return await service.request(
        actor, page="Main Page", user="Vandal", summary=None, markbot=False, wiki=wiki
    )


async def test_a_rollback_on_the_second_wiki_touches_only_that_wiki(
    session_factory: Sessions,
) -> None:
    world = World(session_factory)
    service = world.service()

    outcome = await ask(service, MOD, "second")
    assert isinstance(outcome, Ready)
    claim = await service.claim(outcome.request.id or 0, MOD)
    assert isinstance(claim, Claimed)
    assert isinstance(await service.execute(claim), Succeeded)

    row = await stored(session_factory, outcome.request.id)
    assert (row.wiki, row.wiki_api_url) == ("second", "https://second.example/w/api.php")
    assert (row.status, row.revid) == (RollbackStatus.SUCCEEDED, 13)
    assert len(world.second.preview_calls) == 2  # the preview, and the re-check at Confirm
    assert len(world.second.rollback_calls) == 1
    assert world.wiki_calls(world.default) == 0


@pytest.mark.parametrize(
    "asked",
    [
        "default",  # exists, but the operator did not grant it to PARTNER
        "third",  # no such wiki
        "Default",  # the same, in another case
        "x" * 200,  # longer than any key (and than the column)
        "sécond",
    ],
)
async def test_a_wiki_the_server_may_not_use_is_refused_and_recorded(
    session_factory: Sessions, asked: str
) -> None:
    world = World(session_factory)
    service = world.service()

    outcome = await ask(service, PARTNER_MOD, asked)

    assert isinstance(outcome, Refused)
    assert outcome.code == BotCode.WIKINOTALLOWED
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.DENIED, BotCode.WIKINOTALLOWED)
    assert row.wiki == asked[:32]
    assert world.wiki_calls(world.default) + world.wiki_calls(world.second) == 0


async def test_a_member_without_the_role_is_denied_before_the_wiki_is_looked_at(
    session_factory: Sessions,
) -> None:
    world = World(session_factory)

    outcome = await ask(world.service(), NOBODY, "y" * 100)

    assert isinstance(outcome, Denied)
    row = await stored(session_factory, outcome.request.id)
    assert (row.error_code, row.wiki) == (BotCode.MISSINGROLE, "y" * 32)


async def test_an_unavailable_wiki_answers_so_and_the_other_serves(
    session_factory: Sessions,
) -> None:
    world = World(session_factory)
    world.second.unavailable = "the wiki could not be reached"
    service = world.service()

    outcome = await ask(service, MOD, "second")
    assert isinstance(outcome, Refused)
    assert outcome.code == BotCode.WIKIUNAVAILABLE
    assert "wiki second is unavailable" in outcome.message
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, BotCode.WIKIUNAVAILABLE)
    assert world.wiki_calls(world.second) == 0

    assert isinstance(await ask(service, MOD, DEFAULT_WIKI), Ready)


async def test_resolve_wiki_the_asked_one_else_the_server_default_else_the_first_allowed(
    session_factory: Sessions,
) -> None:
    world = World(session_factory)
    service = world.service()

    assert service.wikis_for(HOME) == [DEFAULT_WIKI, "second"]
    assert service.wikis_for(PARTNER) == ["second"]
    assert service.wikis_for(4242) == []
    assert await service.resolve_wiki(HOME, None) == DEFAULT_WIKI
    assert await service.resolve_wiki(PARTNER, None) == "second"
    assert await service.resolve_wiki(4242, None) is None
    assert await service.resolve_wiki(HOME, " Second ") == "second"

    await world.settings.set_default_wiki(HOME, "second", by=Editor(MOD.user_id, "Mod"))
    assert await service.resolve_wiki(HOME, None) == "second"


async def test_reconcile_asks_the_wiki_of_each_row(session_factory: Sessions) -> None:
    """A process died mid-rollback on each wiki; the one that starts later settles each row
    from its own wiki's history (here only `second` shows the rollback)."""
    world = World(session_factory)
    world.second.found = [
        RollbackResult(
            title="Main Page", pageid=7, summary="s", revid=77, old_revid=12, last_revid=10
        )
    ]
    dead = world.service(owner="dead")
    on_second = await ask(dead, MOD, "second")
    on_default = await ask(dead, MOD, DEFAULT_WIKI)
    for outcome in (on_second, on_default):
        assert isinstance(outcome, Ready)
        assert isinstance(await dead.claim(outcome.request.id or 0, MOD), Claimed)

    world.clock.advance(500)  # the dead process's leases lapse
    await world.service(owner="fresh").reconcile()

    assert isinstance(on_second, Ready)
    assert isinstance(on_default, Ready)
    second_row = await stored(session_factory, on_second.request.id)
    default_row = await stored(session_factory, on_default.request.id)
    assert (second_row.status, second_row.revid) == (RollbackStatus.SUCCEEDED, 77)
    assert (default_row.status, default_row.error_code) == (RollbackStatus.FAILED, "interrupted")
    assert world.second.find_calls
    assert world.default.find_calls
    assert world.default.rollback_calls == [] == world.second.rollback_calls


async def test_a_row_of_a_wiki_no_longer_configured_is_left_for_the_operator(
    session_factory: Sessions,
) -> None:
    """The operator removed a wiki from WIKIS while a request on it was running: the process
    that starts cannot ask that wiki, and must not guess from another one's history."""
    world = World(session_factory)
    dead = world.service(owner="dead")
    outcome = await ask(dead, MOD, "second")
    assert isinstance(outcome, Ready)
    assert isinstance(await dead.claim(outcome.request.id or 0, MOD), Claimed)

    world.clock.advance(500)
    only_default = RollbackService(
        wiki=world.default,
        sessions=session_factory,
        roles=StaticRolePolicy(rollback_roles=frozenset({MOD_ROLE})),
        confirm_timeout=timedelta(seconds=120),
        clock=world.clock,
        settlement=Settlement(wiki=world.default, sessions=session_factory, sleep=no_sleep),
        owner="fresh",
    )
    await only_default.reconcile()

    row = await stored(session_factory, outcome.request.id)
    assert row.status == RollbackStatus.RUNNING  # undecided: the operator can look it up
    assert world.default.find_calls == []  # never asked the wrong wiki


async def test_a_prompt_of_a_wiki_no_longer_configured_fails_clearly_on_confirm(
    session_factory: Sessions,
) -> None:
    world = World(session_factory)
    outcome = await ask(world.service(), MOD, "second")
    assert isinstance(outcome, Ready)
    restarted = RollbackService(
        wiki=world.default,
        sessions=session_factory,
        roles=StaticRolePolicy(rollback_roles=frozenset({MOD_ROLE})),
        confirm_timeout=timedelta(seconds=120),
        clock=world.clock,
        owner="restarted",
    )

    claim = await restarted.claim(outcome.request.id or 0, MOD)
    assert isinstance(claim, Claimed)
    ended = await restarted.execute(claim)

    assert isinstance(ended, Refused)
    assert ended.code == BotCode.WIKIUNAVAILABLE
    assert "wiki second is unavailable" in ended.message
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, BotCode.WIKIUNAVAILABLE)
    assert world.wiki_calls(world.default) == 0
