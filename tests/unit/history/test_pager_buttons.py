"""What a Prev / Next button carries: its custom_id fits Discord, matches the DynamicItem's
template and gives back the same click; which buttons a page enables; which columns export."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from bot.db.history import EXPORT_COLUMNS, NOT_EXPORTED, Cursor, SearchPage
from bot.db.log_search import MAX_ID
from bot.db.models import RollbackRequest, RollbackStatus
from bot.ui.history import PAGE_CUSTOM_ID, PageClick, pager_buttons

CUSTOM_ID_LIMIT = 100  # Discord's limit for a component's custom_id
T = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)


def _round_trip(click: PageClick) -> PageClick:
    match = re.fullmatch(PAGE_CUSTOM_ID, click.custom_id)
    assert match is not None, click.custom_id
    return PageClick.from_match(match)


@given(
    search_id=st.integers(1, MAX_ID),
    row_id=st.integers(0, MAX_ID),
    # Hypothesis takes naive bounds and adds the zone itself.
    created_at=st.datetimes(
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001
        max_value=datetime(2250, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    page_number=st.integers(1, 999_999_999),
    newer=st.booleans(),
)
def test_every_click_round_trips_through_a_custom_id_within_discords_limit(
    search_id: int, row_id: int, created_at: datetime, page_number: int, newer: bool
) -> None:
    click = PageClick(
        search_id, "newer" if newer else "older", Cursor(created_at, row_id), page_number
    )
    assert len(click.custom_id) <= CUSTOM_ID_LIMIT
    assert _round_trip(click) == click


def test_a_zone_other_than_utc_gives_the_same_moment() -> None:
    paris = T.astimezone(timezone(timedelta(hours=2)))
    click = PageClick(1, "older", Cursor(paris, 5), 2)
    assert _round_trip(click).cursor == Cursor(T, 5)


def _rows(*ids: int) -> list[RollbackRequest]:
    return [
        RollbackRequest(
            id=i,
            created_at=T - timedelta(minutes=i),
            guild_id=1,
            requester_id=2,
            requester_name="Mod",
            wiki_api_url="https://wiki.example/w/api.php",
            page_title="P",
            target_user="U",
            status=RollbackStatus.SUCCEEDED,
        )
        for i in ids
    ]


def test_a_middle_page_points_both_ways_from_its_edges() -> None:
    rows = _rows(11, 12, 13)
    prev, following = pager_buttons(7, SearchPage(rows, has_newer=True, has_older=True), 2)
    assert prev.enabled
    assert following.enabled
    assert (prev.click.label, prev.click.direction) == ("Prev", "newer")
    assert (prev.click.cursor, prev.click.page_number) == (Cursor.of(rows[0]), 1)
    assert (following.click.label, following.click.direction) == ("Next", "older")
    assert (following.click.cursor, following.click.page_number) == (Cursor.of(rows[-1]), 3)


def test_an_empty_first_page_disables_both_with_distinct_ids() -> None:
    prev, following = pager_buttons(7, SearchPage([], has_newer=False, has_older=False), 1)
    assert not prev.enabled
    assert not following.enabled
    assert prev.click.custom_id != following.click.custom_id


def test_an_empty_page_after_next_leads_back_to_the_row_it_came_from() -> None:
    [edge] = _rows(20)
    page = SearchPage([], has_newer=True, has_older=False)
    prev, following = pager_buttons(7, page, 3, came_from=Cursor.of(edge))
    assert prev.enabled
    assert not following.enabled
    # "newer than (t, 19)" includes row 20 itself.
    assert prev.click.cursor == Cursor(edge.created_at, 19)
    assert prev.click.page_number == 2


def test_exported_columns_and_left_out_columns_cover_the_table() -> None:
    """A column added to the audit table must be placed: exported (appended) or left out."""
    table: sa.Table = RollbackRequest.__table__  # type: ignore[attr-defined]
    columns = {column.name for column in table.columns}
    assert set(EXPORT_COLUMNS).isdisjoint(NOT_EXPORTED)
    assert set(EXPORT_COLUMNS) | NOT_EXPORTED == columns
    assert len(set(EXPORT_COLUMNS)) == len(EXPORT_COLUMNS)
    assert EXPORT_COLUMNS[-2:] == ("result_summary", "wiki")  # appended in migration order
