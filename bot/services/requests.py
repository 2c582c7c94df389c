"""A new request's audit row, as the workflow inserts it (before any wiki read)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.outcomes import Actor
from bot.services.wiki import RollbackWiki
from bot.wiki.names import capitalized_title, normalize_username
from bot.wiki.results import PreviewProblem, RollbackPreview

MAX_SUMMARY_INPUT = 1000


def new_request_row(
    actor: Actor,
    *,
    now: datetime,
    expires_in: timedelta,
    wikis: Mapping[str, RollbackWiki],
    page: str,
    user: str,
    summary: str | None,
    markbot: bool,
    wiki: str,
) -> RollbackRequest:
    """The `pending` row of a request, with its expiry set now (so a crash during the preview
    is settled by the sweep)."""
    client = wikis.get(wiki)
    return RollbackRequest(
        created_at=now,
        updated_at=now,
        guild_id=actor.guild_id,
        channel_id=actor.channel_id,
        requester_id=actor.user_id,
        requester_name=actor.display_name[:100],
        wiki=wiki[:32],  # a forged option can be longer than any key (the column's size)
        wiki_api_url=client.api_url if client is not None else "",
        # Normalised now, so that even rows that never reach the wiki (denied, invalid)
        # are found by a search for the name; the wiki's own spelling replaces it later.
        page_title=_best_effort(capitalized_title, page)[:512],
        target_user=_best_effort(normalize_username, user)[:255],
        summary=(summary.strip()[:MAX_SUMMARY_INPUT] or None) if summary else None,
        markbot=markbot,
        status=RollbackStatus.PENDING,
        expires_at=now + expires_in,
    )


def _best_effort(normalize: Callable[[str], str], text: str) -> str:
    try:
        return normalize(text)
    except ValueError:
        return text.strip()  # kept as typed; the request fails on it with a clear message


def problem_fields(preview: RollbackPreview) -> tuple[str, str]:
    problem = preview.problem
    if problem is PreviewProblem.MISSING_PAGE:
        return problem.value, f"The page {preview.title} does not exist."
    if problem is PreviewProblem.ONLY_AUTHOR:
        return problem.value, (
            f"{preview.target_user} is the only author of {preview.title}; "
            "there is no earlier version to go back to."
        )
    top_user = preview.top.user if preview.top and preview.top.user else "a hidden user"
    return PreviewProblem.NOT_LAST_EDITOR.value, (
        f"{preview.target_user} is not the last editor of {preview.title}; "
        f"the newest edit is by {top_user}."
    )
