"""`/rollback-log search`'s Prev / Next through discord.py's real DynamicItem routing: the
buttons work after a restart, count once, and refuse forged or foreign clicks.

A "restart" is a new `RollBot` with its own engine on the same database, talking to the same
(fake) Discord, which still holds the old message with its buttons.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.db.engine import create_session_factory
from bot.db.history import Cursor
from bot.db.log_search import KEEP_SEARCHES, LogSearch
from bot.db.models import RollbackRequest, RollbackStatus
from bot.exts.history import (
    NOT_ALLOWED_TEXT,
    NOT_YOURS_TEXT,
    OTHER_GUILD_TEXT,
    SEARCH_GONE_TEXT,
)
from bot.ui.history import PageClick
from tests.conftest import migrated_engine
from tests.discord.harness import (
    CHANNEL_MESSAGE,
    EPHEMERAL,
    JSON,
    MOD,
    OTHER_MOD,
    UPDATE_MESSAGE,
    Dispatched,
    Sessions,
    buttons,
)
from tests.discord.test_history_commands import (
    GUILD_B,
    ReviewHarness,
    UploadingDiscord,
    add_rows,
    answer,
    ids_on,
)
from tests.unit.services.fakes import Clock

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def running(
    sessions: Sessions, *, discord_api: UploadingDiscord | None = None, clock: Clock | None = None
) -> AsyncIterator[ReviewHarness]:
    """A review bot for the length of the block; its invariants are checked at the end."""
    h = await ReviewHarness.start_review(sessions, discord_api=discord_api, clock=clock)
    try:
        yield h
        await h.settle()
        h.check_invariants()
    finally:
        await h.close()


@pytest.fixture
async def review(sqlite_session_factory: Sessions) -> AsyncIterator[ReviewHarness]:
    async with running(sqlite_session_factory) as h:
        yield h


def button_id(message: JSON, label: str) -> str:
    for name, custom_id in buttons(message["components"]):
        if name == label:
            return custom_id
    raise KeyError(label)


def enabled(message: JSON) -> dict[str, bool]:
    return {
        c["label"]: not c.get("disabled")
        for row in message["components"]
        for c in row["components"]
    }


def page_number(message: JSON) -> str:
    return str(message["embeds"][0]["footer"]["text"].split(" · ")[0])


def refusal(run: Dispatched) -> str | None:
    """The ephemeral text of a click answered with a new message (not a page turn)."""
    assert run.callback.callback_type == CHANNEL_MESSAGE, "the click turned a page"
    assert run.callback.flags & EPHEMERAL
    return run.callback.content


async def click(h: ReviewHarness, message: JSON, label: str, **kwargs: Any) -> JSON:
    """Click `label` on `message` as MOD; the message as it is afterwards."""
    run = await h.click_as(MOD, button_id(message, label), message=message, **kwargs)
    assert run.callback.callback_type == UPDATE_MESSAGE, [str(r) for r in run.requests]
    return h.discord.message(int(message["id"]))


def forged(fields: JSON, custom_id: str, h: ReviewHarness) -> JSON:
    """A message carrying a button with `custom_id` (as a doctored client could send)."""
    component = {"type": 2, "style": 2, "label": "Next", "custom_id": custom_id}
    return h.discord.add_message(
        {**fields, "components": [{"type": 1, "components": [component]}]}, flags=EPHEMERAL
    )


# ---- a restart -----------------------------------------------------------------------------------


async def test_prev_and_next_work_after_a_restart(database_url: str) -> None:
    """Search → Next in one process; Prev / Next on the same message in the next one."""
    async with (
        migrated_engine(database_url) as first_engine,
        running(create_session_factory(first_engine)) as first,
    ):
        ids = await add_rows(first, 25)
        page1 = answer(await first.run(MOD, "rollback-log search"))
        page2 = await click(first, page1, "Next")
        assert ids_on(page2) == ids[14:4:-1]
        api = first.discord
        assert isinstance(api, UploadingDiscord)

    async with (
        migrated_engine(database_url) as second_engine,
        running(create_session_factory(second_engine), discord_api=api) as second,
    ):
        back = await click(second, page2, "Prev")
        assert ids_on(back) == ids[:14:-1]
        assert page_number(back) == "Page 1"
        assert back["embeds"][0]["title"] == "Rollback log: 25 matching"
        assert enabled(back) == {"Prev": False, "Next": True}
        again = await click(second, back, "Next")
        assert ids_on(again) == ids[14:4:-1]
        last = await click(second, again, "Next")
        assert ids_on(last) == ids[4::-1]
        assert (page_number(last), enabled(last)) == ("Page 3", {"Prev": True, "Next": False})


# ---- counted once ------------------------------------------------------------------------------


@contextmanager
def counting_counts(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL of every COUNT query `engine` runs inside the block."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "count(" in statement.lower():
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def test_the_total_is_counted_once_per_search(
    sqlite_engine: AsyncEngine, review: ReviewHarness
) -> None:
    ids = await add_rows(review, 35)
    with counting_counts(sqlite_engine) as counts:
        page1 = answer(await review.run(MOD, "rollback-log search"))
        assert len(counts) == 1
        page2 = await click(review, page1, "Next")
        page3 = await click(review, page2, "Next")
        back = await click(review, page3, "Prev")
        top = await click(review, back, "Prev")
    assert len(counts) == 1, counts
    assert ids_on(top) == ids[:24:-1]
    titles = {m["embeds"][0]["title"] for m in (page1, page2, page3, back, top)}
    assert titles == {"Rollback log: 35 matching"}
    async with review.sessions() as session:
        saved = (await session.execute(sa.select(LogSearch))).scalars().one()
    assert (saved.searcher_id, saved.total, saved.total_capped) == (MOD.user_id, 35, False)


# ---- refusals ----------------------------------------------------------------------------------


async def test_a_forged_custom_id_naming_another_members_search_is_refused(
    review: ReviewHarness,
) -> None:
    await add_rows(review, 15)
    theirs = answer(await review.run(OTHER_MOD, "rollback-log search"))
    their_next = button_id(theirs, "Next")
    # MOD's own message, doctored to carry OTHER_MOD's button.
    message = forged({"embeds": theirs["embeds"]}, their_next, review)
    run = await review.click_as(MOD, their_next, message=message)
    assert refusal(run) == NOT_YOURS_TEXT
    assert review.discord.message(int(message["id"]))["embeds"] == theirs["embeds"]


async def test_a_forged_custom_id_naming_no_search_is_refused(review: ReviewHarness) -> None:
    ids = await add_rows(review, 3)
    answer(await review.run(MOD, "rollback-log search"))
    row = await review.row(ids[0])
    for click_ in (
        PageClick(999, "older", Cursor.of(row), 2),  # no such search
        PageClick(2**31 + 5, "older", Cursor.of(row), 2),  # past any id
        PageClick(1, "older", Cursor(row.created_at, 9_999_999_999), 2),  # past any row id
    ):
        message = forged({}, click_.custom_id, review)
        assert refusal(await review.click_as(MOD, click_.custom_id, message=message)) == (
            SEARCH_GONE_TEXT
        )


async def test_a_click_from_another_server_is_refused(review: ReviewHarness) -> None:
    await add_rows(review, 15)
    page1 = answer(await review.run(MOD, "rollback-log search"))
    run = await review.click_as(MOD, button_id(page1, "Next"), message=page1, guild_id=GUILD_B)
    assert refusal(run) == OTHER_GUILD_TEXT


async def test_a_searcher_who_lost_the_role_after_a_restart_is_refused(
    sqlite_session_factory: Sessions,
) -> None:
    async with running(sqlite_session_factory) as first:
        await add_rows(first, 15)
        page1 = answer(await first.run(MOD, "rollback-log search"))
        api = first.discord
        assert isinstance(api, UploadingDiscord)
    async with running(sqlite_session_factory, discord_api=api) as second:
        next_id = button_id(page1, "Next")
        run = await second.click_as(MOD.without_roles(), next_id, message=page1)
        assert refusal(run) == NOT_ALLOWED_TEXT


async def test_a_search_older_than_a_week_is_gone(sqlite_session_factory: Sessions) -> None:
    clock = Clock()
    async with running(sqlite_session_factory, clock=clock) as h:
        await add_rows(h, 15)
        old = answer(await h.run(MOD, "rollback-log search"))
        clock.advance(KEEP_SEARCHES.total_seconds() + 1)
        answer(await h.run(MOD, "rollback-log search"))  # saving a search prunes old ones
        run = await h.click_as(MOD, button_id(old, "Next"), message=old)
        assert refusal(run) == SEARCH_GONE_TEXT
        async with h.sessions() as session:
            kept = (await session.execute(sa.select(col(LogSearch.id)))).scalars().all()
        assert len(kept) == 1


# ---- rows that stop matching -------------------------------------------------------------------


async def test_next_to_rows_that_stopped_matching_shows_no_more_and_prev_returns(
    review: ReviewHarness,
) -> None:
    ids = await add_rows(review, 11, status=RollbackStatus.PENDING)
    page1 = answer(await review.run(MOD, "rollback-log search", status="pending"))
    assert ids_on(page1) == ids[:0:-1]
    async with review.sessions.begin() as session:  # the oldest expires while MOD reads
        await session.execute(
            sa.update(RollbackRequest)
            .where(col(RollbackRequest.id) == ids[0])
            .values(status=RollbackStatus.EXPIRED)
        )
    empty = await click(review, page1, "Next")
    assert ids_on(empty) == []
    assert "No more requests." in empty["embeds"][0]["description"]
    assert (page_number(empty), enabled(empty)) == ("Page 2", {"Prev": True, "Next": False})
    back = await click(review, empty, "Prev")
    assert ids_on(back) == ids[:0:-1]
    # Next assumes older rows below a page reached by Prev; here it finds none again.
    assert (page_number(back), enabled(back)) == ("Page 1", {"Prev": False, "Next": True})
