"""What the rollback workflow answers: plain values the Discord layer renders."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db.models import RollbackRequest
from bot.wiki.results import RollbackPreview, RollbackResult


@dataclass(frozen=True, slots=True)
class Actor:
    """The Discord member acting, reduced to what the workflow needs."""

    user_id: int
    display_name: str
    role_ids: frozenset[int]
    guild_id: int
    channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class Denied:
    """The member lacks a rollback role (row: `denied`)."""

    request: RollbackRequest
    required_role_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class Refused:
    """No rollback can be offered or done; row ended `failed` with `code`."""

    request: RollbackRequest
    code: str
    message: str
    preview: RollbackPreview | None = None


@dataclass(frozen=True, slots=True)
class Ready:
    """A preview to confirm; row `pending` until `request.expires_at`."""

    request: RollbackRequest
    preview: RollbackPreview


@dataclass(frozen=True, slots=True)
class NotYours:
    """Someone other than the requester clicked; nothing changed."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class WrongGuild:
    """A click from another server than the request's (a forged or replayed custom_id)."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class NotPending:
    """The request was already decided (or is being carried out); nothing changed."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Missing:
    """A click on a prompt whose request is not in the database."""

    request_id: int


@dataclass(frozen=True, slots=True)
class Expired:
    """The prompt timed out; row `expired`."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Cancelled:
    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Claimed:
    """Confirm won the compare-and-set: row `running`, committed; call `execute`."""

    request: RollbackRequest


@dataclass(frozen=True, slots=True)
class Stale:
    """The page changed since the preview; row back to `pending` with the new preview."""

    request: RollbackRequest
    preview: RollbackPreview


@dataclass(frozen=True, slots=True)
class Succeeded:
    request: RollbackRequest
    result: RollbackResult


RequestOutcome = Denied | Refused | Ready | Succeeded  # Succeeded: decided by another process
ClickRefusal = NotYours | WrongGuild | NotPending | Missing | Expired | Denied
ClaimOutcome = ClickRefusal | Claimed
CancelOutcome = ClickRefusal | Cancelled
ExecuteOutcome = Succeeded | Refused | Stale
