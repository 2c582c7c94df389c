"""The dev wiki fixture works, checked with raw httpx and no bot code.

These double as a record of how MediaWiki 1.39 behaves for rollbot: the login dance with a
BotPassword, the error codes (HTTP 200 with a `MediaWiki-API-Error` header), markbot, rate limits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
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


# ---- two wikis side by side (wiki and second_wiki) -------------------------------------------


def siteinfo(client: httpx.Client, api_url: str) -> dict[str, Any]:
    response = client.get(
        api_url,
        params={
            "action": "query",
            "meta": "siteinfo",
            "siprop": "general|namespaces",
            "format": "json",
            "formatversion": "2",
        },
    )
    query: dict[str, Any] = response.json()["query"]
    return query


def test_two_wikis_run_at_once_with_their_own_site_names(
    wiki: devwiki.RunningWiki, second_wiki: devwiki.RunningWiki, client: httpx.Client
) -> None:
    assert wiki.port != second_wiki.port
    assert wiki.running
    assert second_wiki.running

    first, second = siteinfo(client, wiki.api_url), siteinfo(client, second_wiki.api_url)

    assert (wiki.name, wiki.site_name) == ("default", "DevWiki")
    assert (second_wiki.name, second_wiki.site_name) == ("second", "DevWiki second")
    assert first["general"]["sitename"] == "DevWiki"
    assert second["general"]["sitename"] == "DevWiki second"
    assert second["namespaces"]["4"]["name"] == "DevWiki second"  # $wgMetaNamespace follows
    assert first["general"]["server"] == wiki.base_url
    assert second["general"]["server"] == second_wiki.base_url
    assert second_wiki.env() == {
        "WIKI_SECOND_API_URL": second_wiki.api_url,
        "WIKI_SECOND_USERNAME": "Rollbot@rollbot",
        "WIKI_SECOND_PASSWORD": second_wiki.rollbot_login.password,
        "WIKI_SECOND_USER_AGENT": second_wiki.user_agent,
    }


def test_same_title_on_both_wikis_has_separate_histories(
    wiki: devwiki.RunningWiki, second_wiki: devwiki.RunningWiki, client: httpx.Client
) -> None:
    """A rollback on one wiki leaves the page of the same title on the other untouched."""
    page = wiki.make_vandalised_page("Sandbox", "Good text on the first wiki.", vandal_edits=2)
    other = second_wiki.make_vandalised_page(
        "Sandbox", "Good text on the second wiki.", vandal_edits=1
    )
    before = second_wiki.revisions("Sandbox")
    assert [r.user for r in before] == ["Vandal", "Editor"]
    assert before[-1].content == "Good text on the second wiki."

    logged_in(client, wiki, wiki.rollbot_login)
    data = rollback(client, wiki.api_url, "Sandbox", "Vandal")

    assert data["rollback"]["last_revid"] == page.good_revid
    assert wiki.revisions("Sandbox")[0].content == page.good_text
    assert second_wiki.revisions("Sandbox") == before
    assert second_wiki.revisions("Sandbox")[0].content == other.vandal_texts[-1]


@pytest.mark.parametrize("direction", ["first on second", "second on first"])
def test_bot_passwords_of_one_wiki_fail_on_the_other(
    wiki: devwiki.RunningWiki,
    second_wiki: devwiki.RunningWiki,
    client: httpx.Client,
    direction: str,
) -> None:
    own, other = (wiki, second_wiki) if direction == "first on second" else (second_wiki, wiki)
    # The same BotPassword names on both wikis, so only the password can tell them apart.
    assert [b.username for b in own.variant.bot_logins] == [
        b.username for b in other.variant.bot_logins
    ]
    for bot_login in own.variant.bot_logins:
        with httpx.Client(headers={"User-Agent": own.user_agent}, timeout=30) as http:
            result = login(http, other.api_url, bot_login)
        assert result["result"] == "Failed", (bot_login.username, result)

    logged_in(client, own, own.rollbot_login)  # and it is a working credential where it belongs


def test_one_client_stays_logged_in_on_both(
    wiki: devwiki.RunningWiki, second_wiki: devwiki.RunningWiki, client: httpx.Client
) -> None:
    """Cookies ignore ports, so both wikis' cookies share one jar on 127.0.0.1: their names
    (prefixed with the database name) must differ, or logging in to one logs out the other."""
    logged_in(client, wiki, wiki.rollbot_login)
    logged_in(client, second_wiki, second_wiki.rollbot_login)
    wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)
    second_wiki.make_vandalised_page("Sandbox", "Good.", vandal_edits=1)

    for each in (wiki, second_wiki):
        assert "rollback" in rollback(
            client, each.api_url, "Sandbox", "Vandal", assertuser="Rollbot"
        )
        assert each.revisions("Sandbox")[0].user == "Rollbot"


# ---- scripts/dev-wiki.sh --name ----------------------------------------------------------------

DEV_WIKI_SH = Path(__file__).resolve().parents[2] / "scripts" / "dev-wiki.sh"


def dev_wiki_sh(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEV_WIKI_SH), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def env_lines(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if line)


def test_dev_wiki_sh_runs_a_second_wiki_beside_the_first(
    wiki_template: devwiki.Template,
    second_wiki_template: devwiki.Template,
    tmp_path: Path,
    client: httpx.Client,
) -> None:
    root = tmp_path / "devwiki"
    # The session's templates, where `up` looks for them (fingerprints match): no rebuild here.
    shutil.copytree(wiki_template.path, root / "template", symlinks=True)
    shutil.copytree(
        second_wiki_template.path, tmp_path / "devwiki-second" / "template", symlinks=True
    )
    port, second_port = devwiki.free_port(), devwiki.free_port()
    try:
        up = dev_wiki_sh(root, "up", "--port", str(port))
        assert up.returncode == 0, up.stderr
        up_second = dev_wiki_sh(root, "up", "--name", "second", "--port", str(second_port))
        assert up_second.returncode == 0, up_second.stderr
        assert "WIKIS=second" in up_second.stderr
        assert (tmp_path / "devwiki-second" / "wiki" / "server.json").is_file()

        default_env = env_lines(dev_wiki_sh(root, "env").stdout)
        second = dev_wiki_sh(root, "env", "--name", "second")
        assert second.returncode == 0, second.stderr
        second_env = env_lines(second.stdout)
        assert default_env["WIKI_API_URL"] == f"http://127.0.0.1:{port}/api.php"
        assert set(second_env) == {
            "WIKI_SECOND_API_URL",
            "WIKI_SECOND_USERNAME",
            "WIKI_SECOND_PASSWORD",
            "WIKI_SECOND_USER_AGENT",
        }
        second_api = second_env["WIKI_SECOND_API_URL"]
        assert second_api == f"http://127.0.0.1:{second_port}/api.php"
        assert siteinfo(client, second_api)["general"]["sitename"] == "DevWiki second"
        assert siteinfo(client, default_env["WIKI_API_URL"])["general"]["sitename"] == "DevWiki"
        printed = devwiki.BotLogin(
            second_env["WIKI_SECOND_USERNAME"], second_env["WIKI_SECOND_PASSWORD"], ()
        )
        assert login(client, second_api, printed)["result"] == "Success"
        with httpx.Client(headers={"User-Agent": devwiki.BOT_USER_AGENT}) as other:
            assert login(other, default_env["WIKI_API_URL"], printed)["result"] == "Failed"

        # vandalise and ratelimit act on the named wiki only.
        vandalise = dev_wiki_sh(root, "vandalise", "Sandbox", "--edits", "1", "--name", "second")
        assert vandalise.returncode == 0, vandalise.stderr
        second_wiki = devwiki.RunningWiki.attach(tmp_path / "devwiki-second" / "wiki")
        default_wiki = devwiki.RunningWiki.attach(root / "wiki")
        assert [r.user for r in second_wiki.revisions("Sandbox")] == ["Vandal", "Editor"]
        assert default_wiki.revisions("Sandbox") == []
        assert dev_wiki_sh(root, "ratelimit", "3", "--name", "second").returncode == 0
        state = json.loads((second_wiki.path / "devwiki.json").read_text())
        assert state["rollback_rate_limit"] == [3, 60]
        assert (
            json.loads((default_wiki.path / "devwiki.json").read_text())["rollback_rate_limit"]
            is None
        )
        second_wiki.close_clients()
        default_wiki.close_clients()

        # down --name second stops that one; the default wiki keeps running.
        assert dev_wiki_sh(root, "down", "--name", "second").returncode == 0
        assert not devwiki.port_accepts(second_port)
        assert dev_wiki_sh(root, "status", "--name", "second").returncode == 1
        assert dev_wiki_sh(root, "status").returncode == 0
        assert devwiki.port_accepts(port)
    finally:
        dev_wiki_sh(root, "down", "--name", "second")
        dev_wiki_sh(root, "down")
    assert not devwiki.port_accepts(port)
