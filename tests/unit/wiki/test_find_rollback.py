"""find_rollback(): recognise this bot's rollback of a user's edits in the page history."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.wiki.client import WikiClient
from tests.unit.wiki.payloads import Wiki, history, missing_page, query, rev

SINCE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


async def test_finds_the_bots_rollback(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1006, "Carol", "2024-05-01T11:00:00Z"),
                rev(
                    1004,
                    "RollBot",
                    "2024-05-01T10:06:00Z",
                    parentid=1003,
                    tags=["mw-rollback"],
                    comment="rv",
                ),
                rev(1003, "Vandal", "2024-05-01T10:05:00Z"),
                rev(1002, "Vandal", "2024-05-01T09:55:00Z"),
                rev(1001, "Alice", "2024-04-01T09:00:00Z"),
            ]
        )
    ]
    found = await client.find_rollback("Sandbox", "vandal", since=SINCE)
    assert found is not None
    assert (found.revid, found.old_revid, found.last_revid) == (1004, 1003, 1001)
    assert (found.title, found.pageid, found.summary) == ("Sandbox", 77, "rv")
    assert "tags" in query(wiki.history.calls.last.request)["rvprop"]


async def test_follows_rvcontinue_to_the_restored_revision(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1004, "RollBot", "2024-05-01T10:06:00Z", tags=["mw-rollback"]),
                rev(1003, "Vandal", "2024-05-01T10:05:00Z"),
            ],
            rvcontinue="20240501095500|1002",
        ),
        history(
            [
                rev(1002, "Vandal", "2024-05-01T09:55:00Z"),
                rev(1001, "Alice", "2024-04-01T09:00:00Z"),
            ]
        ),
    ]
    found = await client.find_rollback("Sandbox", "Vandal", since=SINCE)
    assert found is not None
    assert found.last_revid == 1001
    assert query(wiki.history.calls.last.request)["rvcontinue"] == "20240501095500|1002"


async def test_ignores_untagged_edits_and_other_users_rollbacks(
    client: WikiClient, wiki: Wiki
) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1005, "RollBot", "2024-05-01T10:07:00Z", comment="manual edit"),  # no tag
                rev(1004, "Alice", "2024-05-01T10:06:00Z", tags=["mw-rollback"]),  # not us
                rev(1003, "Vandal", "2024-05-01T10:05:00Z"),
                rev(1001, "Alice", "2024-04-01T09:00:00Z"),
            ]
        )
    ]
    assert await client.find_rollback("Sandbox", "Vandal", since=SINCE) is None


async def test_bot_rollback_of_someone_else_is_skipped(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1008, "RollBot", "2024-05-01T10:30:00Z", tags=["mw-rollback"]),
                rev(1007, "Spammer", "2024-05-01T10:20:00Z"),  # that rollback reverted Spammer
                rev(1006, "RollBot", "2024-05-01T10:10:00Z", tags=["mw-rollback"]),
                rev(1005, "Vandal", "2024-05-01T10:05:00Z"),
                rev(1004, "Bob", "2024-04-01T09:00:00Z"),
            ]
        )
    ]
    found = await client.find_rollback("Sandbox", "Vandal", since=SINCE)
    assert found is not None
    assert (found.revid, found.old_revid, found.last_revid) == (1006, 1005, 1004)


async def test_rollback_older_than_since_is_not_reported(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1004, "RollBot", "2024-05-01T09:59:59Z", tags=["mw-rollback"]),
                rev(1003, "Vandal", "2024-05-01T09:50:00Z"),
                rev(1001, "Alice", "2024-04-01T09:00:00Z"),
            ]
        )
    ]
    assert await client.find_rollback("Sandbox", "Vandal", since=SINCE) is None


async def test_naive_since_is_taken_as_utc(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1004, "RollBot", "2024-05-01T10:06:00Z", tags=["mw-rollback"]),
                rev(1003, "Vandal", "2024-05-01T10:05:00Z"),
                rev(1001, "Alice", "2024-04-01T09:00:00Z"),
            ]
        )
    ]
    found = await client.find_rollback("Sandbox", "Vandal", since=datetime(2024, 5, 1, 10, 0))  # noqa: DTZ001
    assert found is not None
    assert found.revid == 1004


async def test_missing_page_has_no_rollback(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [missing_page("Sandbox")]
    assert await client.find_rollback("Sandbox", "Vandal", since=SINCE) is None
