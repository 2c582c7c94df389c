"""rollbot's real `WikiClient` against a real MediaWiki 1.39 (no respx).

Every test checks the wiki's own state afterwards (`prop=revisions`, `list=recentchanges`),
not only what the client returned. What MediaWiki 1.39 answered, case by case:

    someone edited after the vandal   alreadyrolled   (preview: notlasteditor)
    user never edited / not on top    alreadyrolled   (no baduser: any valid name is accepted)
    the user is the only author       onlyauthor      (message key `cantrollback`)
    missing page                      missingtitle    (Special:… pages too)
    invalid or interwiki title        invalidtitle
    fully protected page              protectedpage   (checked before the history; protecting
                                                       also saves a null revision by the admin)
    restored revision's text hidden   notvisiblerev   (the preview cannot see it coming)
    no `rollback` right or grant      permissiondenied
    no right *and* rate-limited       permissiondenied, ratelimited  (errors[] in that order)
    undefined tag                     badtags         (a defined tag passes but is not applied)
    corrupted rollback token          badtoken        (checked after assert=user)
    session gone (cookies, logout)    assertuserfailed
    over $wgRateLimits['rollback']    ratelimited     (no Retry-After header)

A custom summary longer than 500 characters is accepted, echoed back in full by the API, and
silently truncated in storage; markbot without `markbotedits`/`bot` is silently ignored.
"""

from __future__ import annotations

import html
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import devwiki
import httpx
import pytest
from pydantic import SecretStr

import bot.wiki.client as client_module
from bot.services.summary import SUMMARY_LIMIT, attribution, build_summary
from bot.wiki.client import ROLLBACK_TAG, WikiClient
from bot.wiki.errors import (
    AlreadyRolledError,
    BadTagsError,
    InvalidTitleError,
    MissingTitleError,
    NotVisibleRevError,
    OnlyAuthorError,
    PermissionDeniedError,
    ProtectedPageError,
    RateLimitedError,
    WikiTransportError,
)
from bot.wiki.results import PreviewProblem, RollbackResult
from bot.wiki.retry import RetryPolicy

pytestmark = pytest.mark.integration

REQUESTER = "Mod$1 Mia"  # a `$` in the Discord name must survive too
GOOD_TEXT = "The good text. Ünïcödé € 🦊 costs $5."


class FakeSleep:
    """RetryPolicy.sleep that records delays and never waits; `then` runs on each sleep
    (e.g. to let the wiki's rate-limit window pass, or to bring a stopped wiki back)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.then: Callable[[], None] | None = None

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.then is not None:
            self.then()


MakeClient = Callable[..., WikiClient]


@pytest.fixture
def sleeps() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def make_client(wiki: devwiki.RunningWiki, sleeps: FakeSleep) -> AsyncIterator[MakeClient]:
    """WikiClients for this test's wiki (Rollbot@rollbot unless told), closed afterwards."""
    clients: list[WikiClient] = []

    def make(
        login: devwiki.BotLogin | None = None, *, max_attempts: int = 4, **overrides: Any
    ) -> WikiClient:
        login = login or wiki.rollbot_login
        options: dict[str, Any] = {
            "api_url": wiki.api_url,
            "username": login.username,
            "password": SecretStr(login.password),
            "user_agent": wiki.user_agent,
            "retry": RetryPolicy(max_attempts=max_attempts, sleep=sleeps, random=lambda: 0.5),
            "timeout": 30.0,
        }
        options.update(overrides)
        client = WikiClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def client(make_client: MakeClient) -> WikiClient:
    return make_client()


def rollbacks_by(wiki: devwiki.RunningWiki, title: str, user: str = "Rollbot") -> list[int]:
    """Revids of the rollback edits `user` made on `title`, newest first."""
    return [r.revid for r in wiki.revisions(title) if r.user == user and ROLLBACK_TAG in r.tags]


def parsed_comment(wiki: devwiki.RunningWiki, revid: int) -> str:
    """The revision's comment as MediaWiki renders it (HTML), entities decoded as a browser
    would show them."""
    data = devwiki.api_get(
        wiki.client(),
        wiki.api_url,
        {"action": "query", "prop": "revisions", "revids": str(revid), "rvprop": "parsedcomment"},
    )
    return html.unescape(str(data["query"]["pages"][0]["revisions"][0]["parsedcomment"]))


def assert_untouched(wiki: devwiki.RunningWiki, page: devwiki.VandalisedPage) -> None:
    """The vandal's last edit is still on top; nothing was rolled back."""
    newest = wiki.revisions(page.title)[0]
    assert newest.revid == page.latest_revid
    assert newest.user == "Vandal"
    assert rollbacks_by(wiki, page.title) == []


def assert_rolled_back_once(
    wiki: devwiki.RunningWiki, page: devwiki.VandalisedPage, result: RollbackResult
) -> devwiki.Revision:
    """Exactly one rollback by Rollbot, matching `result`, restoring the good text."""
    history = wiki.revisions(page.title)
    newest = history[0]
    assert rollbacks_by(wiki, page.title) == [result.revid]
    assert newest.revid == result.revid
    assert newest.parentid == result.old_revid == page.latest_revid
    assert result.last_revid == page.good_revid
    assert newest.user == "Rollbot"
    assert newest.content == page.good_text
    return newest


# ---- success and summaries ---------------------------------------------------------------------


async def test_rollback_restores_text_and_keeps_a_literal_dollar(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    page = wiki.make_vandalised_page("Sandbox", GOOD_TEXT, vandal_edits=3)
    summary = build_summary(
        "cost $1 per spam link, see $2",
        requester_name=REQUESTER,
        default_message=await client.default_rollback_summary(),
        restored_user="Editor",
        target_user="Vandal",
    )

    result = await client.rollback("Sandbox", "vandal", summary=summary)

    newest = assert_rolled_back_once(wiki, page, result)
    assert result.title == "Sandbox"
    assert result.pageid == (await client.preview("Sandbox", "Vandal")).pageid
    assert ROLLBACK_TAG in newest.tags
    # Stored exactly as sent: the entity kept MediaWiki's strtr() from seeing `$1`/`$2`.
    assert (
        newest.comment
        == summary
        == ("cost &#36;1 per spam link, see &#36;2 (requested by Mod&#36;1 Mia via Discord)")
    )
    assert result.summary == newest.comment
    assert "Editor" not in newest.comment
    assert "Vandal" not in newest.comment
    # Readers see a plain dollar sign, and the attribution, not the substituted names.
    assert parsed_comment(wiki, result.revid) == (
        "cost $1 per spam link, see $2 " + "(requested by Mod$1 Mia via Discord)"
    )


async def test_unescaped_dollar_would_be_substituted(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    """Why build_summary escapes: MediaWiki fills $1..$6 into *custom* summaries too."""
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=2)

    result = await client.rollback("Sandbox", "Vandal", summary="raw $1 / $2 / $3 / $5")

    newest = wiki.revisions("Sandbox")[0]
    assert newest.comment == result.summary
    assert newest.comment == f"raw Editor / Vandal / {page.good_revid} / {page.latest_revid}"


async def test_empty_summary_gets_the_wiki_default_plus_attribution(
    wiki: devwiki.RunningWiki, client: WikiClient, make_client: MakeClient
) -> None:
    wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    wiki.make_vandalised_page("Reference", "Good.", vandal_edits=1)
    default = await client.default_rollback_summary()
    assert "$1" in default
    assert "$2" in default
    summary = build_summary(
        "  ",
        requester_name=REQUESTER,
        default_message=default,
        restored_user="Editor",
        target_user="Vandal",
    )
    assert summary == f"{default} {attribution(REQUESTER)}"

    result = await client.rollback("Sandbox", "Vandal", summary=summary)
    # No summary at all: what the wiki itself writes.
    reference = await make_client().rollback("Reference", "Vandal", summary=None)

    wiki_default = wiki.revisions("Reference")[0].comment
    assert wiki_default == reference.summary
    assert wiki_default == default.replace("$1", "Editor").replace("$2", "Vandal")
    assert "$" not in wiki_default
    stored = wiki.revisions("Sandbox")[0].comment
    assert stored == result.summary == f"{wiki_default} (requested by Mod&#36;1 Mia via Discord)"
    assert parsed_comment(wiki, result.revid).endswith("(requested by Mod$1 Mia via Discord)")


async def test_600_character_summary_is_cut_to_fit_with_attribution(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    moderator_text = ("Spam $$ €🦊 " * 60)[:600]
    summary = build_summary(
        moderator_text,
        requester_name=REQUESTER,
        default_message=await client.default_rollback_summary(),
        restored_user="Editor",
        target_user="Vandal",
    )
    assert len(summary) <= SUMMARY_LIMIT

    result = await client.rollback("Sandbox", "Vandal", summary=summary)

    newest = assert_rolled_back_once(wiki, page, result)
    assert newest.comment == summary  # MediaWiki did not have to cut anything
    assert len(newest.comment) <= SUMMARY_LIMIT
    assert newest.comment.endswith("… (requested by Mod&#36;1 Mia via Discord)")
    assert "&#3 " not in newest.comment
    assert "Editor" not in newest.comment
    assert parsed_comment(wiki, result.revid).endswith("… (requested by Mod$1 Mia via Discord)")


async def test_wiki_truncates_an_overlong_raw_summary_silently(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    """A fact build_summary guards against: past 500 characters MediaWiki cuts the stored
    comment (losing the attribution at the end) while the API echoes the full text."""
    wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    raw = "x" * 590 + " (end)"

    result = await client.rollback("Sandbox", "Vandal", summary=raw)

    stored = wiki.revisions("Sandbox")[0].comment
    assert result.summary == raw
    assert len(stored) == SUMMARY_LIMIT
    assert not stored.endswith("(end)")


# ---- refusals: the wiki's exact code, and the page left alone ------------------------------------


async def test_someone_edited_after_the_vandal(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=2)
    fixed = wiki.edit("Sandbox", "Fixed by hand.", user="Editor")

    preview = await client.preview("Sandbox", "Vandal")
    assert preview.problem is PreviewProblem.NOT_LAST_EDITOR
    assert preview.top is not None
    assert preview.top.revid == fixed
    assert preview.edits_to_revert == 0
    with pytest.raises(AlreadyRolledError) as caught:
        await client.rollback("Sandbox", "Vandal", summary="rv")

    assert caught.value.code == "alreadyrolled"
    assert wiki.revisions("Sandbox")[0].revid == fixed
    assert rollbacks_by(wiki, "Sandbox") == []


async def test_second_rollback_is_alreadyrolled(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=2)
    first = await client.rollback("Sandbox", "Vandal", summary="rv")

    with pytest.raises(AlreadyRolledError):
        await client.rollback("Sandbox", "Vandal", summary="rv")

    assert_rolled_back_once(wiki, page, first)


async def test_user_not_the_top_editor(wiki: devwiki.RunningWiki, client: WikiClient) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)

    preview = await client.preview("Sandbox", "Editor")  # edited the page, but not on top
    assert preview.problem is PreviewProblem.NOT_LAST_EDITOR
    with pytest.raises(AlreadyRolledError):
        await client.rollback("Sandbox", "Editor", summary=None)

    assert_untouched(wiki, page)


@pytest.mark.parametrize("user", ["Never Edited", "192.0.2.1"])
async def test_unknown_user_is_alreadyrolled(
    wiki: devwiki.RunningWiki, client: WikiClient, user: str
) -> None:
    """MediaWiki accepts any valid name (account or not) and compares it with the top
    editor: a name that never edited gets `alreadyrolled`, not `baduser`."""
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)

    preview = await client.preview("Sandbox", user)
    assert preview.problem is PreviewProblem.NOT_LAST_EDITOR
    with pytest.raises(AlreadyRolledError) as caught:
        await client.rollback("Sandbox", user, summary=None)

    assert type(caught.value) is AlreadyRolledError
    assert caught.value.code == "alreadyrolled"
    assert_untouched(wiki, page)


async def test_only_author(wiki: devwiki.RunningWiki, client: WikiClient) -> None:
    first = wiki.edit("Sandbox", "Spam page.", user="Vandal")
    second = wiki.edit("Sandbox", "More spam.", user="Vandal")

    preview = await client.preview("Sandbox", "Vandal")
    assert preview.problem is PreviewProblem.ONLY_AUTHOR
    assert preview.edits_to_revert == 2
    assert preview.restored is None
    with pytest.raises(OnlyAuthorError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)

    assert caught.value.code == "onlyauthor"
    assert [r.revid for r in wiki.revisions("Sandbox")] == [second, first]


async def test_missing_page(wiki: devwiki.RunningWiki, client: WikiClient) -> None:
    preview = await client.preview("No such page", "Vandal")
    assert preview.problem is PreviewProblem.MISSING_PAGE
    assert preview.pageid is None
    assert preview.top is None
    with pytest.raises(MissingTitleError) as caught:
        await client.rollback("No such page", "Vandal", summary=None)

    assert caught.value.code == "missingtitle"
    assert wiki.revisions("No such page") == []


@pytest.mark.parametrize("title", ["Foo[bar]", "A|B", "wikipedia:Foo"])
async def test_invalid_title(wiki: devwiki.RunningWiki, client: WikiClient, title: str) -> None:
    """Interwiki prefixes are unknown on the dev wiki, so "wikipedia:Foo" is bad too."""
    with pytest.raises(InvalidTitleError):
        await client.preview(title, "Vandal")
    with pytest.raises(InvalidTitleError) as caught:
        await client.rollback(title, "Vandal", summary=None)
    assert caught.value.code == "invalidtitle"


async def test_special_page(wiki: devwiki.RunningWiki, client: WikiClient) -> None:
    """Preview refuses it as a title; the wiki's rollback says `missingtitle`."""
    with pytest.raises(InvalidTitleError):
        await client.preview("Special:RecentChanges", "Vandal")
    with pytest.raises(MissingTitleError):
        await client.rollback("Special:RecentChanges", "Vandal", summary=None)


async def test_protected_page(wiki: devwiki.RunningWiki, client: WikiClient) -> None:
    wiki.edit("Locked", "Good.", user="Editor")
    wiki.protect("Locked")
    # Protecting saves a null revision by Admin; the vandal edits after it (edit.php ignores
    # protection), so the history alone says a rollback is possible.
    assert wiki.revisions("Locked")[0].user == "Admin"
    wiki.maintenance("edit", "--user=Vandal", "--summary=spam", "Locked", stdin="SPAM")
    top = wiki.revisions("Locked")[0]
    assert top.user == "Vandal"

    preview = await client.preview("Locked", "Vandal")
    assert preview.problem is None
    assert preview.restored is not None
    assert preview.restored.user == "Admin"
    with pytest.raises(ProtectedPageError) as caught:
        await client.rollback("Locked", "Vandal", summary=None)

    assert caught.value.code == "protectedpage"
    assert wiki.revisions("Locked")[0] == top
    assert rollbacks_by(wiki, "Locked") == []


async def test_protection_null_revision_ends_the_vandals_run(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    """A surprise: protection's null revision (by the protecting admin) ends the vandal's run,
    so the preview refuses (notlasteditor); the wiki still answers `protectedpage` first,
    because it checks permissions before the history."""
    wiki.make_vandalised_page("Locked", "Good.", vandal_edits=1)
    wiki.protect("Locked")

    preview = await client.preview("Locked", "Vandal")
    assert preview.problem is PreviewProblem.NOT_LAST_EDITOR
    assert preview.top is not None
    assert preview.top.user == "Admin"
    with pytest.raises(ProtectedPageError):
        await client.rollback("Locked", "Vandal", summary=None)
    assert rollbacks_by(wiki, "Locked") == []


@pytest.mark.parametrize("who", ["norights_login", "norollback_login"])
async def test_without_the_right_or_grant(
    wiki: devwiki.RunningWiki, make_client: MakeClient, sleeps: FakeSleep, who: str
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    client = make_client(getattr(wiki, who))

    with pytest.raises(PermissionDeniedError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)

    assert caught.value.code == "permissiondenied"
    assert sleeps.delays == []  # permanent: not retried
    assert_untouched(wiki, page)


async def test_permissiondenied_wins_over_ratelimited(
    wiki: devwiki.RunningWiki, make_client: MakeClient, sleeps: FakeSleep
) -> None:
    """Failed attempts count towards the limit, so an account without the right soon gets
    both errors at once (`MediaWiki-API-Error: permissiondenied, ratelimited`). That must be a
    prompt PermissionDeniedError, not a back-off loop."""
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    wiki.set_rollback_rate_limit(1)
    client = make_client(wiki.norights_login)
    with pytest.raises(PermissionDeniedError):
        await client.rollback("Sandbox", "Vandal", summary=None)

    with pytest.raises(PermissionDeniedError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)

    assert caught.value.code == "permissiondenied"
    assert sleeps.delays == []
    assert_untouched(wiki, page)


async def test_undefined_tag_is_badtags(wiki: devwiki.RunningWiki, client: WikiClient) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)

    with pytest.raises(BadTagsError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None, tags=["no-such-tag"])

    assert caught.value.code == "badtags"
    assert_untouched(wiki, page)


async def test_defined_tag_is_accepted_but_not_applied_by_mediawiki_1_39(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    """MediaWiki 1.39 validates `tags` for rollback but never stores them (fixed later)."""
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    wiki.maintenance("addChangeTag", "--tag=rollbot", "--reason=test")

    result = await client.rollback("Sandbox", "Vandal", summary=None, tags=["rollbot"])

    newest = assert_rolled_back_once(wiki, page, result)
    assert ROLLBACK_TAG in newest.tags
    assert "rollbot" not in newest.tags


async def test_anonymous_ip_vandal(wiki: devwiki.RunningWiki, client: WikiClient) -> None:
    """IP edits are rolled back by the IP as user name (MediaWiki's canonical form)."""
    good = wiki.edit("Sandbox", "Good.", user="Editor")
    anonymous = wiki.client()  # logged out: edits are attributed to 127.0.0.1
    devwiki.api_post(
        anonymous,
        wiki.api_url,
        {"action": "edit", "title": "Sandbox", "text": "IP SPAM", "token": "+\\"},
    )
    top = wiki.revisions("Sandbox")[0]
    assert top.user == "127.0.0.1"

    preview = await client.preview("Sandbox", "127.000.000.001")
    result = await client.rollback("Sandbox", "127.0.0.001", summary=None)

    assert (preview.problem, preview.edits_to_revert, preview.target_user) == (None, 1, "127.0.0.1")
    newest = wiki.revisions("Sandbox")[0]
    assert (newest.revid, newest.parentid, newest.content) == (result.revid, top.revid, "Good.")
    assert result.last_revid == good


async def test_restored_revision_hidden_is_notvisiblerev(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    """The text of the revision rollback would restore is revision-deleted: the preview (which
    cannot see text) offers it, the wiki refuses with `notvisiblerev`."""
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    # Admin (sysop) lacks `deleterevision` on the dev wiki; the `suppress` group has it.
    wiki.maintenance("createAndPromote", "--force", "--custom-groups=suppress", wiki.admin.name)
    admin = httpx.Client(headers={"User-Agent": wiki.user_agent}, timeout=30)
    with admin:
        devwiki.api_login(admin, wiki.api_url, wiki.admin.name, wiki.admin.password)
        devwiki.api_post(
            admin,
            wiki.api_url,
            {
                "action": "revisiondelete",
                "type": "revision",
                "ids": str(page.good_revid),
                "hide": "content",
                "token": devwiki.api_token(admin, wiki.api_url, "csrf"),
            },
        )

    assert (await client.preview("Sandbox", "Vandal")).problem is None
    with pytest.raises(NotVisibleRevError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)

    assert caught.value.code == "notvisiblerev"
    assert_untouched(wiki, page)


# ---- markbot -----------------------------------------------------------------------------------


async def test_markbot_with_the_right_flags_edits_as_bot(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    page = wiki.make_vandalised_page("Flagged", "Good.", vandal_edits=2)

    result = await client.rollback("Flagged", "Vandal", summary=None, markbot=True)

    assert_rolled_back_once(wiki, page, result)
    flags = {rc.revid: (rc.user, rc.bot) for rc in wiki.recent_changes("Flagged")}
    assert flags[result.revid] == ("Rollbot", True)
    assert all(flags[revid] == ("Vandal", True) for revid in page.vandal_revids)
    assert flags[page.good_revid] == ("Editor", False)


async def test_without_markbot_nothing_is_flagged(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    page = wiki.make_vandalised_page("Plain", "Good.", vandal_edits=2)

    result = await client.rollback("Plain", "Vandal", summary=None)

    assert_rolled_back_once(wiki, page, result)
    assert not any(rc.bot for rc in wiki.recent_changes("Plain"))


async def test_markbot_without_the_right_is_silently_ignored(
    wiki: devwiki.RunningWiki, make_client: MakeClient
) -> None:
    page = wiki.make_vandalised_page("Unflagged", "Good.", vandal_edits=2)

    result = await make_client(wiki.nobot_login).rollback(
        "Unflagged", "Vandal", summary=None, markbot=True
    )

    assert_rolled_back_once(wiki, page, result)
    assert not any(rc.bot for rc in wiki.recent_changes("Unflagged"))


# ---- tokens, sessions, restarts ------------------------------------------------------------------


async def test_stale_token_is_refreshed_once(
    wiki: devwiki.RunningWiki, client: WikiClient, sleeps: FakeSleep
) -> None:
    first = wiki.make_vandalised_page("First", "Good.", vandal_edits=1)
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    await client.rollback("First", "Vandal", summary=None)  # caches a good token
    # The wiki would answer `badtoken` to this one (checked below with a raw request).
    stale = "0123456789abcdef0123456789abcdef01234567+\\"
    client._rollback_token = stale

    result = await client.rollback("Sandbox", "Vandal", summary=None)

    assert_rolled_back_once(wiki, page, result)
    assert len(rollbacks_by(wiki, first.title)) == 1
    assert client._rollback_token not in (None, stale)
    assert sleeps.delays == []
    raw = wiki.client(wiki.rollbot_login).post(
        wiki.api_url,
        data={
            "action": "rollback",
            "title": "First",
            "user": "X",
            "token": stale,
            "format": "json",
            "formatversion": "2",
        },
    )
    assert raw.headers["MediaWiki-API-Error"] == "badtoken"


async def test_cookies_dropped_then_logs_in_again(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    await client.login()
    await client.preview("Sandbox", "Vandal")
    client._http.cookies.clear()

    result = await client.rollback("Sandbox", "Vandal", summary=None)

    assert_rolled_back_once(wiki, page, result)


async def test_session_ended_by_the_wiki_then_logs_in_again(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    """The wiki forgets the session (all of Rollbot's sessions invalidated, as after a password
    reset or a session-store flush) while the client still has a token and cookies."""
    first = wiki.make_vandalised_page("First", "Good.", vandal_edits=1)
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    await client.rollback("First", "Vandal", summary=None)
    wiki.maintenance("invalidateUserSessions", "--user=Rollbot")

    result = await client.rollback("Sandbox", "Vandal", summary=None)

    assert_rolled_back_once(wiki, page, result)
    assert len(rollbacks_by(wiki, first.title)) == 1


async def test_wiki_restart_keeps_the_session(
    wiki: devwiki.RunningWiki, client: WikiClient, sleeps: FakeSleep
) -> None:
    wiki.make_vandalised_page("First", "Good.", vandal_edits=1)
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    await client.rollback("First", "Vandal", summary=None)

    wiki.restart()
    result = await client.rollback("Sandbox", "Vandal", summary=None)

    assert_rolled_back_once(wiki, page, result)
    assert sleeps.delays == []


async def test_wiki_down_then_back_during_backoff(
    wiki: devwiki.RunningWiki, client: WikiClient, sleeps: FakeSleep
) -> None:
    """Connection refused means nothing was sent: the client backs off, the wiki comes back
    (during the fake sleep), and the rollback is made exactly once."""
    wiki.make_vandalised_page("First", "Good.", vandal_edits=1)
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    await client.rollback("First", "Vandal", summary=None)
    wiki.stop()
    sleeps.then = wiki.start

    result = await client.rollback("Sandbox", "Vandal", summary=None)

    assert len(sleeps.delays) == 1
    assert_rolled_back_once(wiki, page, result)


async def test_wiki_down_gives_a_clear_unambiguous_error(
    wiki: devwiki.RunningWiki, make_client: MakeClient, sleeps: FakeSleep
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    client = make_client(max_attempts=3)
    await client.login()
    wiki.stop()

    with pytest.raises(WikiTransportError) as caught:
        await client.rollback("Sandbox", "Vandal", summary=None)

    assert caught.value.ambiguous is False
    assert len(sleeps.delays) == 2
    wiki.start()
    assert_untouched(wiki, page)
    result = await client.rollback("Sandbox", "Vandal", summary=None)
    assert_rolled_back_once(wiki, page, result)


# ---- rate limit ----------------------------------------------------------------------------------


async def test_rate_limited_backs_off_then_gives_a_clear_error(
    wiki: devwiki.RunningWiki, make_client: MakeClient, sleeps: FakeSleep
) -> None:
    pages = [wiki.make_vandalised_page(f"Page {i}", "Good.", vandal_edits=1) for i in range(4)]
    client = make_client(max_attempts=3)
    wiki.set_rollback_rate_limit(2)
    started = time.monotonic()

    done = [await client.rollback(p.title, "Vandal", summary=None) for p in pages[:2]]
    with pytest.raises(RateLimitedError) as caught:
        await client.rollback("Page 2", "Vandal", summary=None)

    assert time.monotonic() - started < 20
    assert caught.value.code == "ratelimited"
    assert caught.value.retry_after is None  # MediaWiki sends no Retry-After for this
    assert sleeps.delays == [15.0, 30.0]  # RetryPolicy's own back-off, bounded by max_attempts
    for page, result in zip(pages[:2], done, strict=True):
        assert_rolled_back_once(wiki, page, result)
    assert_untouched(wiki, pages[2])
    assert_untouched(wiki, pages[3])


async def test_rate_limited_backs_off_then_succeeds(
    wiki: devwiki.RunningWiki, client: WikiClient, sleeps: FakeSleep
) -> None:
    pages = [wiki.make_vandalised_page(f"Page {i}", "Good.", vandal_edits=1) for i in range(3)]
    wiki.set_rollback_rate_limit(2)
    # Back-off "waits out" the window: the limit is lifted while the client sleeps.
    sleeps.then = lambda: wiki.set_rollback_rate_limit(None)

    results = [await client.rollback(p.title, "Vandal", summary=None) for p in pages]

    assert sleeps.delays == [15.0]
    for page, result in zip(pages, results, strict=True):
        assert_rolled_back_once(wiki, page, result)


# ---- preview and find_rollback on real histories ----------------------------------------------


async def test_preview_numbers_match_the_history(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    texts = ("spam", "more spam €€€", "🦊" * 40)
    page = wiki.make_vandalised_page("Sandbox", GOOD_TEXT, vandal_texts=texts)
    history = wiki.revisions("Sandbox")

    preview = await client.preview("sandbox", "vandal")

    assert preview.problem is None
    assert preview.title == "Sandbox"
    assert preview.target_user == "Vandal"
    assert preview.edits_to_revert == 3
    assert not preview.edits_capped
    assert preview.top is not None
    assert preview.restored is not None
    assert preview.top.revid == page.latest_revid == history[0].revid
    assert preview.restored.revid == page.good_revid
    assert preview.restored.user == "Editor"
    # MediaWiki sizes are UTF-8 bytes.
    assert preview.size_change == len(GOOD_TEXT.encode()) - len(texts[-1].encode())
    result = await client.rollback("Sandbox", "Vandal", summary=None)
    assert (result.old_revid, result.last_revid) == (preview.top.revid, preview.restored.revid)


async def test_history_is_followed_past_one_request(
    wiki: devwiki.RunningWiki, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs longer than one history request are followed via the wiki's real `rvcontinue`
    (the page size is shrunk to 3 so a short history spans several requests)."""
    monkeypatch.setattr(client_module, "_HISTORY_PAGE_SIZE", 3)
    texts = tuple(f"spam {i}" for i in range(7))
    page = wiki.make_vandalised_page("Long", "Good.", vandal_texts=texts)
    client = make_client()

    preview = await client.preview("Long", "Vandal")
    capped = await make_client(max_preview_edits=4).preview("Long", "Vandal")
    assert (preview.edits_to_revert, preview.problem) == (7, None)
    assert preview.restored is not None
    assert preview.restored.revid == page.good_revid
    assert (capped.edits_to_revert, capped.edits_capped, capped.problem) == (4, True, None)

    result = await client.rollback("Long", "Vandal", summary=None)
    for i in range(4):  # later edits do not hide the rollback from the settlement read
        wiki.edit("Long", f"later edit {i}", user="Editor")
    after = await client.revision_after("Long", page.latest_revid)
    assert after.revision is not None
    assert after.revision.revid == result.revid


async def test_revision_after_the_vandal_is_the_bots_rollback(
    wiki: devwiki.RunningWiki, client: WikiClient
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=2)
    assert (await client.revision_after("Sandbox", page.latest_revid)).revision is None
    result = await client.rollback("Sandbox", "Vandal", summary="rv spam")
    wiki.edit("Sandbox", "Later, unrelated edit.", user="Editor")

    by_title = await client.revision_after("Sandbox", page.latest_revid)
    by_id = await client.revision_after("Whatever", page.latest_revid, pageid=result.pageid)

    for after in (by_title, by_id):
        assert (after.title, after.pageid) == ("Sandbox", result.pageid)
        assert after.revision is not None
        assert (after.revision.revid, after.revision.parentid) == (result.revid, page.latest_revid)
        assert after.revision.user == "Rollbot"
        assert ROLLBACK_TAG in after.revision.tags
        assert after.revision.comment == "rv spam"


async def test_revision_after_shows_a_rollback_by_someone_else_as_theirs(
    wiki: devwiki.RunningWiki, make_client: MakeClient
) -> None:
    page = wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=2)
    admin = make_client(username=wiki.admin.name, password=SecretStr(wiki.admin.password))
    by_admin = await admin.rollback("Sandbox", "Vandal", summary="rv by admin")

    after = await make_client().revision_after("Sandbox", page.latest_revid)

    assert after.revision is not None
    assert (after.revision.revid, after.revision.user) == (by_admin.revid, "Admin")


async def test_revision_after_on_a_missing_page(client: WikiClient) -> None:
    after = await client.revision_after("No such page", 1)
    assert (after.revision, after.pageid) == (None, None)
