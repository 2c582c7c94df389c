"""The dev wiki fixture works, checked with raw httpx and no bot code.

These double as a record of how MediaWiki 1.39 behaves for rollbot: the login dance with a
BotPassword, the error codes (HTTP 200 with a `MediaWiki-API-Error` header), markbot, rate limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import devwiki
import httpx
import pytest

pytestmark = pytest.mark.integration


def api_call(client: httpx.Client, api_url: str, **params: str) -> httpx.Response:
    """POST to api.php in JSON format version 2; returns the raw response."""
    return client.post(api_url, data={**params, "format": "json", "formatversion": "2"})


def login(client: httpx.Client, api_url: str, login: devwiki.BotLogin) -> dict[str, Any]:
    """The BotPassword login: a login token (tied to the session cookie), then action=login."""
    tokens = client.get(
        api_url,
        params={"action": "query", "meta": "tokens", "type": "login", "format": "json"},
    ).json()
    token = tokens["query"]["tokens"]["logintoken"]
    result: dict[str, Any] = api_call(
        client,
        api_url,
        action="login",
        lgname=login.username,
        lgpassword=login.password,
        lgtoken=token,
    ).json()["login"]
    return result


def rollback_token(client: httpx.Client, api_url: str) -> str:
    data = client.get(
        api_url,
        params={"action": "query", "meta": "tokens", "type": "rollback", "format": "json"},
    ).json()
    return str(data["query"]["tokens"]["rollbacktoken"])


def rollback(client: httpx.Client, api_url: str, title: str, user: str, **extra: str) -> Any:
    response = api_call(
        client,
        api_url,
        action="rollback",
        title=title,
        user=user,
        token=rollback_token(client, api_url),
        **extra,
    )
    assert response.status_code == 200
    data = response.json()
    if "error" in data:
        # MediaWiki reports errors with HTTP 200, flagged by this header.
        assert response.headers["MediaWiki-API-Error"] == data["error"]["code"]
    return data


@pytest.fixture
def client(wiki: devwiki.RunningWiki) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"User-Agent": wiki.user_agent}, timeout=30) as http:
        yield http


def logged_in(client: httpx.Client, wiki: devwiki.RunningWiki, who: devwiki.BotLogin) -> None:
    result = login(client, wiki.api_url, who)
    assert result["result"] == "Success", result
    assert result["lgusername"] == who.user


def test_api_answers_siteinfo(wiki: devwiki.RunningWiki, client: httpx.Client) -> None:
    response = client.get(
        wiki.api_url,
        params={"action": "query", "meta": "siteinfo", "format": "json", "formatversion": "2"},
    )
    general = response.json()["query"]["general"]
    assert general["sitename"] == "DevWiki"
    assert general["generator"].startswith("MediaWiki 1.")
    assert general["server"] == wiki.base_url
    assert wiki.api_url.startswith("http://127.0.0.1:")


def test_rollbot_logs_in_and_rolls_back(wiki: devwiki.RunningWiki, client: httpx.Client) -> None:
    page = wiki.make_vandalised_page("Sandbox", "The good text.", vandal_edits=2)
    assert [r.user for r in wiki.revisions("Sandbox")] == ["Vandal", "Vandal", "Editor"]

    logged_in(client, wiki, wiki.rollbot_login)
    info = client.get(
        wiki.api_url,
        params={"action": "query", "meta": "userinfo", "uiprop": "rights|groups", "format": "json"},
    ).json()["query"]["userinfo"]
    assert info["name"] == "Rollbot"
    assert {"bot", "rollbacker"} <= set(info["groups"])
    assert {"rollback", "bot"} <= set(info["rights"])  # `bot` is enough for markbot=1

    data = rollback(client, wiki.api_url, "Sandbox", "Vandal", summary="rv vandalism")
    assert data["rollback"]["old_revid"] == page.latest_revid
    assert data["rollback"]["last_revid"] == page.good_revid

    newest = wiki.revisions("Sandbox")[0]
    assert newest.revid == data["rollback"]["revid"]
    assert newest.user == "Rollbot"
    assert newest.content == page.good_text
    assert newest.comment == "rv vandalism"
    assert "mw-rollback" in newest.tags

    again = rollback(client, wiki.api_url, "Sandbox", "Vandal")
    assert again["error"]["code"] == "alreadyrolled"


@pytest.mark.parametrize("who", ["norollback_login", "norights_login"])
def test_without_rollback_right_or_grant_permissiondenied(
    wiki: devwiki.RunningWiki, client: httpx.Client, who: str
) -> None:
    bot_login: devwiki.BotLogin = getattr(wiki, who)
    wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    logged_in(client, wiki, bot_login)

    data = rollback(client, wiki.api_url, "Sandbox", "Vandal")

    assert data["error"]["code"] == "permissiondenied"
    assert wiki.revisions("Sandbox")[0].user == "Vandal"


def test_markbot_needs_highvolume_grant(wiki: devwiki.RunningWiki, client: httpx.Client) -> None:
    """markbot=1 flags the reverted edits as bot edits, unless the session lacks markbotedits:
    then MediaWiki ignores it silently (no error, no warning)."""
    wiki.make_vandalised_page("Flagged", "Good.", vandal_edits=2)
    wiki.make_vandalised_page("Unflagged", "Good.", vandal_edits=2)

    logged_in(client, wiki, wiki.rollbot_login)
    assert "rollback" in rollback(client, wiki.api_url, "Flagged", "Vandal", markbot="1")
    with httpx.Client(headers={"User-Agent": wiki.user_agent}, timeout=30) as nobot:
        logged_in(nobot, wiki, wiki.nobot_login)
        data = rollback(nobot, wiki.api_url, "Unflagged", "Vandal", markbot="1")
        assert "rollback" in data
        assert "warnings" not in data

    flagged = {rc.user: rc.bot for rc in wiki.recent_changes("Flagged") if rc.user != "Rollbot"}
    unflagged = {rc.user: rc.bot for rc in wiki.recent_changes("Unflagged") if rc.user != "Rollbot"}
    assert flagged == {"Vandal": True, "Editor": False}
    assert unflagged == {"Vandal": False, "Editor": False}


def test_rollback_not_rate_limited_by_default(
    wiki: devwiki.RunningWiki, client: httpx.Client
) -> None:
    """MediaWiki's own default is 10 rollbacks per 60 s per user; the dev wiki has none."""
    logged_in(client, wiki, wiki.rollbot_login)
    for i in range(12):
        title = f"Page {i}"
        wiki.make_vandalised_page(title, "Good.", vandal_edits=1)
        assert "rollback" in rollback(client, wiki.api_url, title, "Vandal")


def test_rate_limit_switch(wiki: devwiki.RunningWiki, client: httpx.Client) -> None:
    for i in range(4):
        wiki.make_vandalised_page(f"Page {i}", "Good.", vandal_edits=1)
    logged_in(client, wiki, wiki.rollbot_login)

    wiki.set_rollback_rate_limit(2)
    # Failed attempts use up the allowance too.
    assert rollback(client, wiki.api_url, "Page 0", "Nobody")["error"]["code"] == "alreadyrolled"
    assert "rollback" in rollback(client, wiki.api_url, "Page 1", "Vandal")
    limited = rollback(client, wiki.api_url, "Page 2", "Vandal")
    assert limited["error"]["code"] == "ratelimited"
    assert wiki.revisions("Page 2")[0].user == "Vandal"

    wiki.set_rollback_rate_limit(None)
    assert "rollback" in rollback(client, wiki.api_url, "Page 2", "Vandal")


def test_protected_page_refuses_rollback(wiki: devwiki.RunningWiki, client: httpx.Client) -> None:
    wiki.make_vandalised_page("Locked", "Good.", vandal_edits=1)
    wiki.protect("Locked")
    logged_in(client, wiki, wiki.rollbot_login)

    assert rollback(client, wiki.api_url, "Locked", "Vandal")["error"]["code"] == "protectedpage"


def test_restart_keeps_data_sessions_and_port(
    wiki: devwiki.RunningWiki, client: httpx.Client
) -> None:
    wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    logged_in(client, wiki, wiki.rollbot_login)
    api_url = wiki.api_url

    wiki.restart()

    assert wiki.api_url == api_url
    assert "rollback" in rollback(client, wiki.api_url, "Sandbox", "Vandal")


def test_each_test_gets_a_fresh_wiki(wiki: devwiki.RunningWiki) -> None:
    assert wiki.revisions("Sandbox") == []


def test_stop_frees_the_port(wiki: devwiki.RunningWiki) -> None:
    port, pid = wiki.port, wiki.pid
    assert pid is not None
    assert devwiki.port_accepts(port)

    wiki.stop()

    assert not wiki.running
    assert not devwiki.port_accepts(port)
    assert not devwiki.process_group_alive(pid)  # no lingering php -S workers
