"""The one table of a request's moves (from → to); every status change consults it.

A move the table forbids is a bug in the caller, not a race: `audit.transition` raises
`IllegalTransitionError` before touching the database. (A race is a compare-and-set that
finds the row in another allowed state; that returns False and the caller handles it.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from bot.db.models import RollbackStatus

_P, _D, _C, _E = (
    RollbackStatus.PENDING,
    RollbackStatus.DENIED,
    RollbackStatus.CANCELLED,
    RollbackStatus.EXPIRED,
)
_R, _S, _F = RollbackStatus.RUNNING, RollbackStatus.SUCCEEDED, RollbackStatus.FAILED

TRANSITIONS: Mapping[RollbackStatus, frozenset[RollbackStatus]] = {
    # pending → pending: the preview's facts are written onto the freshly inserted row.
    _P: frozenset({_P, _D, _C, _E, _R, _F}),
    # running → pending: the page changed since the preview; the new one is offered.
    _R: frozenset({_P, _S, _F}),
    # failed → succeeded: a correction, only when the page history proves the bot's own
    # rollback of this request (a lost answer, or another process settled it too early).
    _F: frozenset({_S}),
    _D: frozenset(),
    _C: frozenset(),
    _E: frozenset(),
    _S: frozenset(),
}

# A row may be inserted in these states (a denial never reaches `pending`).
INITIAL: frozenset[RollbackStatus] = frozenset({_P, _D})


class IllegalTransitionError(RuntimeError):
    """A status move the lifecycle does not allow: a bug, never silently ignored."""


def check_move(from_statuses: Collection[RollbackStatus], to: RollbackStatus) -> None:
    forbidden = sorted(str(status) for status in from_statuses if to not in TRANSITIONS[status])
    if forbidden:
        raise IllegalTransitionError(f"{', '.join(forbidden)} → {to} is not a request move")
