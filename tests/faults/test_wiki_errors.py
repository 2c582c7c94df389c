"""Wiki faults a real wiki cannot produce on cue, through the real WikiClient, the real
RollbackService and a real SQLite database; the wiki is a stateful respx fake (fakewiki.py) whose
history really changes when a rollback is applied, and `sleep` is injected.

For every fault: the audit row's final status and code, how many `action=rollback` POSTs were
made, how many rollbacks the wiki applied (never more than one), and the waits the client chose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import RollbackStatus
from bot.services.rollback import Claimed, Refused, Succeeded
from bot.services.settlement import SPREAD_DELAYS
from tests.faults import fakewiki
from tests.faults.fakewiki import FakeMediaWiki, Step, api_error, html, raw
from tests.faults.support import MODERATOR, Sleeps, make_client, make_service, ready_request

JITTER = [0.5, 1.0, 2.0]  # RetryPolicy full jitter with random()=0.5, base 1 s
MAXLAG = api_error(
    "maxlag",
    "Waiting for 10.64.16.8: 7 seconds lagged.",
    {"Retry-After": "7", "X-Database-Lag": "7"},
)
READONLY = api_error("readonly", "The wiki is currently in read-only mode.")
PHP_FATAL_PAGE = "<br />\n<b>Fatal error</b>: Allowed memory size exhausted in <b>x.php</b>"


@dataclass(frozen=True)
class Case:
    steps: list[Step]
    status: RollbackStatus
    code: str | None
    posts: int
    sleeps: list[float]
    down_after_rollback: bool = False

    @property
    def applied(self) -> int:
        return 1 if self.status is RollbackStatus.SUCCEEDED or self.code == "unverified" else 0


SPREAD = list(SPREAD_DELAYS)
OK = RollbackStatus.SUCCEEDED
FAILED = RollbackStatus.FAILED

CASES = {
    # Nothing reached the wiki: re-sending is safe, and done.
    "refused-then-ok": Case([Step(False, error=httpx.ConnectError)], OK, None, 2, [0.5]),
    "refused-always": Case(
        [Step(False, error=httpx.ConnectError)] * 4, FAILED, "transport", 4, JITTER
    ),
    "connect-timeout-then-ok": Case([Step(False, error=httpx.ConnectTimeout)], OK, None, 2, [0.5]),
    # Ambiguous, wiki had not acted: the history shows the vandal on top over the whole
    # settlement window, so one more POST (after the wiki's Retry-After, when it gave one).
    "reset-before": Case([Step(False, error=httpx.RemoteProtocolError)], OK, None, 2, SPREAD),
    "503-before-retry-after": Case(
        [Step(False, answer=lambda r: httpx.Response(503, headers={"Retry-After": "3"}))],
        OK,
        None,
        2,
        [*SPREAD, 3.0],
    ),
    "502-html-before": Case([Step(False, answer=html(502))], OK, None, 2, SPREAD),
    # Ambiguous, wiki had acted: the history shows our rollback; never a second POST.
    "reset-after": Case([Step(True, error=httpx.ReadError)], OK, None, 1, []),
    "read-timeout-after": Case([Step(True, error=httpx.ReadTimeout)], OK, None, 1, []),
    "500-after": Case([Step(True, answer=html(500, PHP_FATAL_PAGE))], OK, None, 1, []),
    "502-after": Case([Step(True, answer=html(502))], OK, None, 1, []),
    "503-after": Case([Step(True, answer=html(503))], OK, None, 1, []),
    "200-html-page-after": Case([Step(True, answer=html(200, PHP_FATAL_PAGE))], OK, None, 1, []),
    "malformed-json-after": Case(
        [Step(True, answer=raw(200, b'{"rollback": {"title": "Sandbox", "rev'))], OK, None, 1, []
    ),
    "json-without-rollback-after": Case(
        [Step(True, answer=raw(200, b'{"batchcomplete": true}'))], OK, None, 1, []
    ),
    # MediaWiki refuses these before the module runs: clear answers, nothing applied.
    "maxlag-then-ok": Case([Step(False, answer=MAXLAG)], OK, None, 2, [7.0]),
    "maxlag-always": Case([Step(False, answer=MAXLAG)] * 4, FAILED, "maxlag", 4, [7.0] * 3),
    "readonly": Case([Step(False, answer=READONLY)], FAILED, "readonly", 1, []),
    # Acted, then the wiki vanished: the history cannot be read, so the row must not claim
    # either outcome. It ends failed/unverified, telling the moderator to look (see report).
    "502-after-then-down": Case(
        [Step(True, answer=html(502))],
        FAILED,
        "unverified",
        1,
        JITTER,  # the settlement read, 4 tries (connection refused), then "unverified"
        down_after_rollback=True,
    ),
}


@pytest.fixture
async def mocked() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True) as mock:
        yield mock


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_wiki_fault_ends_truthfully_without_a_second_rollback(
    mocked: respx.MockRouter,
    sqlite_session_factory: async_sessionmaker[AsyncSession],
    case: Case,
) -> None:
    fake = FakeMediaWiki(down_after_rollback=case.down_after_rollback)
    mocked.route(url=fakewiki.API).mock(side_effect=fake)
    sleeps = Sleeps()
    async with make_client(
        fakewiki.API,
        username=fakewiki.BOT_LOGIN,
        password=fakewiki.PASSWORD,
        user_agent=fakewiki.USER_AGENT,
        sleeps=sleeps,
    ) as client:
        service = make_service(client, sqlite_session_factory, sleeps=sleeps)
        request_id = await ready_request(service, fakewiki.TITLE)
        fake.rollback_steps = list(case.steps)
        claimed = await service.claim(request_id, MODERATOR)
        assert isinstance(claimed, Claimed)
        outcome = await service.execute(claimed)

    row = await service.get(request_id)
    assert row is not None
    assert (row.status, row.error_code) == (case.status, case.code), row.error_message
    assert fake.rollback_posts == case.posts
    assert len(fake.applied) == len(fake.bot_rollbacks) == case.applied
    assert sleeps.delays == case.sleeps
    if case.status is OK:
        assert isinstance(outcome, Succeeded)
        applied = fake.applied[0]
        assert (row.revid, row.old_revid, row.last_revid, row.page_id) == (
            applied["revid"],
            fakewiki.VANDAL_REVIDS[-1],
            fakewiki.GOOD_REVID,
            fakewiki.PAGEID,
        )
    else:
        assert isinstance(outcome, Refused)
        assert row.revid is None
