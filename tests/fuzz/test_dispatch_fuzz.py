"""Hypothesis drives the real Discord dispatch with hostile input and checks, after every case:

- every interaction is answered exactly once, and only to the member (ephemeral);
- nothing can ping: every message has `allowed_mentions: {"parse": []}` and no content carries
  `@everyone`, `@here` or a mention of an id from the input; embeds show such text escaped;
- Discord would accept every request (`StrictDiscord` enforces the message and embed limits);
- no unhandled exception: no handler task died, nothing was logged at ERROR (the tree's
  `on_error` and the views' `on_error` log there) beyond the one line per wiki-client crash the
  service is meant to log;
- no row of the case is left `pending` or `running` once its prompt ended (Confirm, Cancel or
  the expiry sweep);
- the Discord token and the wiki password are in no log line (formatted as production formats
  it), no column of any table and no request body or upload sent to Discord;
- no cell of an exported CSV starts like a spreadsheet formula.

One bot serves every example of a test (built once: ~0.3 s), on its own event loop driven here,
because pytest-asyncio's function-scoped loop would be shared across hypothesis examples. Each
example is checked over the slice of requests, log records and rows it produced.

`ROLLBOT_FUZZ_EXAMPLES=2000` runs a longer search (the default keeps each backend near 80 s on two
cores). The closing note (tests/fuzz/conftest.py) says how many cases ran and what they found.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.db.models import RollbackStatus
from bot.interaction_gate import storable
from bot.wiki.edits import Edit
from bot.wiki.results import Revision
from tests.discord.harness import (
    CHANNEL_ID,
    CONFIRM_TIMEOUT,
    HELPER_ROLE_ID,
    JSON,
    MOD,
    MOD_ROLE_ID,
    OTHER_MOD,
    Person,
    button_custom_ids,
    cancel_id,
    confirm_id,
)
from tests.fuzz.strategies import (
    NAME_FIELDS,
    Case,
    RollbackCase,
    SearchCase,
    cases,
    poisoned,
)
from tests.fuzz.world import (
    TALLIES,
    Checker,
    FuzzHarness,
    Tally,
    WikiScript,
    fuzz_world,
)
from tests.unit.services.fakes import T0

_SCALE = int(os.environ.get("ROLLBOT_FUZZ_EXAMPLES", "0") or 0)
# The defaults keep each backend under ~90 s on a 2-core machine (~60 ms a case on
# SQLite, less on PostgreSQL); ROLLBOT_FUZZ_EXAMPLES=N runs N main cases on SQLite, N / 3 on
# PostgreSQL, N / 4 poisoned ones and N / 10 with a poisoned display name on each.
MAIN_EXAMPLES = _SCALE or 250
POISON_EXAMPLES = _SCALE // 4 or 50
NAME_EXAMPLES = _SCALE // 10 or 20
# Shrinking a failure replays hundreds of cases through the bot (over five minutes once): off by
# default, so a failing run ends soon with the first failing case; ROLLBOT_FUZZ_SHRINK=1 shrinks.
SHRINK = os.environ.get("ROLLBOT_FUZZ_SHRINK", "") not in ("", "0")


def _settings(examples: int, *, shrink: bool) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,  # the same cases on every run and machine
        database=None,  # nothing written to .hypothesis/
        deadline=None,
        print_blob=True,
        phases=tuple(Phase) if shrink else (Phase.explicit, Phase.generate),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _fuzz(
    backend: str,
    tmp_path: Path,
    strategy: st.SearchStrategy[Case],
    examples: int,
    *,
    explicit: Sequence[Case] = (),
) -> None:
    """Run `drive_case` for each generated (and each `explicit`) case on one bot, failing on
    the first broken property."""
    tally = TALLIES[backend]
    with asyncio.Runner() as runner:
        world = fuzz_world(backend, tmp_path)
        h = runner.run(world.__aenter__())
        try:

            def example(case: Case) -> None:
                problems = runner.run(drive_case(h, case, tally))
                assert not problems, "\n".join(problems)

            for case in explicit:
                example = hypothesis.example(case=case)(example)
            _settings(examples, shrink=SHRINK)(given(case=strategy)(example))()
            runner.run(h.settle())
            unposted = runner.run(_undelivered_log_posts(h))
            assert not unposted, unposted
            h.check_invariants()
            # Rows a later case changed (sweeps re-check earlier failures) are read once more.
            leaks = runner.run(Checker(h, tally).secrets_in_tables())
            assert not leaks, leaks
        finally:
            runner.run(world.__aexit__(None, None, None))


async def _undelivered_log_posts(h: FuzzHarness) -> list[str]:
    """Once every retry and fold window has passed, each ended row's log post was delivered
    (or folded into a later one); none failed for good and none still waits."""
    h.log_clock.advance(3600)
    await h.bot.log_poster.deliver_due()
    await h.settle()
    async with h.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT id, log_state, log_post_error FROM rollback_request "
                "WHERE log_state IS NOT NULL AND log_state NOT IN ('posted', 'folded')"
            )
        )
        return [f"request #{id_}: log post {state} ({error})" for id_, state, error in rows]


# ---- the cases -----------------------------------------------------------------------------


def _person(base: Person, name: str, authorized: bool) -> Person:
    return Person(base.user_id, name, (MOD_ROLE_ID,) if authorized else (HELPER_ROLE_ID,))


async def _expire(h: FuzzHarness) -> None:
    h.clock.advance(CONFIRM_TIMEOUT.total_seconds() + 1)
    await h.cog.sweep()
    await h.settle()


async def run_rollback(h: FuzzHarness, case: RollbackCase) -> None:
    """`/rollback`, then the generated clicks on its prompt; the prompt always ends."""
    h.wiki.begin_case(case.wiki)
    person = _person(MOD, case.moderator_name, case.authorized)
    run = await h.slash(
        person, page=case.page, user=case.user, summary=case.summary, markbot=case.markbot
    )
    message_id = h.discord.original_message_id(run.token)
    first = h.discord.message(message_id) if message_id is not None else None
    ids = button_custom_ids(first["components"]) if first else []
    if first is None or message_id is None or not ids:
        return  # refused, denied or not answered: the checks say which
    request_id = int(ids[0].rsplit(":", 1)[1])
    for action in case.actions:
        current = h.discord.message(message_id)
        # A click on the live prompt, or (once it has ended) on the copy a stale client shows.
        target = current if button_custom_ids(current.get("components", [])) else first
        await _act(h, action, person=person, request_id=request_id, target=target, first=first)
    if (await h.row(request_id)).status == RollbackStatus.PENDING:
        await _expire(h)


async def _act(
    h: FuzzHarness, action: str, *, person: Person, request_id: int, target: JSON, first: JSON
) -> None:
    confirm = confirm_id(request_id)
    if action == "confirm":
        await h.click(person, confirm, message=target)
    elif action == "cancel":
        await h.click(person, cancel_id(request_id), message=target)
    elif action == "stranger":
        await h.click(OTHER_MOD, confirm, message=target)
    elif action == "double":  # two clicks in flight at once: one rollback, two answers
        h.send_click(person, confirm, message=target)
        h.send_click(person, confirm, message=target)
        await h.settle()
    elif action == "expire":
        await _expire(h)
    elif action == "expired-click":
        h.clock.advance(CONFIRM_TIMEOUT.total_seconds() + 1)
        await h.click(person, confirm, message=target)
    else:  # "late": the first copy of the prompt, whatever happened since
        await h.click(person, confirm, message=first)


def _enabled_button(message: JSON, label: str) -> str | None:
    stack = list(message.get("components") or [])
    while stack:
        component = stack.pop()
        stack.extend(component.get("components") or [])
        if component.get("label") == label and not component.get("disabled"):
            return str(component["custom_id"])
    return None


async def run_review(h: FuzzHarness, case: Case, first_row_id: int) -> None:
    """`/rollback-log search` (and Next), `show` of the case's request, maybe `export`."""
    search: SearchCase = case.search
    reader = _person(MOD, "Reader", search.reader_authorized)
    user, page = (
        (case.rollback.user, case.rollback.page)
        if search.reuse_case
        else (search.user, search.page)
    )
    filters = {
        "user": user,
        "page": page,
        "status": search.status,
        "since": search.since,
        "until": search.until,
    }
    run = await h.run(reader, "rollback-log search", **filters)
    message_id = h.discord.original_message_id(run.token)
    if search.next_page and message_id is not None:
        message = h.discord.message(message_id)
        button = _enabled_button(message, "Next")
        if button is not None:
            await h.click(reader, button, message=message)
    async with h.sessions() as session:
        newest = await session.scalar(text("SELECT max(id) FROM rollback_request"))
    await h.run(reader, "rollback-log show", id=max(newest or 1, first_row_id))
    if search.export:
        await h.run(reader, "rollback-log export", **filters)


_MENU_REVIDS = itertools.count(10_000)


async def run_menu(h: FuzzHarness, case: RollbackCase) -> None:
    """ "Roll back this edit" on a message carrying the case's hostile text beside a diff link;
    the wiki reports the case's page and user as the edit's page and author, so they flow into
    the check, the preview, the row, the prompt and the log post as if the wiki had them."""
    h.wiki.begin_case(case.wiki)
    revid = next(_MENU_REVIDS)
    # What a wiki reports is text it stored: no NUL, no lone surrogates (the message keeps them).
    author = None if case.wiki.top_user is None else storable(case.user)
    h.wiki.edit_pages[revid] = Edit(
        revision=Revision(revid=revid, parentid=revid - 1, user=author, timestamp=T0, size=1),
        pageid=revid,
        title=storable(case.page),
    )
    # Someone else edited since in one case out of three (the refusal path), else untouched.
    others = [Revision(revid + 1, revid, "Someone", T0, 1)] if revid % 3 == 0 else []
    h.wiki.later[revid] = (None, others, False)
    link = f"https://wiki.example/w/index.php?diff={revid}&oldid={revid - 1}"
    message = {
        "id": str(1_700_000_000_000_000_000 + revid),
        "channel_id": str(CHANNEL_ID),
        "author": {"id": "1600000000000000001", "username": "feed", "discriminator": "0"},
        "content": f"{case.summary or ''} {link} {case.page}",
        "embeds": [
            {"type": "rich", "title": case.page[:256], "description": case.user, "url": link}
        ],
        "timestamp": "2026-12-01T12:00:00.000000+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        "components": [],
    }
    person = _person(MOD, case.moderator_name, case.authorized)
    run = h.send(h.message_command_payload(person, message))
    await h.settle()
    message_id = h.discord.original_message_id(run.token)
    shown = h.discord.message(message_id) if message_id is not None else None
    ids = button_custom_ids(shown.get("components", [])) if shown else []
    if shown is None or not ids:
        return
    request_id = int(ids[0].rsplit(":", 1)[1])
    if "confirm" in case.actions:
        await h.click(person, confirm_id(request_id), message=shown)
    if (await h.row(request_id)).status == RollbackStatus.PENDING:
        await _expire(h)


async def drive_case(h: FuzzHarness, case: Case, tally: Tally) -> list[str]:
    checker = Checker(h, tally)
    window = await checker.begin()
    await run_rollback(h, case.rollback)
    problems = await checker.check(window, kind="rollback")
    review = await checker.begin()
    await run_review(h, case, window.first_row_id)
    problems += await checker.check(review, kind="review")
    menu = await checker.begin()
    await run_menu(h, case.rollback)
    problems += await checker.check(menu, kind="menu")
    return problems


# ---- the tests -----------------------------------------------------------------------------

_QUIET = SearchCase(
    reader_authorized=True,
    reuse_case=True,
    user=None,
    page=None,
    status=None,
    since=None,
    until=None,
    next_page=True,
    export=True,
)
# Cases that always run, before the generated ones.
EXPLICIT = (
    # The longest of everything on the success path: the preview, the result, the log post,
    # search, show and export all render it (escaping doubles each `*`).
    Case(
        RollbackCase(
            moderator_name="@everyone **" + "ж" * 20,
            authorized=True,
            page="Ǆ" * 127,  # 254 bytes: as long as MediaWiki allows
            user="ж" * 255,
            summary="*" * 1000,
            markbot=True,
            wiki=WikiScript(edits=600, capped=True, restored_user="@here " + "ж" * 249),
            actions=("confirm",),
        ),
        _QUIET,
    ),
    # A search option the bot cannot read is quoted back to the member: defused.
    Case(
        RollbackCase(
            moderator_name="Mod",
            authorized=True,
            page="Main Page",
            user="Vandal",
            summary=None,
            markbot=False,
            wiki=WikiScript(),
            actions=("cancel",),
        ),
        replace(_QUIET, reuse_case=False, until="@everyone", user="@here>"),
    ),
)


def test_hostile_input_through_the_real_dispatch(backend: str, tmp_path: Path) -> None:
    examples = MAIN_EXAMPLES if backend == "sqlite" else max(MAIN_EXAMPLES // 3, 1)
    _fuzz(backend, tmp_path, cases(), examples, explicit=EXPLICIT)


def test_nul_and_lone_surrogates_get_one_polite_answer(backend: str, tmp_path: Path) -> None:
    """NUL and lone surrogates in what a member types (JSON carries them, the databases refuse
    them): each interaction is still answered once, ephemerally, with nothing unhandled, and
    every other property holds."""
    _fuzz(backend, tmp_path, poisoned(), POISON_EXAMPLES)


def test_nul_and_lone_surrogates_in_a_display_name(backend: str, tmp_path: Path) -> None:
    """Discord says who the member is; their display name is stored as `requester_name` (with
    U+FFFD for what the database cannot hold: the gate cannot refuse a member for their name)."""
    _fuzz(backend, tmp_path, poisoned(NAME_FIELDS), NAME_EXAMPLES)
