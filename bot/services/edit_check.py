"""Whether the edit a diff link points at can be rolled back, and if not, why (in one sentence).

Rollback reverts the newest run of edits by one user. Starting from an edit, that is right only
while the edit's author is still the page's newest editor and nobody else edited since: then
the run includes the linked edit. Otherwise the bot must not act; it says what happened
instead (newer edits by others, already reverted, hidden author, deleted page). The rollback
itself still goes through `RollbackService.request`, which previews again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.services.codes import BotCode
from bot.wiki.edits import Edit
from bot.wiki.history import ROLLBACK_TAG, same_user
from bot.wiki.names import normalize_username
from bot.wiki.results import Revision

# MediaWiki tags the reverting edit with one of these (1.36+); the reverted ones get REVERTED.
_REVERT_TAGS = frozenset({ROLLBACK_TAG, "mw-undo", "mw-manual-revert"})
_REVERTED_TAG = "mw-reverted"


class EditWiki(Protocol):
    async def edits(self, revids: Sequence[int]) -> dict[int, Edit]: ...

    async def relative_revision(self, oldid: int, relative: str) -> int | None: ...

    async def later_revisions(self, edit: Edit) -> tuple[Revision | None, list[Revision], bool]: ...


@dataclass(frozen=True, slots=True)
class EditCheck:
    """What the page says about revision `revid`. `code` None: its author is still the newest
    editor and nobody else edited since, so a rollback of that author reverts it."""

    revid: int
    edit: Edit | None
    code: BotCode | None = None
    newer_by_others: int = 0
    more: bool = False  # more later revisions than were read
    reverted_by: Revision | None = None

    @property
    def author(self) -> str | None:
        if self.edit is None or self.edit.revision.user is None:
            return None
        try:
            return normalize_username(self.edit.revision.user)
        except ValueError:
            return self.edit.revision.user

    @property
    def message(self) -> str:
        """Plain text for the audit row and the log (the Discord reply links names itself)."""
        if self.code is BotCode.EDITGONE:
            return f"Revision {self.revid} is not on the wiki: the page was deleted (or it was)."
        if self.code is BotCode.HIDDENAUTHOR:
            return f"Revision {self.revid}: the author of this edit is hidden."
        if self.code is BotCode.ALREADYREVERTED:
            by = self.reverted_by
            if by is None:
                return f"Revision {self.revid} was already reverted."
            return (
                f"Revision {self.revid} was already reverted by {by.user or 'a hidden user'} at "
                f"{by.timestamp:%Y-%m-%d %H:%M} UTC (revision {by.revid})."
            )
        if self.code is BotCode.NEWEREDITS:
            count = f"{self.newer_by_others}{'+' if self.more else ''}"
            return f"{count} newer edits by others since revision {self.revid}."
        return ""


async def check_edit(wiki: EditWiki, revid: int, known: Edit | None = None) -> EditCheck:
    """Read revision `revid` (unless `known`, just read) and what came after it on its page."""
    edit = known if known is not None else (await wiki.edits([revid])).get(revid)
    if edit is None:
        return EditCheck(revid, None, BotCode.EDITGONE)
    if edit.revision.user is None:
        return EditCheck(revid, edit, BotCode.HIDDENAUTHOR)
    try:
        author = normalize_username(edit.revision.user)
    except ValueError:  # the wiki's own spelling of a name it has is authoritative
        author = edit.revision.user
    parent, later, more = await wiki.later_revisions(edit)
    others = [revision for revision in later if not same_user(revision.user, author)]
    if not others:
        return EditCheck(revid, edit, more=more)
    # A revert of this edit brings back its parent's content (rollback, undo or by hand); a
    # revert of some later edit does not. The mw-reverted tag (set by a deferred job) confirms.
    restored = parent.sha1 if parent is not None else None
    revert = next((r for r in others if restored and r.sha1 == restored), None)
    if revert is None and _REVERTED_TAG in edit.revision.tags:
        revert = next((r for r in others if _REVERT_TAGS.intersection(r.tags)), None)
        if revert is None:
            return EditCheck(revid, edit, BotCode.ALREADYREVERTED)
    if revert is not None:
        return EditCheck(revid, edit, BotCode.ALREADYREVERTED, reverted_by=revert)
    return EditCheck(revid, edit, BotCode.NEWEREDITS, newer_by_others=len(others), more=more)
