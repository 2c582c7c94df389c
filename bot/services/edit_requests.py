"""Requests that start from a link to an edit ("Roll back this edit" on a feed message).

The links say which revisions; the wiki says which pages and whose they are. One edit per
page (the newest linked) is offered; the request itself is the `/rollback` workflow's, for the
page and the edit's author, once `check_edit` has shown that rolling back that author reverts
the linked edit. A refusal is recorded like any other outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.edit_check import EditCheck, EditWiki, check_edit
from bot.services.outcomes import Actor, Refused, RequestOutcome
from bot.services.rollback import RollbackService
from bot.services.wiki import error_fields
from bot.wiki.difflinks import EditLink
from bot.wiki.edits import Edit
from bot.wiki.errors import WikiError

log = logging.getLogger(__name__)

# Links looked at in one message (a feed digest can hold many); the API takes 50 revids a call.
MAX_LINKS = 50


@dataclass(frozen=True, slots=True)
class FoundEdit:
    wiki: str
    edit: Edit


@dataclass(frozen=True, slots=True)
class EditRefused:
    """The linked edit cannot be rolled back (row recorded `failed`); `check` says why."""

    outcome: Refused
    check: EditCheck | None


class EditRequests:
    def __init__(self, service: RollbackService) -> None:
        self._service = service

    async def find(
        self, guild_id: int, links: Sequence[EditLink]
    ) -> tuple[list[FoundEdit], tuple[str, int] | None]:
        """The edits `links` point at on wikis this server may use: the newest per page, newest
        first (links whose revision is gone are left out); and the first link's wiki and
        revision, to say what became of it when none was found."""
        allowed = set(self._service.wikis_for(guild_id))
        found: dict[tuple[str, int], FoundEdit] = {}
        first: tuple[str, int] | None = None
        for key in dict.fromkeys(link.wiki for link in links[:MAX_LINKS]):
            wiki = self._service.wiki(key)
            if key not in allowed or wiki is None:
                continue
            try:
                revids = [
                    revid
                    for link in links[:MAX_LINKS]
                    if link.wiki == key and (revid := await revid_of(wiki, link)) is not None
                ]
                first = first or ((key, revids[0]) if revids else None)
                edits = await wiki.edits(list(dict.fromkeys(revids))) if revids else {}
            except WikiError as exc:
                log.warning("could not read the linked edits on wiki %s: %s", key, exc)
                continue
            for edit in edits.values():
                page = (key, edit.pageid)
                if page not in found or found[page].edit.revision.revid < edit.revision.revid:
                    found[page] = FoundEdit(key, edit)
        ordered = sorted(found.values(), key=lambda f: f.edit.revision.timestamp, reverse=True)
        return ordered, first

    async def request(
        self, actor: Actor, wiki_key: str, revid: int, known: Edit | None = None
    ) -> RequestOutcome | EditRefused:
        """Check the edit, then offer the rollback of its author on its page (or refuse)."""
        service = self._service
        wiki = service.wiki(wiki_key)
        placeholder = f"(revision {revid})"
        if wiki is None or wiki_key not in service.wikis_for(actor.guild_id):
            # The workflow's own refusal (recorded `wikinotallowed`).
            return await service.request(
                actor, page=placeholder, user="?", summary=None, markbot=False, wiki=wiki_key
            )
        if await wiki.ensure_available() is not None:
            return await service.request(  # recorded `wikiunavailable`, with the reason
                actor, page=placeholder, user="?", summary=None, markbot=False, wiki=wiki_key
            )
        try:
            check = await check_edit(wiki, revid, known)
        except WikiError as exc:
            code, message = error_fields(exc)
            refused = await service.refuse(
                actor, page=placeholder, user="", wiki=wiki_key, code=code, message=message
            )
            return EditRefused(refused, None)
        edit, author = check.edit, check.author
        if check.code is not None or edit is None or author is None:
            refused = await service.refuse(
                actor,
                page=edit.title if edit is not None else placeholder,
                user=author or "",
                wiki=wiki_key,
                code=check.code or "editgone",
                message=check.message,
            )
            return EditRefused(refused, check)
        return await service.request(
            actor, page=edit.title, user=author, summary=None, markbot=False, wiki=wiki_key
        )


async def revid_of(wiki: EditWiki, link: EditLink) -> int | None:
    """The revision a link shows as its newer side (`diff=next|cur` asks the wiki)."""
    if link.relative is not None:
        if link.oldid is None:
            return None
        if link.relative == "prev":  # the diff of `oldid` against its parent: the edit itself
            return link.oldid
        return await wiki.relative_revision(link.oldid, link.relative)
    if link.revid is not None and link.oldid is not None:
        return max(link.revid, link.oldid)  # MediaWiki shows the newer one as the edit
    return link.revid if link.revid is not None else link.oldid
