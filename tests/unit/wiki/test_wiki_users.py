"""Users as the wiki knows them: "#id", interwiki names, temporary accounts, IPv6 /64s."""

from __future__ import annotations

import pytest
import respx

from bot.wiki.client import WikiClient
from bot.wiki.errors import WikiAPIError
from bot.wiki.history import same_range_ips
from bot.wiki.names import ipv6_slash64, normalize_username, user_id_reference
from bot.wiki.results import SiteInfo
from bot.wiki.siteinfo import parse_siteinfo
from bot.wiki.tempaccounts import is_temp_account, pattern_matches, temp_account_patterns
from tests.unit.services.fakes import revision
from tests.unit.wiki.payloads import API, MakeClient, Wiki, api_error, history, query, rev

# ---- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("#12345", 12345), (" #7 ", 7), ("#0", None), ("#-1", None), ("#12a", None),
     ("# 12", None), ("12345", None), ("Foo#1", None), ("#" + "9" * 11, None)],
)  # fmt: skip
def test_user_id_reference(raw: str, expected: int | None) -> None:
    assert user_id_reference(raw) == expected


@pytest.mark.parametrize(
    "name",
    ["~2025-12345-67", "~2025-1", "*Unregistered 12", "*Unregistered 1"],
)
def test_temporary_account_names_are_never_mangled(name: str) -> None:
    assert normalize_username(name) == name
    assert normalize_username(name.replace(" ", "_")) == name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("imported>Old_user", "imported>Old user"),
        ("en>some one", "en>Some one"),
        ("imported>~2025-1-2", "imported>~2025-1-2"),
    ],
)
def test_interwiki_names_keep_the_prefix_and_normalise_the_local_part(
    raw: str, expected: str
) -> None:
    assert normalize_username(raw) == expected


@pytest.mark.parametrize(
    ("name", "network"),
    [
        ("2001:DB8:0:0:1:0:0:1", "2001:DB8::/64"),
        ("2001:db8::ffff", "2001:DB8::/64"),
        ("2001:DB8:0:1:0:0:0:1", "2001:DB8:0:1::/64"),
        ("192.0.2.5", None),
        ("Vandal", None),
        ("foo:bar", None),
    ],
)
def test_ipv6_slash64(name: str, network: str | None) -> None:
    assert ipv6_slash64(name) == network


def test_same_range_ips_are_other_v6_editors_of_the_64_newest_first_once() -> None:
    target = "2001:DB8:0:0:0:0:0:1"
    revisions = [
        revision(9, target),
        revision(8, "2001:DB8:0:0:0:0:0:2"),
        revision(7, "2001:DB8:0:1:0:0:0:2"),  # another /64
        revision(6, None),  # hidden
        revision(5, "2001:DB8:0:0:FFFF:0:0:3"),
        revision(4, "2001:DB8:0:0:0:0:0:2"),
        revision(3, "Editor"),
    ]
    assert same_range_ips(target, revisions) == ("2001:DB8:0:0:0:0:0:2", "2001:DB8:0:0:FFFF:0:0:3")
    assert same_range_ips("Editor", revisions) == ()
    assert same_range_ips("192.0.2.1", revisions) == ()


# ---- temporary account patterns -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("~$1", "~2025-12345-67", True),
        ("~$1", "2025~", False),
        ("*$1", "*Unregistered 12", True),
        ("*$1", "Unregistered 12", False),
        ("$1 (temp)", "123 (temp)", True),
        ("$1 (temp)", " (temp)", True),  # MediaWiki's isMatch: prefix + suffix fit
        ("~$1~", "~", False),  # too short for both
        ("$1", "Anyone", False),  # an empty pattern would make everyone temporary
        ("~", "~1", False),  # no $1: not a pattern
    ],
)
def test_pattern_matches_like_mediawiki(pattern: str, name: str, matches: bool) -> None:
    assert pattern_matches(pattern, name) is matches


def info(
    patterns: tuple[str, ...] | None = None, version: tuple[int, int] | None = None
) -> SiteInfo:
    return SiteInfo("W", "", "", "", temp_account_patterns=patterns, version=version)


@pytest.mark.parametrize(
    ("site", "configured", "expected"),
    [
        (info(("~$1", "*$1")), "x$1", ("~$1", "*$1")),  # the wiki's own answer wins
        (info(()), "x$1", ()),  # the wiki says it has none
        (info(None, (1, 39)), "tmp-$1", ("tmp-$1",)),  # too old to say: the operator's
        (info(None, (1, 39)), None, ("*$1",)),  # else MediaWiki's default for the version
        (info(None, (1, 41)), None, ("*$1",)),
        (info(None, (1, 42)), None, ("~$1",)),
        (info(None, (1, 43)), None, ("~$1",)),
        (info(None, None), None, ("~$1", "*$1")),  # version unknown: both defaults
        (None, None, ("~$1", "*$1")),  # siteinfo never read
        (None, "tmp-$1", ("tmp-$1",)),
    ],
)
def test_which_patterns_apply(
    site: SiteInfo | None, configured: str | None, expected: tuple[str, ...]
) -> None:
    assert temp_account_patterns(site, configured) == expected


def siteinfo_answer(temp: object = None, generator: str = "MediaWiki 1.43.0") -> dict[str, object]:
    query: dict[str, object] = {"general": {"sitename": "W", "generator": generator}}
    if temp is not None:
        query["autocreatetempuser"] = temp
    return {"batchcomplete": True, "query": query}


@pytest.mark.parametrize(
    ("temp", "expected"),
    [
        ({"enabled": True, "matchPatterns": ["~$1", "~2$1"]}, ("~$1", "~2$1")),
        ({"enabled": False, "matchPatterns": ["~$1"]}, ("~$1",)),  # known, no longer enabled
        ({"enabled": True, "matchPattern": "*$1"}, ("*$1",)),
        ({"enabled": False}, ()),
        ({"enabled": True}, None),  # enabled but unnamed: the version's default
        (None, None),  # a wiki before 1.42 does not answer
    ],
)
def test_siteinfo_reports_the_patterns(temp: object, expected: tuple[str, ...] | None) -> None:
    parsed = parse_siteinfo(siteinfo_answer(temp), API)
    assert parsed.temp_account_patterns == expected
    assert parsed.version == (1, 43)


def test_siteinfo_version_from_the_generator() -> None:
    assert parse_siteinfo(siteinfo_answer(generator="MediaWiki 1.39.10"), API).version == (1, 39)
    assert parse_siteinfo(siteinfo_answer(generator="MediaWiki 1.42.0-wmf.5"), API).version == (
        1,
        42,
    )
    assert parse_siteinfo(siteinfo_answer(generator=""), API).version is None


async def test_the_client_labels_temp_accounts_from_siteinfo_or_its_setting(
    make_client: MakeClient, wiki_mock: respx.MockRouter, wiki: Wiki
) -> None:
    configured = make_client(temp_account_pattern="tmp-$1")
    assert configured.is_temp_account("tmp-12")
    assert not configured.is_temp_account("~2025-1")
    unread = make_client()
    assert unread.is_temp_account("~2025-1")
    assert unread.is_temp_account("*Unregistered 1")

    wiki_mock.get(API, params__contains={"meta": "siteinfo"}).respond(
        json=siteinfo_answer({"enabled": True, "matchPatterns": ["~$1"]})
    )
    await configured.siteinfo()
    # The wiki's own answer outranks the operator's setting.
    assert configured.is_temp_account("~2025-1")
    assert not configured.is_temp_account("tmp-12")


async def test_preview_marks_a_temp_account_and_notes_the_ipv6_64(
    client: WikiClient, wiki: Wiki
) -> None:
    wiki.history.side_effect = [
        history(
            [
                rev(105, "2001:DB8:0:0:0:0:0:1", "2024-05-01T10:05:00Z"),
                rev(104, "2001:DB8:0:0:0:0:0:9", "2024-05-01T10:04:00Z"),
                rev(103, "Alice", "2024-05-01T09:00:00Z"),
            ]
        )
    ]
    preview = await client.preview("Sandbox", "2001:db8::1")
    assert preview.same_range_ips == ("2001:DB8:0:0:0:0:0:9",)
    assert not preview.temp_account
    assert wiki.history.call_count == 1  # read from the history the preview reads anyway

    wiki.history.side_effect = [
        history(
            [rev(105, "~2025-1", "2024-05-01T10:05:00Z"), rev(103, "Alice", "2024-05-01T09:00:00Z")]
        )
    ]
    preview = await client.preview("Sandbox", "~2025-1")
    assert preview.temp_account
    assert preview.target_user == "~2025-1"
    assert preview.same_range_ips == ()


# ---- "#id" resolution (respx) ---------------------------------------------------------------


async def test_user_name_for_id_reads_list_users(
    client: WikiClient, wiki_mock: respx.MockRouter, wiki: Wiki
) -> None:
    users = wiki_mock.get(API, params__contains={"list": "users"})
    users.respond(
        json={"batchcomplete": True, "query": {"users": [{"userid": 12345, "name": "Vandal"}]}}
    )

    assert await client.user_name_for_id(12345) == "Vandal"
    sent = query(users.calls.last.request)
    assert (sent["ususerids"], sent["action"]) == ("12345", "query")
    assert wiki.login.call_count == 1  # read with the bot's session, as every read


@pytest.mark.parametrize(
    "entry",
    [
        {"userid": 987654, "missing": True},
        {"userid": 5, "name": "Hidden", "hidden": True},
        {"userid": 5},
    ],
)
async def test_user_name_for_id_unknown_is_none(
    client: WikiClient, wiki_mock: respx.MockRouter, wiki: Wiki, entry: dict[str, object]
) -> None:
    wiki_mock.get(API, params__contains={"list": "users"}).respond(
        json={"batchcomplete": True, "query": {"users": [entry]}}
    )
    assert await client.user_name_for_id(987654) is None


async def test_user_name_for_id_passes_wiki_errors_on(
    client: WikiClient, wiki_mock: respx.MockRouter, wiki: Wiki
) -> None:
    wiki_mock.get(API, params__contains={"list": "users"}).mock(
        side_effect=lambda request: api_error("readapidenied", "You need read permission.")
    )
    with pytest.raises(WikiAPIError) as caught:
        await client.user_name_for_id(1)
    assert caught.value.code == "readapidenied"


def test_is_temp_account_over_several_patterns() -> None:
    assert is_temp_account("*Unregistered 2", ("~$1", "*$1"))
    assert not is_temp_account("Unregistered", ("~$1", "*$1"))
    assert not is_temp_account("~2025-1", ())
