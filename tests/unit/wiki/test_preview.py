"""preview(): what rollback would do, read from the page history."""

from __future__ import annotations

import httpx
import pytest

from bot.wiki.client import WikiClient
from bot.wiki.errors import InvalidTitleError
from bot.wiki.results import PreviewProblem
from tests.unit.wiki.payloads import MakeClient, Wiki, history, missing_page, query, rev


async def test_consecutive_edits_by_user(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(105, "Vandal", "2024-05-01T10:05:00Z", size=40),
                rev(104, "Vandal", "2024-05-01T10:04:00Z", size=70),
                rev(103, "Vandal", "2024-05-01T10:03:00Z", size=90),
                rev(102, "Alice", "2024-05-01T09:00:00Z", size=120, comment="copyedit"),
                rev(101, "Bob", "2024-04-01T09:00:00Z"),
            ],
            title="Sandbox page",
            normalized_from="sandbox_page",
        )
    ]
    preview = await client.preview("sandbox_page", "vandal")
    assert preview.problem is None
    assert preview.title == "Sandbox page"  # the wiki's normalised title
    assert preview.pageid == 77
    assert preview.target_user == "Vandal"
    assert preview.edits_to_revert == 3
    assert preview.edits_capped is False
    assert preview.top is not None
    assert preview.top.revid == 105
    assert preview.restored is not None
    assert preview.restored.revid == 102
    assert preview.restored.user == "Alice"
    assert preview.restored.comment == "copyedit"
    assert preview.size_change == 80
    sent = query(wiki.history.calls.last.request)
    assert sent["titles"] == "sandbox page"
    assert sent["prop"] == "revisions"
    assert sent["rvprop"] == "ids|timestamp|user|size|comment|tags"
    assert "rvdir" not in sent or sent["rvdir"] == "older"  # newest first
    assert sent["formatversion"] == "2"
    # Reads go through the bot's session, logged in first.
    assert wiki.login.call_count == 1
    assert "wikiSession=abc123" in wiki.history.calls.last.request.headers["Cookie"]


async def test_ip_editor_matched_in_canonical_form(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(12, "2001:DB8:0:0:0:0:0:1", "2024-05-01T10:05:00Z"),
                rev(11, "Alice", "2024-05-01T09:00:00Z"),
            ]
        )
    ]
    preview = await client.preview("Sandbox", "2001:db8::1")
    assert preview.problem is None
    assert preview.edits_to_revert == 1


async def test_not_last_editor(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(105, "Alice", "2024-05-01T10:05:00Z"),
                rev(104, "Vandal", "2024-05-01T10:04:00Z"),
            ]
        )
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.problem is PreviewProblem.NOT_LAST_EDITOR
    assert preview.edits_to_revert == 0
    assert preview.top is not None
    assert preview.top.user == "Alice"
    assert preview.restored is None


async def test_a_hidden_top_user_may_be_the_target(client: WikiClient, wiki: Wiki) -> None:
    """A vandal's revision-deleted name: MediaWiki compares the real author, so the preview
    offers the rollback and says the name is hidden (the wiki refuses if it is not theirs)."""
    wiki.history.side_effect = [
        history(
            [
                rev(105, None, "2024-05-01T10:05:00Z"),
                rev(104, "Vandal", "2024-05-01T10:04:00Z"),
                rev(103, "Alice", "2024-05-01T10:03:00Z", size=300),
            ]
        )
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.problem is None
    assert (preview.edits_to_revert, preview.hidden_edits) == (2, 1)
    assert preview.restored is not None
    assert (preview.restored.revid, preview.restored.user) == (103, "Alice")


async def test_a_visible_other_user_on_top_is_not_the_target(
    client: WikiClient, wiki: Wiki
) -> None:
    wiki.history.side_effect = [
        history([rev(105, "Alice", "2024-05-01T10:05:00Z"), rev(104, None, "2024-05-01T10:04:00Z")])
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.problem is PreviewProblem.NOT_LAST_EDITOR
    assert preview.hidden_edits == 0


async def test_only_author(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(3, "Vandal", "2024-05-01T10:05:00Z"),
                rev(2, "Vandal", "2024-05-01T10:04:00Z"),
                rev(1, "Vandal", "2024-05-01T10:03:00Z", parentid=0),
            ]
        )
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.problem is PreviewProblem.ONLY_AUTHOR
    assert preview.edits_to_revert == 3
    assert preview.restored is None


async def test_missing_page(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [missing_page("No such page")]
    preview = await client.preview("no_such_page", "Vandal")
    assert preview.problem is PreviewProblem.MISSING_PAGE
    assert preview.title == "No such page"
    assert preview.pageid is None
    assert preview.top is None
    assert wiki.history.call_count == 1


async def test_invalid_title(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        httpx.Response(
            200,
            json={
                "batchcomplete": True,
                "query": {
                    "pages": [
                        {
                            "title": "Foo<bar>",
                            "invalidreason": (
                                'The requested page title contains invalid characters: "<".'
                            ),
                            "invalid": True,
                        }
                    ]
                },
            },
        )
    ]
    with pytest.raises(InvalidTitleError) as caught:
        await client.preview("Foo<bar>", "Vandal")
    assert caught.value.code == "invalidtitle"
    assert "invalid characters" in caught.value.info


async def test_title_with_pipe_is_sent_as_one_value(client: WikiClient, wiki: Wiki) -> None:
    """`titles` is multi-value: a bare "Sandbox|Main Page" would read two pages (MediaWiki 1.39
    answers them in either order) and the preview would describe one of them. The U+001F
    prefix keeps it one title, which the wiki reports as invalid."""
    wiki.history.side_effect = [
        httpx.Response(
            200,
            json={
                "batchcomplete": True,
                "query": {
                    "pages": [
                        {
                            "title": "Sandbox|Main Page",
                            "invalidreason": "The requested page title contains invalid "
                            'characters: "|".',
                            "invalid": True,
                        }
                    ]
                },
            },
        )
    ]
    with pytest.raises(InvalidTitleError) as caught:
        await client.preview("Sandbox|Main Page", "Vandal")
    assert "invalid characters" in caught.value.info
    assert query(wiki.history.calls.last.request)["titles"] == "\x1fSandbox|Main Page"


async def test_answer_with_several_pages_is_refused(client: WikiClient, wiki: Wiki) -> None:
    """Whatever made the wiki answer for two pages, no preview is built from either."""
    wiki.history.side_effect = [
        httpx.Response(
            200,
            json={
                "batchcomplete": True,
                "query": {
                    "pages": [
                        {"ns": 0, "title": "B", "missing": True},
                        {"ns": 0, "title": "A", "missing": True},
                    ]
                },
            },
        )
    ]
    with pytest.raises(InvalidTitleError):
        await client.preview("A", "Vandal")


async def test_interwiki_title_is_invalid(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        httpx.Response(
            200,
            json={
                "batchcomplete": True,
                "query": {"interwiki": [{"title": "wikipedia:Foo", "iw": "wikipedia"}]},
            },
        )
    ]
    with pytest.raises(InvalidTitleError):
        await client.preview("wikipedia:Foo", "Vandal")


async def test_paging_with_rvcontinue(client: WikiClient, wiki: Wiki) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(105, "Vandal", "2024-05-01T10:05:00Z"),
                rev(104, "Vandal", "2024-05-01T10:04:00Z"),
            ],
            rvcontinue="20240501100300|103",
        ),
        history(
            [rev(103, "Vandal", "2024-05-01T10:03:00Z"), rev(102, "Alice", "2024-05-01T10:02:00Z")],
            rvcontinue="20240501100100|101",
        ),
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.edits_to_revert == 3
    assert preview.restored is not None
    assert preview.restored.revid == 102
    assert wiki.history.call_count == 2  # stopped once Alice's revision was seen
    first, second = (query(call.request) for call in wiki.history.calls)
    assert "rvcontinue" not in first
    assert second["rvcontinue"] == "20240501100300|103"
    assert second["continue"] == "||"


async def test_capped(make_client: MakeClient, wiki: Wiki) -> None:
    client = make_client(max_preview_edits=3)  # a small cap keeps the payload readable
    wiki.history.side_effect = [
        history(
            [rev(n, "Vandal", f"2024-05-01T10:0{n}:00Z") for n in range(9, 5, -1)],
            rvcontinue="20240501100500|5",
        ),
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert preview.edits_capped is True
    assert preview.edits_to_revert == 3
    assert preview.problem is None  # the wiki may still be able to roll back
    assert preview.restored is None
    assert query(wiki.history.calls.last.request)["rvlimit"] == "4"
    assert wiki.history.call_count == 1


async def test_exactly_cap_then_other_user_is_not_capped(
    make_client: MakeClient, wiki: Wiki
) -> None:
    client = make_client(max_preview_edits=2)
    wiki.history.side_effect = [
        history(
            [
                rev(9, "Vandal", "2024-05-01T10:09:00Z"),
                rev(8, "Vandal", "2024-05-01T10:08:00Z"),
                rev(7, "Alice", "2024-05-01T10:07:00Z"),
            ]
        )
    ]
    preview = await client.preview("Sandbox", "Vandal")
    assert (preview.edits_to_revert, preview.edits_capped) == (2, False)
    assert preview.restored is not None
    assert preview.restored.revid == 7
