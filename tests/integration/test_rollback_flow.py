"""The whole workflow (`RollbackService`: request → claim → execute, reconcile) with the real
client, a real MediaWiki 1.39 and a real database (SQLite and PostgreSQL).

After every step the audit row, read back through a fresh session, must agree with the wiki's
own history: the revids the row records are the revisions the wiki has, and a row that says
"nothing happened" sits next to a page the bot did not touch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import devwiki
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus, utcnow
from bot.services.authz import StaticRolePolicy
from bot.services.rollback import (
    LEASE,
    Actor,
    Claimed,
    Ready,
    Refused,
    RollbackService,
    Stale,
    Succeeded,
)
from bot.wiki.client import ROLLBACK_TAG, WikiClient
from bot.wiki.retry import RetryPolicy

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
MakeClient = Callable[..., WikiClient]

MOD_ROLE = 4242
MOD = Actor(
    user_id=1001, display_name="Mod $1", role_ids=frozenset({MOD_ROLE}), guild_id=77, channel_id=5
)


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def make_client(wiki: devwiki.RunningWiki) -> AsyncIterator[MakeClient]:
    clients: list[WikiClient] = []

    def make(login: devwiki.BotLogin | None = None, **overrides: Any) -> WikiClient:
        login = login or wiki.rollbot_login
        options: dict[str, Any] = {
            "api_url": wiki.api_url,
            "username": login.username,
            "password": SecretStr(login.password),
            "user_agent": wiki.user_agent,
            "retry": RetryPolicy(max_attempts=2, sleep=no_sleep, random=lambda: 0.0),
        }
        options.update(overrides)
        client = WikiClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def make_service(
    client: WikiClient, sessions: Sessions, *, later: timedelta = timedelta(0)
) -> RollbackService:
    """The real service; `later` runs its clock ahead (a process started after the crashed
    one's lease lapsed)."""
    return RollbackService(
        wiki=client,
        sessions=sessions,
        roles=StaticRolePolicy(rollback_roles=frozenset({MOD_ROLE})),
        confirm_timeout=timedelta(minutes=5),
        clock=lambda: utcnow() + later,
    )


def restarted(client: WikiClient, sessions: Sessions) -> RollbackService:
    return make_service(client, sessions, later=LEASE + timedelta(seconds=1))


@pytest.fixture
def service(make_client: MakeClient, session_factory: Sessions) -> RollbackService:
    return make_service(make_client(), session_factory)


async def stored(sessions: Sessions, request_id: int | None) -> RollbackRequest:
    """The row as committed, read through a fresh session."""
    assert request_id is not None
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


async def ready(
    service: RollbackService, page: str, user: str = "vandal", **kw: Any
) -> RollbackRequest:
    options: dict[str, Any] = {"summary": None, "markbot": False}
    options.update(kw)
    outcome = await service.request(MOD, page=page, user=user, **options)
    assert isinstance(outcome, Ready), outcome
    return outcome.request


async def claimed(service: RollbackService, request: RollbackRequest) -> Claimed:
    assert request.id is not None
    outcome = await service.claim(request.id, MOD)
    assert isinstance(outcome, Claimed), outcome
    return outcome


def bot_rollbacks(wiki: devwiki.RunningWiki, title: str) -> list[devwiki.Revision]:
    return [r for r in wiki.revisions(title) if r.user == "Rollbot" and ROLLBACK_TAG in r.tags]


def assert_row_matches_wiki(
    wiki: devwiki.RunningWiki, row: RollbackRequest, page: devwiki.VandalisedPage
) -> devwiki.Revision:
    """A succeeded row names the one rollback the wiki has, and the good text is back."""
    assert row.status is RollbackStatus.SUCCEEDED
    assert (row.error_code, row.error_message) == (None, None)
    history = wiki.revisions(page.title)
    newest = history[0]
    assert [r.revid for r in bot_rollbacks(wiki, page.title)] == [newest.revid]
    assert row.revid == newest.revid
    assert row.old_revid == newest.parentid == page.latest_revid
    assert row.last_revid == page.good_revid
    assert newest.content == page.good_text
    assert row.page_title == page.title
    assert row.wiki_api_url == wiki.api_url
    return newest


def assert_nothing_rolled_back(wiki: devwiki.RunningWiki, title: str, top_revid: int) -> None:
    assert wiki.revisions(title)[0].revid == top_revid
    assert bot_rollbacks(wiki, title) == []


# ---- request → claim → execute -----------------------------------------------------------------


@pytest.mark.parametrize("markbot", [False, True])
async def test_confirmed_rollback_row_and_history_agree(
    wiki: devwiki.RunningWiki,
    service: RollbackService,
    session_factory: Sessions,
    markbot: bool,
) -> None:
    page = wiki.make_vandalised_page("Sandbox page", "Good text.", vandal_edits=2)

    request = await ready(service, "sandbox_page", summary="spam costs $1 a link", markbot=markbot)
    row = await stored(session_factory, request.id)
    assert row.status is RollbackStatus.PENDING
    assert (row.page_title, row.target_user) == ("Sandbox page", "Vandal")  # wiki-normalised
    assert (row.top_revid, row.restored_revid) == (page.latest_revid, page.good_revid)
    assert row.edits_to_revert == 2
    assert row.expires_at is not None

    claim = await claimed(service, request)
    assert (await stored(session_factory, request.id)).status is RollbackStatus.RUNNING
    outcome = await service.execute(claim)

    assert isinstance(outcome, Succeeded), outcome
    row = await stored(session_factory, request.id)
    newest = assert_row_matches_wiki(wiki, row, page)
    assert row.confirmed_by_id == MOD.user_id
    assert row.markbot is markbot
    assert (outcome.result.revid, outcome.result.pageid) == (row.revid, row.page_id)
    assert newest.comment == "spam costs &#36;1 a link (requested by Mod &#36;1 via Discord)"
    flagged = {rc.revid: rc.bot for rc in wiki.recent_changes(page.title)}
    assert flagged[newest.revid] is markbot
    assert all(flagged[revid] is markbot for revid in page.vandal_revids)


async def test_no_summary_uses_the_wiki_default_with_attribution(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    request = await ready(service, "Sandbox")

    outcome = await service.execute(await claimed(service, request))

    assert isinstance(outcome, Succeeded), outcome
    newest = assert_row_matches_wiki(wiki, await stored(session_factory, request.id), page)
    assert newest.comment == (
        "Reverted edits by [[Special:Contributions/Vandal|Vandal]] ([[User talk:Vandal|talk]])"
        " to last revision by [[User:Editor|Editor]] (requested by Mod &#36;1 via Discord)"
    )


async def test_refused_at_request_time_touches_nothing(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    fixed = wiki.edit("Sandbox", "Fixed by hand.", user="Editor")

    outcome = await service.request(MOD, page="Sandbox", user="Vandal", summary=None, markbot=False)

    assert isinstance(outcome, Refused), outcome
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "notlasteditor")
    assert row.top_revid == fixed
    assert_nothing_rolled_back(wiki, "Sandbox", fixed)


async def test_invalid_title_with_a_pipe_is_refused(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    """ "A|B" once made the preview describe page B (or A); now the wiki judges it one title."""
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    outcome = await service.request(
        MOD, page="Sandbox|Other", user="Vandal", summary=None, markbot=False
    )

    assert isinstance(outcome, Refused), outcome
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "invalidtitle")
    assert_nothing_rolled_back(wiki, "Sandbox", page.latest_revid)


# ---- the page changes between preview and confirm ------------------------------------------------


async def test_more_vandalism_after_the_preview_is_stale_then_succeeds(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    request = await ready(service, "Sandbox")
    newer = wiki.edit("Sandbox", "EVEN MORE VANDALISM", user="Vandal")

    outcome = await service.execute(await claimed(service, request))

    assert isinstance(outcome, Stale), outcome
    assert outcome.preview.edits_to_revert == 2
    row = await stored(session_factory, request.id)
    assert row.status is RollbackStatus.PENDING  # offered again, with the new numbers
    assert (row.top_revid, row.edits_to_revert) == (newer, 2)
    assert_nothing_rolled_back(wiki, "Sandbox", newer)

    again = await service.execute(await claimed(service, row))

    assert isinstance(again, Succeeded), again
    row = await stored(session_factory, request.id)
    later = devwiki.VandalisedPage(
        page.title, page.good_text, page.good_revid, (), (*page.vandal_revids, newer)
    )
    assert_row_matches_wiki(wiki, row, later)


async def test_fixed_by_hand_after_the_preview_is_refused(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=2)
    request = await ready(service, "Sandbox")
    fixed = wiki.edit("Sandbox", "Good text.", user="Editor")

    outcome = await service.execute(await claimed(service, request))

    assert isinstance(outcome, Refused), outcome
    row = await stored(session_factory, request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "notlasteditor")
    assert row.top_revid == fixed
    assert row.revid is None
    assert_nothing_rolled_back(wiki, "Sandbox", fixed)


# ---- the wiki refuses at execute time ------------------------------------------------------------


async def test_account_without_the_right_fails_with_permissiondenied(
    wiki: devwiki.RunningWiki, make_client: MakeClient, session_factory: Sessions
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    service = make_service(make_client(wiki.norights_login), session_factory)
    request = await ready(service, "Sandbox")  # reading the history needs no right

    outcome = await service.execute(await claimed(service, request))

    assert isinstance(outcome, Refused), outcome
    row = await stored(session_factory, request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "permissiondenied")
    assert row.error_message
    assert_nothing_rolled_back(wiki, "Sandbox", page.latest_revid)


async def test_rate_limited_fails_with_ratelimited(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    pages = [wiki.make_vandalised_page(f"Page {i}", "Good text.", vandal_edits=1) for i in (0, 1)]
    first = await ready(service, "Page 0")
    second = await ready(service, "Page 1")
    wiki.set_rollback_rate_limit(1)

    done = await service.execute(await claimed(service, first))
    limited = await service.execute(await claimed(service, second))

    assert isinstance(done, Succeeded), done
    assert_row_matches_wiki(wiki, await stored(session_factory, first.id), pages[0])
    assert isinstance(limited, Refused), limited
    row = await stored(session_factory, second.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "ratelimited")
    assert_nothing_rolled_back(wiki, "Page 1", pages[1].latest_revid)


# ---- reconcile after a crash ---------------------------------------------------------------------


async def test_reconcile_finds_a_rollback_the_wiki_made_before_the_bot_died(
    wiki: devwiki.RunningWiki, make_client: MakeClient, session_factory: Sessions
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=2)
    crashed = make_service(make_client(), session_factory)
    request = await ready(crashed, "Sandbox")
    await claimed(crashed, request)
    # The rollback reached the wiki, but the bot died before recording the answer.
    sent = await make_client().rollback("Sandbox", "Vandal", summary="sent, then the bot died")
    assert (await stored(session_factory, request.id)).status is RollbackStatus.RUNNING

    settled = await restarted(make_client(), session_factory).reconcile()

    assert [row.id for row in settled] == [request.id]
    row = await stored(session_factory, request.id)
    assert_row_matches_wiki(wiki, row, page)
    assert (row.revid, row.old_revid, row.last_revid) == (
        sent.revid,
        sent.old_revid,
        sent.last_revid,
    )
    assert row.page_id == sent.pageid


async def test_reconcile_finds_a_rollback_made_in_the_same_second_as_the_confirmation(
    wiki: devwiki.RunningWiki, make_client: MakeClient, session_factory: Sessions
) -> None:
    """MediaWiki stamps revisions to the whole second; `confirmed_at` has microseconds. A
    rollback saved within the confirmation's second is stamped *before* it, and must still be
    found (before ccd5804 it was missed: the row became `interrupted` next to a rolled-back
    page)."""
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    crashed = make_service(make_client(), session_factory)
    request = await ready(crashed, "Sandbox")
    sender = make_client()
    await sender.login()
    await asyncio.sleep(1.05 - datetime.now(UTC).microsecond / 1e6)  # just after a new second
    await claimed(crashed, request)
    sent = await sender.rollback("Sandbox", "Vandal", summary="sent, then the bot died")
    row = await stored(session_factory, request.id)
    assert row.confirmed_at is not None
    stamped = datetime.fromisoformat(wiki.revisions("Sandbox")[0].timestamp)
    assert stamped < row.confirmed_at  # the situation this test is about

    await restarted(make_client(), session_factory).reconcile()

    row = await stored(session_factory, request.id)
    assert_row_matches_wiki(wiki, row, page)
    assert row.revid == sent.revid


async def test_reconcile_fails_a_rollback_that_never_reached_the_wiki(
    wiki: devwiki.RunningWiki, make_client: MakeClient, session_factory: Sessions
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    crashed = make_service(make_client(), session_factory)
    request = await ready(crashed, "Sandbox")
    await claimed(crashed, request)  # ... and the bot died before sending anything

    settled = await restarted(make_client(), session_factory).reconcile()

    assert [row.id for row in settled] == [request.id]
    row = await stored(session_factory, request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "interrupted")
    assert row.revid is None
    assert_nothing_rolled_back(wiki, "Sandbox", page.latest_revid)


async def test_reconcile_does_not_claim_someone_elses_rollback(
    wiki: devwiki.RunningWiki, make_client: MakeClient, session_factory: Sessions
) -> None:
    """Admin rolled the vandal back while the bot was down: not the bot's rollback."""
    wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    crashed = make_service(make_client(), session_factory)
    request = await ready(crashed, "Sandbox")
    await claimed(crashed, request)
    admin = make_client(username=wiki.admin.name, password=SecretStr(wiki.admin.password))
    by_admin = await admin.rollback("Sandbox", "Vandal", summary="rv")

    await restarted(make_client(), session_factory).reconcile()

    row = await stored(session_factory, request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "interrupted")
    assert wiki.revisions("Sandbox")[0].revid == by_admin.revid
    assert bot_rollbacks(wiki, "Sandbox") == []


async def test_a_vandal_whose_name_is_hidden_is_still_rolled_back(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    """The admins revision-deleted the vandal's offensive name on their latest edit: the bot's
    account cannot see it, MediaWiki still compares the real author and rolls back."""
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=2)
    wiki.hide_user("Sandbox", page.latest_revid)

    outcome = await service.request(MOD, page="Sandbox", user="Vandal", summary=None, markbot=False)

    assert isinstance(outcome, Ready), outcome
    assert (outcome.preview.edits_to_revert, outcome.preview.hidden_edits) == (2, 1)
    assert outcome.preview.top is not None
    assert outcome.preview.top.user is None
    done = await service.execute(await claimed(service, outcome.request))
    assert isinstance(done, Succeeded), done
    assert_row_matches_wiki(wiki, await stored(session_factory, outcome.request.id), page)


async def test_a_hidden_name_that_is_not_the_vandals_is_refused_by_the_wiki(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good text.", vandal_edits=1)
    later = wiki.edit("Sandbox", "Editor's later text.", user="Editor")
    wiki.hide_user("Sandbox", later)

    outcome = await service.request(MOD, page="Sandbox", user="Vandal", summary=None, markbot=False)
    assert isinstance(outcome, Ready), outcome  # the preview cannot tell; the wiki can
    done = await service.execute(await claimed(service, outcome.request))

    assert isinstance(done, Refused)
    assert done.code == "alreadyrolled"
    assert wiki.revisions("Sandbox")[0].revid == later
    assert bot_rollbacks(wiki, "Sandbox") == []
    assert page.latest_revid < later
