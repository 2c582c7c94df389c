"""Fixtures for tests against a real, throwaway MediaWiki 1.39 (``scripts/devwiki.py``).

``wiki`` gives each test its own fresh wiki on a free 127.0.0.1 port (a copy of a template built
once per session: ~2 s once, then ~0.3 s per test), stopped afterwards. ``second_wiki`` is another
one beside it, for tests of several wikis: the wiki called ``second`` (its own template, built the
first time a test asks for it), with the same account names but its own site name ("DevWiki
second") and its own passwords, so a credential of one fails on the other. What both offer::

    wiki.api_url                      "http://127.0.0.1:PORT/api.php" (also base_url, index_url)
    wiki.name / wiki.site_name        "default" / "DevWiki"; "second" / "DevWiki second"
    wiki.rollbot_login                BotLogin("Rollbot@rollbot", password, grants): rollback right
                                      (groups bot + rollbacker), grants basic, editpage,
                                      createeditmovepage, rollback, highvolume
    wiki.norollback_login             Rollbot@norollback: the same without the `rollback` grant
    wiki.nobot_login                  Rollbot@nobot: without `highvolume` -> no markbotedits/bot,
                                      so markbot=1 is silently ignored
    wiki.norights_login               Norights@all: every grant, but the account lacks the right
    wiki.admin / rollbot / editor / vandal / norights    Account(name, password, groups)
    wiki.user_agent                   a User-Agent that passes rollbot's settings check
    wiki.env()                        {"WIKI_API_URL": ..., "WIKI_USERNAME": ..., ...} for Settings
                                      (second_wiki: WIKI_SECOND_API_URL, ...; WIKIS=second)

    wiki.make_vandalised_page(title, good_text, vandal_edits=2) -> VandalisedPage
                                      (title, good_text, good_revid, vandal_texts, vandal_revids,
                                      latest_revid): Editor saves good_text, Vandal edits N times
    wiki.edit(title, text, user="Editor"|"Vandal", summary="") -> revid
    wiki.revisions(title, limit=50) -> list[Revision]      newest first, via raw prop=revisions
                                      (revid, parentid, user, comment, content, timestamp, tags,
                                      minor)
    wiki.recent_changes(title) -> list[RecentChange]      (revid, user, comment, bot, type)
    wiki.protect(title, level="sysop"|"autoconfirmed")     rollback then fails: protectedpage
    wiki.set_rollback_rate_limit(n, seconds=60)            n rollbacks per user; None = off
                                      (the default). Failed attempts count too.
    wiki.restart() / wiki.stop()      same port and data; sessions survive a restart
    wiki.client(login=None) -> httpx.Client               logged in (cached per login)
    wiki.maintenance("edit", "--user=Vandal", "Title", stdin="text") -> stdout

All helpers are synchronous (httpx.Client); calling them from async tests is fine: the wiki is
another process. Without PHP/MediaWiki the tests skip, unless ROLLBOT_REQUIRE_INTEGRATION=1
(CI), where they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
if str(_SCRIPTS) not in sys.path:
    sys.path.insert(0, str(_SCRIPTS))

import devwiki  # noqa: E402 - scripts/ is not a package; its path is added just above

REQUIRE_ENV = "ROLLBOT_REQUIRE_INTEGRATION"
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration carries the `integration` marker."""
    for item in items:
        if _HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


def _build_template(factory: pytest.TempPathFactory, name: str) -> devwiki.Template:
    reason = devwiki.missing_requirements()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no dev wiki possible: {reason}", pytrace=False)
        pytest.skip(f"no dev wiki: {reason}")
    directory = "devwiki" if name == devwiki.DEFAULT_NAME else f"devwiki-{name}"
    return devwiki.build_template(factory.mktemp(directory) / "template", name=name)


def _serve(template: devwiki.Template, workdir: Path) -> Iterator[devwiki.RunningWiki]:
    running = template.start(workdir)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def wiki_template(tmp_path_factory: pytest.TempPathFactory) -> devwiki.Template:
    """An installed wiki with all accounts, built once per session; never served itself."""
    return _build_template(tmp_path_factory, devwiki.DEFAULT_NAME)


@pytest.fixture(scope="session")
def second_wiki_template(tmp_path_factory: pytest.TempPathFactory) -> devwiki.Template:
    """The template of the wiki called ``second``: own site name and passwords."""
    return _build_template(tmp_path_factory, "second")


@pytest.fixture
def wiki(wiki_template: devwiki.Template, tmp_path: Path) -> Iterator[devwiki.RunningWiki]:
    """A fresh, running wiki for this test alone; its files (logs/) stay in ``tmp_path``."""
    yield from _serve(wiki_template, tmp_path / "wiki")


@pytest.fixture
def second_wiki(
    second_wiki_template: devwiki.Template, tmp_path: Path
) -> Iterator[devwiki.RunningWiki]:
    """A fresh, running ``second`` wiki for this test alone, beside ``wiki`` if both are used."""
    yield from _serve(second_wiki_template, tmp_path / "second-wiki")
