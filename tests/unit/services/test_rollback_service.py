"""The workflow on a real (migrated) database with a scripted wiki: every state transition."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.lifecycle import IllegalTransitionError
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.authz import StaticRolePolicy
from bot.services.rollback import (
    Actor,
    Cancelled,
    Claimed,
    Denied,
    Expired,
    Missing,
    NotPending,
    NotYours,
    Ready,
    Refused,
    RollbackService,
    Stale,
    Succeeded,
    WrongGuild,
)
from bot.services.settlement import SPREAD_DELAYS, Settlement
from bot.wiki.errors import (
    AlreadyRolledError,
    InvalidTitleError,
    ProtectedPageError,
    RateLimitedError,
    WikiTransportError,
)
from bot.wiki.results import PreviewProblem, RollbackPreview, RollbackResult
from tests.unit.services.fakes import (
    Clock,
    FakeWiki,
    problem_preview,
    ready_preview,
    revision,
)

MOD_ROLE = 111
GUILD = 999
MOD = Actor(user_id=1, display_name="Mod", role_ids=frozenset({MOD_ROLE}), guild_id=GUILD)
OTHER_MOD = Actor(user_id=2, display_name="Other", role_ids=frozenset({MOD_ROLE}), guild_id=GUILD)
NOBODY = Actor(user_id=3, display_name="Nobody", role_ids=frozenset({5}), guild_id=GUILD)

Sessions = async_sessionmaker[AsyncSession]


async def no_sleep(seconds: float) -> None:
    """The settlement window's pauses, skipped: the fake wiki's answers are scripted."""


def make_service(
    sessions: Sessions, wiki: FakeWiki, clock: Clock | None = None, owner: str = "p1"
) -> RollbackService:
    return RollbackService(
        wiki=wiki,
        sessions=sessions,
        roles=StaticRolePolicy(rollback_roles=frozenset({MOD_ROLE})),
        confirm_timeout=timedelta(seconds=120),
        clock=clock or Clock(),
        settlement=Settlement(wiki=wiki, sessions=sessions, sleep=no_sleep),
        owner=owner,
    )


async def stored(sessions: Sessions, request_id: int | None) -> RollbackRequest:
    """The row as committed, read through a fresh session."""
    assert request_id is not None
    async with sessions() as session:
        row = await audit.get_request(session, request_id)
    assert row is not None
    return row


async def ready(service: RollbackService, actor: Actor = MOD, **kw: object) -> RollbackRequest:
    args: dict[str, object] = {
        "page": "Main_Page",
        "user": "vandal",
        "summary": None,
        "markbot": False,
    }
    args.update(kw)
    outcome = await service.request(actor, **args)  # type: ignore[arg-type]
    assert isinstance(outcome, Ready), outcome
    return outcome.request


async def confirm(service: RollbackService, request: RollbackRequest) -> object:
    """The requester clicks Confirm: win the claim, then carry it out."""
    claim = await service.claim(request.id or 0, MOD)
    assert isinstance(claim, Claimed), claim
    return await service.execute(claim)


# ---- /rollback ---------------------------------------------------------------------------------


async def test_member_without_role_is_denied_without_touching_the_wiki(
    session_factory: Sessions,
) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)

    outcome = await service.request(
        NOBODY, page="main_page", user="vandal_x", summary=None, markbot=False
    )

    assert isinstance(outcome, Denied)
    assert outcome.required_role_ids == {MOD_ROLE}
    row = await stored(session_factory, outcome.request.id)
    assert row.status == RollbackStatus.DENIED
    assert row.requester_id == NOBODY.user_id
    # Stored as the wiki spells them, so a log search for "Vandal x" finds the denial too.
    assert (row.page_title, row.target_user) == ("Main page", "Vandal x")
    assert wiki.preview_calls == []


async def test_request_records_pending_row_with_preview_facts(session_factory: Sessions) -> None:
    clock = Clock()
    wiki = FakeWiki(previews=[ready_preview(edits=3, top_revid=30)])
    service = make_service(session_factory, wiki, clock)

    request = await ready(service, summary="spam $1", markbot=True)

    row = await stored(session_factory, request.id)
    assert row.status == RollbackStatus.PENDING
    assert (row.edits_to_revert, row.top_revid, row.restored_revid) == (3, 30, 27)
    assert row.page_title == "Main Page"  # the wiki's normalised title
    assert row.page_id == 7
    assert row.summary == "spam $1"
    assert row.markbot is True
    assert row.expires_at == clock.now + timedelta(seconds=120)
    assert row.wiki_api_url == wiki.api_url
    # The user name is normalised as MediaWiki does before the wiki is asked.
    assert wiki.preview_calls == [("Main Page", "Vandal")]


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        (PreviewProblem.MISSING_PAGE, "missingtitle"),
        (PreviewProblem.NOT_LAST_EDITOR, "notlasteditor"),
        (PreviewProblem.ONLY_AUTHOR, "onlyauthor"),
    ],
)
async def test_preview_problem_ends_the_row_failed(
    session_factory: Sessions, problem: PreviewProblem, code: str
) -> None:
    service = make_service(session_factory, FakeWiki(previews=[problem_preview(problem)]))

    outcome = await service.request(
        MOD, page="Main Page", user="Vandal", summary=None, markbot=False
    )

    assert isinstance(outcome, Refused)
    assert outcome.code == code
    assert outcome.preview is not None
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, code)
    assert row.error_message


async def test_wiki_error_during_preview_is_recorded(session_factory: Sessions) -> None:
    wiki = FakeWiki(previews=[InvalidTitleError("invalidtitle", 'Bad title "<x>".')])
    service = make_service(session_factory, wiki)

    outcome = await service.request(MOD, page="<x>", user="Vandal", summary=None, markbot=False)

    assert isinstance(outcome, Refused)
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "invalidtitle")
    assert row.page_title == "<x>"  # what the moderator typed is kept


async def test_malformed_user_name_is_refused_before_any_wiki_call(
    session_factory: Sessions,
) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)

    outcome = await service.request(MOD, page="Main Page", user="a#b", summary=None, markbot=False)

    assert isinstance(outcome, Refused)
    assert outcome.code == "baduser"
    assert (await stored(session_factory, outcome.request.id)).status == RollbackStatus.FAILED
    assert wiki.preview_calls == []


async def test_unexpected_crash_in_preview_still_ends_the_row(session_factory: Sessions) -> None:
    service = make_service(session_factory, FakeWiki(previews=[RuntimeError("boom")]))

    outcome = await service.request(
        MOD, page="Main Page", user="Vandal", summary=None, markbot=False
    )

    assert isinstance(outcome, Refused)
    assert outcome.code == "internal"
    row = await stored(session_factory, outcome.request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "internal")
    assert row.error_message == "RuntimeError: boom"


# ---- Confirm ---------------------------------------------------------------------------------


async def test_confirm_commits_running_before_the_wiki_call_then_succeeds(
    session_factory: Sessions,
) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    request = await ready(service, summary="vandalism, cost $5")

    claim = await service.claim(request.id or 0, MOD)

    assert isinstance(claim, Claimed)
    row = await stored(session_factory, request.id)
    assert row.status == RollbackStatus.RUNNING  # committed: visible from another session
    assert row.confirmed_by_id == MOD.user_id
    assert wiki.rollback_calls == []

    outcome = await service.execute(claim)

    assert isinstance(outcome, Succeeded)
    row = await stored(session_factory, request.id)
    assert row.status == RollbackStatus.SUCCEEDED
    assert (row.revid, row.old_revid, row.last_revid) == (13, 12, 10)
    [call] = wiki.rollback_calls
    assert call["title"] == "Main Page"
    assert call["user"] == "Vandal"
    assert call["summary"] == "vandalism, cost &#36;5 (requested by Mod via Discord)"


async def test_empty_summary_uses_wiki_default_plus_attribution(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    request = await ready(service, markbot=True)

    claim = await service.claim(request.id or 0, MOD)
    assert isinstance(claim, Claimed)
    await service.execute(claim)

    [call] = wiki.rollback_calls
    assert call["markbot"] is True
    summary = str(call["summary"])
    assert summary.startswith("Reverted edits by [[Special:Contributions/$2|$2]]")
    assert summary.endswith("(requested by Mod via Discord)")


async def test_double_confirm_rolls_back_once(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    request = await ready(service)

    first = await service.claim(request.id or 0, MOD)
    second = await service.claim(request.id or 0, MOD)

    assert isinstance(first, Claimed)
    assert isinstance(second, NotPending)
    assert second.request.status == RollbackStatus.RUNNING
    await service.execute(first)
    third = await service.claim(request.id or 0, MOD)
    assert isinstance(third, NotPending)
    assert third.request.status == RollbackStatus.SUCCEEDED
    assert len(wiki.rollback_calls) == 1


async def test_racing_confirms_roll_back_exactly_once(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    requests = [await ready(service) for _ in range(5)]

    async def click(request_id: int) -> object:
        claim = await service.claim(request_id, MOD)
        if isinstance(claim, Claimed):
            return await service.execute(claim)
        return claim

    outcomes = await asyncio.gather(*(click(r.id or 0) for r in requests for _ in range(4)))

    assert sum(isinstance(o, Succeeded) for o in outcomes) == 5
    assert sum(isinstance(o, NotPending) for o in outcomes) == 15
    assert len(wiki.rollback_calls) == 5
    for r in requests:
        assert (await stored(session_factory, r.id)).status == RollbackStatus.SUCCEEDED


async def test_stranger_click_changes_nothing(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    request = await ready(service)

    assert isinstance(await service.claim(request.id or 0, OTHER_MOD), NotYours)
    assert isinstance(await service.cancel(request.id or 0, OTHER_MOD), NotYours)

    assert (await stored(session_factory, request.id)).status == RollbackStatus.PENDING
    assert wiki.rollback_calls == []


async def test_click_on_unknown_request(session_factory: Sessions) -> None:
    service = make_service(session_factory, FakeWiki())
    assert await service.claim(4242, MOD) == Missing(4242)


async def test_role_removed_before_confirm_denies(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    request = await ready(service)
    demoted = Actor(user_id=MOD.user_id, display_name="Mod", role_ids=frozenset(), guild_id=GUILD)

    outcome = await service.claim(request.id or 0, demoted)

    assert isinstance(outcome, Denied)
    row = await stored(session_factory, request.id)
    assert (row.status, row.error_code) == (RollbackStatus.DENIED, "missingrole")
    assert wiki.rollback_calls == []


async def test_stale_preview_is_shown_again_instead_of_rolling_back(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    wiki = FakeWiki(previews=[ready_preview(top_revid=12), ready_preview(edits=3, top_revid=13)])
    service = make_service(session_factory, wiki, clock)
    request = await ready(service)
    clock.advance(60)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Stale)
    assert wiki.rollback_calls == []
    row = await stored(session_factory, request.id)
    assert row.status == RollbackStatus.PENDING
    assert (row.top_revid, row.edits_to_revert) == (13, 3)
    assert row.expires_at == clock.now + timedelta(seconds=120)  # a fresh window

    again = await service.claim(request.id or 0, MOD)
    assert isinstance(again, Claimed)
    assert isinstance(await service.execute(again), Succeeded)
    assert len(wiki.rollback_calls) == 1


async def test_page_changed_so_rollback_is_no_longer_possible(session_factory: Sessions) -> None:
    wiki = FakeWiki(previews=[ready_preview(), problem_preview(PreviewProblem.NOT_LAST_EDITOR)])
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Refused)
    assert outcome.code == "notlasteditor"
    assert (await stored(session_factory, request.id)).status == RollbackStatus.FAILED
    assert wiki.rollback_calls == []


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ProtectedPageError("protectedpage", "This page has been protected."), "protectedpage"),
        (RateLimitedError("ratelimited", "You've exceeded your rate limit."), "ratelimited"),
        (WikiTransportError("connection refused", ambiguous=False), "transport"),
    ],
)
async def test_wiki_refusal_ends_the_row_failed_with_its_code(
    session_factory: Sessions, error: Exception, code: str
) -> None:
    wiki = FakeWiki(rollbacks=[error])
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Refused)
    row = await stored(session_factory, request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, code)
    assert row.error_message
    assert wiki.find_calls == []  # a certain failure needs no history check


async def test_ambiguous_timeout_that_did_apply_is_recorded_as_success(
    session_factory: Sessions,
) -> None:
    applied = RollbackResult(
        title="Main Page", pageid=7, summary="s", revid=99, old_revid=12, last_revid=10
    )
    wiki = FakeWiki(
        rollbacks=[WikiTransportError("read timed out", ambiguous=True, timed_out=True)],
        found=[applied],
    )
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Succeeded)
    row = await stored(session_factory, request.id)
    assert (row.status, row.revid) == (RollbackStatus.SUCCEEDED, 99)
    assert len(wiki.rollback_calls) == 1  # never re-sent


async def test_lost_answer_not_applied_over_the_whole_window_is_sent_once_more(
    session_factory: Sessions,
) -> None:
    wiki = FakeWiki(
        rollbacks=[WikiTransportError("read timed out", ambiguous=True, timed_out=True)],
        found=[None],
    )
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Refused)
    assert outcome.code == "timeout"
    # Sent, then the history read 1 + len(SPREAD_DELAYS) times, sent again, read again.
    assert len(wiki.rollback_calls) == 2
    assert len(wiki.find_calls) == 2 * (1 + len(SPREAD_DELAYS))
    row = await stored(session_factory, request.id)
    assert row.recheck_at is not None  # the sweep looks again later


async def test_lost_answer_then_lagging_read_then_alreadyrolled_is_a_success(
    session_factory: Sessions,
) -> None:
    """Issue 7 #3: the first POST applied, its answer was lost, the reads lagged through the
    whole window, the re-send got `alreadyrolled`; then the history shows our rollback."""
    applied = RollbackResult(
        title="Main Page", pageid=7, summary="s", revid=13, old_revid=12, last_revid=10
    )
    reads_before_resend = 1 + len(SPREAD_DELAYS)
    wiki = FakeWiki(
        rollbacks=[
            WikiTransportError("read timed out", ambiguous=True, timed_out=True),
            AlreadyRolledError("alreadyrolled", "The page was rolled back already."),
        ],
        found=[*([None] * reads_before_resend), None, applied],
    )
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Succeeded), outcome
    row = await stored(session_factory, request.id)
    assert (row.status, row.revid, row.old_revid) == (RollbackStatus.SUCCEEDED, 13, 12)
    assert len(wiki.rollback_calls) == 2


async def test_alreadyrolled_by_someone_else_after_a_resend_fails(
    session_factory: Sessions,
) -> None:
    someone = revision(13, "Admin", parentid=12)
    wiki = FakeWiki(
        rollbacks=[
            WikiTransportError("reset", ambiguous=True),
            AlreadyRolledError("alreadyrolled", "The page was rolled back already."),
        ],
        found=[*([None] * (1 + len(SPREAD_DELAYS))), someone],
    )
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Refused)
    assert outcome.code == "alreadyrolled"
    assert (await stored(session_factory, request.id)).recheck_at is None


async def test_lost_answer_applied_late_in_the_window_is_a_success_without_resend(
    session_factory: Sessions,
) -> None:
    applied = RollbackResult(
        title="Main Page", pageid=7, summary="s", revid=13, old_revid=12, last_revid=10
    )
    wiki = FakeWiki(
        rollbacks=[WikiTransportError("502", ambiguous=True, status_code=502)],
        found=[None, None, applied],
    )
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Succeeded)
    assert len(wiki.rollback_calls) == 1
    assert len(wiki.find_calls) == 3


async def test_an_edit_by_someone_else_after_the_vandal_means_not_applied(
    session_factory: Sessions,
) -> None:
    wiki = FakeWiki(
        rollbacks=[WikiTransportError("read timed out", ambiguous=True, timed_out=True)],
        found=[revision(13, "Editor", parentid=12)],
    )
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Refused)
    assert outcome.code == "timeout"
    assert len(wiki.rollback_calls) == 1  # someone else is on top: never re-sent
    assert len(wiki.find_calls) == 1


async def test_ambiguous_timeout_with_unreadable_history_says_unverified(
    session_factory: Sessions,
) -> None:
    wiki = FakeWiki(
        rollbacks=[WikiTransportError("read timed out", ambiguous=True, timed_out=True)],
        found=[WikiTransportError("connection refused", ambiguous=False)],
    )
    service = make_service(session_factory, wiki)
    request = await ready(service)

    outcome = await confirm(service, request)

    assert isinstance(outcome, Refused)
    assert outcome.code == "unverified"
    assert (await stored(session_factory, request.id)).status == RollbackStatus.FAILED


async def test_crash_during_rollback_ends_the_row_failed(session_factory: Sessions) -> None:
    wiki = FakeWiki(rollbacks=[KeyError("surprise")])
    service = make_service(session_factory, wiki)
    request = await ready(service)
    claim = await service.claim(request.id or 0, MOD)
    assert isinstance(claim, Claimed)

    outcome = await service.execute(claim)

    assert isinstance(outcome, Refused)
    assert outcome.code == "internal"
    row = await stored(session_factory, request.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "internal")


# ---- Cancel and expiry -------------------------------------------------------------------------


async def test_cancel_then_confirm_does_nothing(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    request = await ready(service)

    assert isinstance(await service.cancel(request.id or 0, MOD), Cancelled)
    late = await service.claim(request.id or 0, MOD)

    assert isinstance(late, NotPending)
    assert late.request.status == RollbackStatus.CANCELLED
    assert wiki.rollback_calls == []


async def test_click_after_expiry_expires_the_row(session_factory: Sessions) -> None:
    clock = Clock()
    wiki = FakeWiki()
    service = make_service(session_factory, wiki, clock)
    request = await ready(service)
    clock.advance(121)

    outcome = await service.claim(request.id or 0, MOD)

    assert isinstance(outcome, Expired)
    assert (await stored(session_factory, request.id)).status == RollbackStatus.EXPIRED
    again = await service.claim(request.id or 0, MOD)
    assert isinstance(again, NotPending)
    assert wiki.rollback_calls == []


async def test_sweep_expires_only_overdue_prompts(session_factory: Sessions) -> None:
    clock = Clock()
    service = make_service(session_factory, FakeWiki(), clock)
    old = await ready(service)
    clock.advance(100)
    young = await ready(service)
    clock.advance(30)

    expired = await service.expire_due()

    assert [r.id for r in expired] == [old.id]
    assert (await stored(session_factory, old.id)).status == RollbackStatus.EXPIRED
    assert (await stored(session_factory, young.id)).status == RollbackStatus.PENDING
    assert await service.expire_due() == []


# ---- start-up reconciliation -----------------------------------------------------------------


async def test_reconcile_settles_only_rows_whose_lease_lapsed(session_factory: Sessions) -> None:
    clock = Clock()
    applied = RollbackResult(
        title="Main Page", pageid=7, summary="s", revid=50, old_revid=12, last_revid=10
    )
    wiki = FakeWiki(found=[applied, None, WikiTransportError("down", ambiguous=False)])
    dead = make_service(session_factory, wiki, clock, owner="dead")
    done, not_done, unknown = [await ready(dead) for _ in range(3)]
    for request in (done, not_done, unknown):
        assert isinstance(await dead.claim(request.id or 0, MOD), Claimed)
    stale_prompt = await ready(dead)
    fresh = make_service(session_factory, wiki, clock, owner="fresh")

    # The dead process's leases still hold: a new process must not touch its rows.
    assert await fresh.reconcile() == []
    clock.advance(500)
    settled = await fresh.reconcile()

    assert {r.id for r in settled} == {done.id, not_done.id, stale_prompt.id}
    row = await stored(session_factory, done.id)
    assert (row.status, row.revid) == (RollbackStatus.SUCCEEDED, 50)
    row = await stored(session_factory, not_done.id)
    assert (row.status, row.error_code) == (RollbackStatus.FAILED, "interrupted")
    assert row.recheck_at is not None  # a POST still in flight may land: looked at again
    # The wiki could not be asked: the row stays running for the next sweep to settle.
    assert (await stored(session_factory, unknown.id)).status == RollbackStatus.RUNNING
    assert (await stored(session_factory, stale_prompt.id)).status == RollbackStatus.EXPIRED
    # Matched by the revision the preview showed on top, not by time.
    assert {call[1] for call in wiki.find_calls} == {12}


async def test_a_starting_process_leaves_a_live_rollback_alone_and_it_ends_succeeded(
    session_factory: Sessions,
) -> None:
    """Issue 7 #2: a second process starts while the first waits for the wiki's answer."""
    clock = Clock()
    gate = asyncio.Event()
    wiki = FakeWiki(found=[None])
    first = make_service(session_factory, wiki, clock, owner="first")
    request = await ready(first)
    claim = await first.claim(request.id or 0, MOD)
    assert isinstance(claim, Claimed)
    wiki.rollback_gate = gate
    running = asyncio.create_task(first.execute(claim))
    async with asyncio.timeout(5):
        while not wiki.rollback_calls:  # noqa: ASYNC110 - the fake has no hook to wait on
            await asyncio.sleep(0.001)

    second = make_service(session_factory, wiki, clock, owner="second")
    assert await second.reconcile() == []
    assert (await stored(session_factory, request.id)).status == RollbackStatus.RUNNING
    gate.set()

    assert isinstance(await running, Succeeded)
    row = await stored(session_factory, request.id)
    assert (row.status, row.revid) == (RollbackStatus.SUCCEEDED, 13)


async def test_a_lost_compare_and_set_is_corrected_from_the_wiki(
    session_factory: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    """The row was settled `failed` elsewhere (lease lapsed), then the owner's rollback
    landed: the owner's success corrects the row instead of being ignored."""
    clock = Clock()
    gate = asyncio.Event()
    wiki = FakeWiki(found=[None])
    first = make_service(session_factory, wiki, clock, owner="first")
    request = await ready(first)
    claim = await first.claim(request.id or 0, MOD)
    assert isinstance(claim, Claimed)
    wiki.rollback_gate = gate
    running = asyncio.create_task(first.execute(claim))
    async with asyncio.timeout(5):
        while not wiki.rollback_calls:  # noqa: ASYNC110 - the fake has no hook to wait on
            await asyncio.sleep(0.001)
    clock.advance(120)  # the owner's heartbeat could not reach the database meanwhile
    second = make_service(session_factory, wiki, clock, owner="second")
    settled = await second.reconcile()
    assert [r.status for r in settled] == [RollbackStatus.FAILED]

    gate.set()
    outcome = await running

    assert isinstance(outcome, Succeeded)
    row = await stored(session_factory, request.id)
    assert (row.status, row.revid, row.error_code) == (RollbackStatus.SUCCEEDED, 13, None)
    assert row.log_state == "pending"  # the corrected outcome is posted (or edited) again
    assert any(
        r.levelname == "ERROR" and "compare-and-set lost" in r.getMessage() for r in caplog.records
    )


async def test_recheck_corrects_a_failed_row_the_wiki_did_apply(session_factory: Sessions) -> None:
    clock = Clock()
    applied = RollbackResult(
        title="Main Page", pageid=7, summary="s", revid=13, old_revid=12, last_revid=10
    )
    wiki = FakeWiki(
        rollbacks=[WikiTransportError("read timed out", ambiguous=True, timed_out=True)],
        found=[None],
    )
    service = make_service(session_factory, wiki, clock)
    request = await ready(service)
    assert isinstance(await confirm(service, request), Refused)
    assert await service.recheck_due() == []  # not due yet

    wiki.found = [applied]  # the commit (or the replica) caught up
    clock.advance(3 * 60)
    corrected = await service.recheck_due()

    assert [r.id for r in corrected] == [request.id]
    row = await stored(session_factory, request.id)
    assert (row.status, row.revid, row.recheck_at) == (RollbackStatus.SUCCEEDED, 13, None)


async def test_rechecks_are_bounded(session_factory: Sessions) -> None:
    clock = Clock()
    wiki = FakeWiki(
        rollbacks=[WikiTransportError("read timed out", ambiguous=True, timed_out=True)],
        found=[None],
    )
    service = make_service(session_factory, wiki, clock)
    request = await ready(service)
    await confirm(service, request)
    looks = len(wiki.find_calls)

    for _ in range(10):
        clock.advance(2 * 3600)
        assert await service.recheck_due() == []

    assert len(wiki.find_calls) - looks == 3
    row = await stored(session_factory, request.id)
    assert (row.status, row.recheck_at, row.recheck_count) == (RollbackStatus.FAILED, None, 3)


async def test_settle_leaves_in_flight_rows_and_live_leases_alone(
    session_factory: Sessions,
) -> None:
    clock = Clock()
    gate = asyncio.Event()
    applied = RollbackResult(
        title="Main Page", pageid=7, summary="s", revid=60, old_revid=12, last_revid=10
    )
    wiki = FakeWiki(found=[applied])
    service = make_service(session_factory, wiki, clock)
    abandoned, busy = [await ready(service) for _ in range(2)]
    for request in (abandoned, busy):
        assert isinstance(await service.claim(request.id or 0, MOD), Claimed)
    clock.advance(20 * 60)
    recent = await ready(service)  # confirmed just now: its lease holds
    assert isinstance(await service.claim(recent.id or 0, MOD), Claimed)
    # `busy` is being carried out by this process right now (its rollback call hangs).
    wiki.rollback_gate = gate
    busy_claim = Claimed(await stored(session_factory, busy.id))
    running = asyncio.create_task(service.execute(busy_claim))
    async with asyncio.timeout(5):
        while not wiki.rollback_calls:  # noqa: ASYNC110 - the fake has no hook to wait on
            await asyncio.sleep(0.001)

    settled = await service.settle_abandoned()

    assert [r.id for r in settled] == [abandoned.id]
    row = await stored(session_factory, abandoned.id)
    assert (row.status, row.revid) == (RollbackStatus.SUCCEEDED, 60)
    assert (await stored(session_factory, busy.id)).status == RollbackStatus.RUNNING
    assert (await stored(session_factory, recent.id)).status == RollbackStatus.RUNNING
    gate.set()
    assert isinstance(await running, Succeeded)
    assert await service.settle_abandoned() == []


async def test_a_click_from_another_server_is_refused(session_factory: Sessions) -> None:
    wiki = FakeWiki()
    service = make_service(session_factory, wiki)
    request = await ready(service)
    elsewhere = Actor(
        user_id=MOD.user_id, display_name="Mod", role_ids=MOD.role_ids, guild_id=GUILD + 1
    )

    assert isinstance(await service.claim(request.id or 0, elsewhere), WrongGuild)
    assert isinstance(await service.cancel(request.id or 0, elsewhere), WrongGuild)
    assert (await stored(session_factory, request.id)).status == RollbackStatus.PENDING
    assert wiki.rollback_calls == []


async def test_request_row_has_its_expiry_from_the_start(session_factory: Sessions) -> None:
    """A crash (or DB error) during the preview leaves a row the expiry sweep can end."""
    clock = Clock()
    gate = asyncio.Event()

    entered = asyncio.Event()

    class HangingWiki(FakeWiki):
        async def preview(self, title: str, user: str) -> RollbackPreview:
            entered.set()
            await gate.wait()
            return await super().preview(title, user)

    service = make_service(session_factory, HangingWiki(), clock)
    task = asyncio.create_task(
        service.request(MOD, page="Main Page", user="Vandal", summary=None, markbot=False)
    )
    async with asyncio.timeout(5):
        await entered.wait()
    async with session_factory() as session:
        rows = await audit.expired_pending(session, now=clock.now + timedelta(hours=1))
    assert rows[0].expires_at == clock.now + timedelta(seconds=120)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    clock.advance(121)
    assert [r.status for r in await service.expire_due()] == [RollbackStatus.EXPIRED]


async def test_updated_at_follows_the_service_clock(session_factory: Sessions) -> None:
    clock = Clock()
    service = make_service(session_factory, FakeWiki(), clock)
    request = await ready(service)
    clock.advance(42)
    await confirm(service, request)
    assert (await stored(session_factory, request.id)).updated_at == clock.now


async def test_a_forbidden_move_is_a_bug_that_raises(session_factory: Sessions) -> None:
    service = make_service(session_factory, FakeWiki())
    request = await ready(service)
    await confirm(service, request)
    with pytest.raises(IllegalTransitionError):
        await service.records.move(
            request.id or 0, from_statuses=[RollbackStatus.SUCCEEDED], to=RollbackStatus.FAILED
        )
