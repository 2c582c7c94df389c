"""Turning `/rollback-log` options into filters: dates, relative times, names, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.db.models import RollbackStatus
from bot.services.history import FilterError, build_filters, parse_when

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GUILD = 1


@pytest.mark.parametrize(
    ("text", "bound", "expected"),
    [
        ("7d", "since", NOW - timedelta(days=7)),
        ("24h", "since", NOW - timedelta(hours=24)),
        ("30m", "until", NOW - timedelta(minutes=30)),
        ("2w", "since", NOW - timedelta(weeks=2)),
        (" 2W ", "since", NOW - timedelta(weeks=2)),
        ("2026-11-01", "since", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01", "until", datetime(2026, 11, 2, tzinfo=UTC)),  # the whole day
        ("2026-11-01T14:30", "since", datetime(2026, 11, 1, 14, 30, tzinfo=UTC)),
        ("2026-11-01 14:30:05", "until", datetime(2026, 11, 1, 14, 30, 5, tzinfo=UTC)),
        ("2026-11-01T14:30Z", "since", datetime(2026, 11, 1, 14, 30, tzinfo=UTC)),
        ("2026-11-01T14:30+02:00", "since", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, bound: str, expected: datetime) -> None:
    result = parse_when(text, now=NOW, bound=bound)  # type: ignore[arg-type]
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["yesterday", "7", "7y", "-7d", "2026-13-01", "2026-11-31", "9999999w", "", "1d2h"]
)
def test_parse_when_rejects_with_help(text: str) -> None:
    with pytest.raises(FilterError, match=r"`since`: .*Use a date \(`2026-11-01`\)"):
        parse_when(text, now=NOW, bound="since")


def test_build_filters_normalises_like_mediawiki() -> None:
    filters = build_filters(
        guild_id=GUILD,
        now=NOW,
        user=" some_vandal ",
        page="main_page",
        moderator_id=42,
        status="failed",
        since="7d",
        until="2026-11-23",
    )
    assert filters.target_user == "Some vandal"
    assert filters.page_title == "Main page"
    assert filters.requester_id == 42
    assert filters.status is RollbackStatus.FAILED
    assert filters.since == NOW - timedelta(days=7)
    assert filters.until == datetime(2026, 11, 24, tzinfo=UTC)


def test_build_filters_ips_are_sanitised() -> None:
    assert build_filters(guild_id=GUILD, now=NOW, user="010.0.0.1").target_user == "10.0.0.1"


def test_empty_options_are_no_filter() -> None:
    filters = build_filters(guild_id=GUILD, now=NOW, user="  ", page="")
    assert (filters.target_user, filters.page_title, filters.status) == (None, None, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"user": "a|b"}, "`user`: User names cannot contain"),
        ({"user": "1.2.3.0/24"}, "`user`: "),
        ({"page": "   _ "}, "`page`: "),
        ({"status": "done"}, "`status`: must be one of pending, denied"),
        ({"since": "7d", "until": "8d"}, "`since` must be before `until`"),
        ({"until": "soon"}, "`until`: I can't read 'soon'"),
    ],
)
def test_bad_options_are_explained(options: dict[str, str], message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace("|", r"\|")):
        build_filters(guild_id=GUILD, now=NOW, **options)  # type: ignore[arg-type]


def test_names_longer_after_normalisation_are_cut_to_their_columns() -> None:
    """As the audit row cuts them, so the saved search fits and finds those rows."""
    filters = build_filters(guild_id=GUILD, now=NOW, user="\u0958" * 255, page="\u0958" * 300)
    assert filters.target_user is not None
    assert len(filters.target_user) == 255
    assert filters.page_title is not None
    assert len(filters.page_title) == 512
