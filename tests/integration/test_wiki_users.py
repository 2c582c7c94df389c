"""Users as the wiki knows them, on a real MediaWiki 1.39: temporary accounts (1.39's
`$wgAutoCreateTempUser`, switched on in the dev wiki) and users given by id ("#12345"), through
the real service, client and database, checked against the wiki's own history and the embeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import devwiki
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.authz import StaticRolePolicy
from bot.services.rollback import Actor, Claimed, Ready, Refused, RollbackService, Succeeded
from bot.ui.embeds import log_embed, preview_embed, success_embed
from bot.wiki.client import ROLLBACK_TAG, WikiClient
from bot.wiki.retry import RetryPolicy

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
MOD_ROLE = 4242
MOD = Actor(
    user_id=1001, display_name="Mod", role_ids=frozenset({MOD_ROLE}), guild_id=77, channel_id=5
)


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def client(wiki: devwiki.RunningWiki) -> AsyncIterator[WikiClient]:
    login = wiki.rollbot_login
    async with WikiClient(
        api_url=wiki.api_url,
        username=login.username,
        password=SecretStr(login.password),
        user_agent=wiki.user_agent,
        retry=RetryPolicy(max_attempts=2, sleep=no_sleep, random=lambda: 0.0),
    ) as wiki_client:
        yield wiki_client


@pytest.fixture
def service(client: WikiClient, session_factory: Sessions) -> RollbackService:
    return RollbackService(
        wiki=client,
        sessions=session_factory,
        roles=StaticRolePolicy(rollback_roles=frozenset({MOD_ROLE})),
        confirm_timeout=timedelta(minutes=5),
    )


async def stored(sessions: Sessions, request_id: int | None) -> RollbackRequest:
    assert request_id is not None
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


def user_id(wiki: devwiki.RunningWiki, name: str) -> int:
    data = devwiki.api_get(
        wiki.client(), wiki.api_url, {"action": "query", "list": "users", "ususers": name}
    )
    return int(data["query"]["users"][0]["userid"])


async def roll_back(service: RollbackService, page: str, user: str) -> tuple[Ready, Succeeded]:
    offered = await service.request(MOD, page=page, user=user, summary=None, markbot=False)
    assert isinstance(offered, Ready), offered
    assert offered.request.id is not None
    claim = await service.claim(offered.request.id, MOD)
    assert isinstance(claim, Claimed), claim
    done = await service.execute(claim)
    assert isinstance(done, Succeeded), done
    return offered, done


async def test_a_temporary_accounts_edits_are_previewed_labelled_and_rolled_back(
    wiki: devwiki.RunningWiki,
    client: WikiClient,
    service: RollbackService,
    session_factory: Sessions,
) -> None:
    wiki.set_temp_accounts(True)
    good_revid = wiki.edit("Temp page", "Good text.")
    with httpx.Client(headers={"User-Agent": devwiki.USER_AGENT}, timeout=30) as browser:
        first = wiki.anonymous_edit("Temp page", "VANDAL 1", browser=browser)
        second = wiki.anonymous_edit("Temp page", "VANDAL 2", browser=browser)
    # The wiki made a temporary account for the logged-out editor, the same for both edits.
    assert first.user == second.user
    assert first.user.startswith("*Unregistered ")
    temp_name = first.user
    await client.siteinfo()  # as the app does at start: 1.39 names no patterns, its default applies
    assert client.is_temp_account(temp_name)
    assert not client.is_temp_account("Editor")

    offered, done = await roll_back(service, "Temp page", temp_name.replace(" ", "_"))

    assert offered.preview.target_user == temp_name  # not mangled, not refused for '*'
    assert offered.preview.temp_account
    assert offered.preview.edits_to_revert == 2
    description = preview_embed(offered.request, offered.preview, client).description or ""
    assert f"{temp_name}]" in description.replace("\\", "")
    assert "(temporary account)" in description
    row = await stored(session_factory, offered.request.id)
    assert row.status is RollbackStatus.SUCCEEDED
    assert (row.target_user, row.edits_to_revert) == (temp_name, 2)
    assert (row.old_revid, row.last_revid) == (second.revid, good_revid)
    newest = wiki.revisions("Temp page")[0]
    assert (newest.user, newest.content, newest.revid) == ("Rollbot", "Good text.", row.revid)
    assert ROLLBACK_TAG in newest.tags
    user_field = next(f for f in log_embed(row, client).fields if f.name == "User")
    assert "(temporary account)" in (user_field.value or "")
    assert "(temporary account)" in (success_embed(row, done.result, client).description or "")


async def test_with_temporary_accounts_off_a_logged_out_edit_is_an_ip_and_no_temp_label(
    wiki: devwiki.RunningWiki, client: WikiClient, service: RollbackService
) -> None:
    wiki.edit("Ip page", "Good text.")
    edit = wiki.anonymous_edit("Ip page", "VANDAL")
    assert edit.user == "127.0.0.1"
    await client.siteinfo()

    offered, _ = await roll_back(service, "Ip page", "127.0.0.1")

    assert not offered.preview.temp_account
    assert "temporary account" not in (
        preview_embed(offered.request, offered.preview, client).description or ""
    )
    assert wiki.revisions("Ip page")[0].content == "Good text."


@pytest.mark.parametrize("temp", [False, True])
async def test_a_user_given_by_id_is_resolved_to_the_name_for_the_row_and_the_rollback(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions, temp: bool
) -> None:
    wiki.set_temp_accounts(temp)
    good_revid = wiki.edit("By id", "Good text.")
    if temp:
        name = wiki.anonymous_edit("By id", "VANDAL").user
    else:
        wiki.edit("By id", "VANDAL", user="Vandal")
        name = "Vandal"

    offered, done = await roll_back(service, "By id", f"#{user_id(wiki, name)}")

    row = await stored(session_factory, offered.request.id)
    assert row.target_user == name  # the name replaces "#id" in the row (and the log)
    assert offered.preview.target_user == name
    assert row.last_revid == good_revid
    assert done.result.revid == wiki.revisions("By id")[0].revid
    assert wiki.revisions("By id")[0].content == "Good text."


async def test_an_unknown_user_id_is_refused_politely_and_the_wiki_is_untouched(
    wiki: devwiki.RunningWiki, service: RollbackService, session_factory: Sessions
) -> None:
    page = wiki.make_vandalised_page("Unknown id", "Good text.", vandal_edits=1)

    outcome = await service.request(
        MOD, page="Unknown id", user="#987654", summary=None, markbot=False
    )

    assert isinstance(outcome, Refused), outcome
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "nosuchuserid")
    assert row.target_user == "#987654"  # what was asked, as nothing else is known
    assert row.error_message == "The wiki has no account with the user id 987654."
    assert wiki.revisions("Unknown id")[0].revid == page.latest_revid
