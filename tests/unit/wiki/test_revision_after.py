"""revision_after(): the one history read settlement needs — the edit saved after a revision."""

from __future__ import annotations

import httpx
import pytest

from bot.wiki.client import WikiClient
from bot.wiki.errors import InvalidTitleError
from tests.unit.wiki.payloads import Wiki, history, missing_page, query, rev


async def test_reads_from_the_revision_forward_by_page_id(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1003, "Vandal", "2024-05-01T10:05:00Z"),
                rev(
                    1004,
                    "RollBot",
                    "2024-05-01T10:06:00Z",
                    parentid=1003,
                    tags=["mw-rollback"],
                    comment="rv",
                ),
            ]
        )
    ]
    after = await client.revision_after("Sandbox", 1003, pageid=77)

    assert after.revision is not None
    assert (after.revision.revid, after.revision.parentid) == (1004, 1003)
    assert after.revision.tags == ("mw-rollback",)
    assert (after.title, after.pageid, after.after_revid) == ("Sandbox", 77, 1003)
    sent = query(wiki.history.calls.last.request)
    assert (sent["rvstartid"], sent["rvdir"], sent["rvlimit"]) == ("1003", "newer", "2")
    assert sent["pageids"] == "77"
    assert "titles" not in sent
    assert "tags" in sent["rvprop"]


async def test_the_revision_still_on_top_has_no_successor(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [history([rev(1003, "Vandal", "2024-05-01T10:05:00Z")])]
    after = await client.revision_after("Sandbox", 1003)
    assert after.revision is None
    sent = query(wiki.history.calls.last.request)
    assert sent["titles"] == "Sandbox"


async def test_someone_elses_edit_is_reported_as_it_is(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(1003, "Vandal", "2024-05-01T10:05:00Z"),
                rev(1004, "Alice", "2024-05-01T10:07:00Z"),
            ]
        )
    ]
    after = await client.revision_after("Sandbox", 1003)
    assert after.revision is not None
    assert (after.revision.user, after.revision.tags) == ("Alice", ())


async def test_a_deleted_page_has_no_successor(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [missing_page("Sandbox")]
    after = await client.revision_after("Sandbox", 1003)
    assert (after.revision, after.pageid) == (None, None)


async def test_a_title_with_a_pipe_stays_one_title(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        httpx.Response(
            200,
            json={"query": {"pages": [{"title": "A|B", "invalid": True, "invalidreason": "bad"}]}},
        )
    ]
    with pytest.raises(InvalidTitleError):
        await client.revision_after("A|B", 5)
    assert query(wiki.history.calls.last.request)["titles"] == "\x1fA|B"
