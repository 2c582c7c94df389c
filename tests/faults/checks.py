"""Assertions on the real wiki's own history (not on what rollbot says happened)."""

from __future__ import annotations

from bot.db.models import RollbackRequest, RollbackStatus
from tests.faults.support import is_bot_rollback
from tests.integration.conftest import devwiki


def bot_rollbacks(wiki: devwiki.RunningWiki, title: str) -> list[devwiki.Revision]:
    return [r for r in wiki.revisions(title) if is_bot_rollback(r.tags, r.user)]


def assert_rolled_back_once(
    wiki: devwiki.RunningWiki, page: devwiki.VandalisedPage, row: RollbackRequest
) -> None:
    """Exactly one rollback revision by the bot, on top, restoring the good text; the audit row
    is `succeeded` with the revids the history shows."""
    history = wiki.revisions(page.title)
    rollbacks = [r for r in history if is_bot_rollback(r.tags, r.user)]
    assert len(rollbacks) == 1, history
    top = history[0]
    assert top == rollbacks[0]
    assert top.content == page.good_text
    assert row.status is RollbackStatus.SUCCEEDED, (row.error_code, row.error_message)
    assert (row.revid, row.old_revid, row.last_revid) == (
        top.revid,
        page.latest_revid,
        page.good_revid,
    )


def assert_untouched(wiki: devwiki.RunningWiki, page: devwiki.VandalisedPage) -> None:
    """No rollback: the vandal's last edit is still on top."""
    history = wiki.revisions(page.title)
    assert not [r for r in history if is_bot_rollback(r.tags, r.user)], history
    assert history[0].revid == page.latest_revid
