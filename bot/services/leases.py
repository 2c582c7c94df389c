"""Leases on `running` rows: which process carries a request out, and for how long that holds.

The claiming process renews its lease while it works; another process settles the row only
after the lease lapsed (its owner died or lost the database). A lapsed lease is taken over by
compare-and-set, so of two settling processes one wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import audit
from bot.db.models import RollbackRequest

log = logging.getLogger(__name__)

# How long a claim on a `running` row holds without renewal. The owner renews it every third
# of that while it works, so only a process that died (or lost its database) lets it lapse.
LEASE = timedelta(seconds=30)
# Rows claimed by a version without leases are settled once they are this old.
LEGACY_AFTER = timedelta(minutes=5)


def process_owner() -> str:
    """This process's name on the leases it holds (host, pid, and a nonce against pid reuse)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """This process's leases."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        owner: str | None = None,
        duration: timedelta = LEASE,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.owner = owner or process_owner()
        self.duration = duration

    def claim_values(self, now: datetime) -> dict[str, object]:
        """The columns a `pending → running` claim sets to take the lease."""
        return {"lease_owner": self.owner, "lease_until": now + self.duration}

    async def renew(self, request_id: int) -> bool:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            return await audit.renew_lease(
                session, request_id, owner=self.owner, until=now + self.duration, now=now
            )

    async def holds(self, request_id: int) -> bool:
        """Checked (and renewed) right before each send: a process whose lease lapsed — its
        row may be being settled elsewhere — must not act on the wiki."""
        try:
            if await self.renew(request_id):
                return True
        except Exception:
            log.warning("request %s: lease check failed; not sending", request_id, exc_info=True)
            return False
        log.error("request %s: lease lost before sending; not sending", request_id)
        return False

    @contextlib.asynccontextmanager
    async def kept(self, request_id: int) -> AsyncIterator[None]:
        """Renew the lease in the background while the body carries the request out."""
        heartbeat = asyncio.create_task(self._keep(request_id))
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _keep(self, request_id: int) -> None:
        while True:
            await asyncio.sleep(self.duration.total_seconds() / 3)
            try:
                if not await self.renew(request_id):
                    log.error("request %s: lease lost while carrying it out", request_id)
                    return
            except Exception:
                log.warning("request %s: could not renew its lease", request_id, exc_info=True)

    async def lapsed(self) -> list[RollbackRequest]:
        """`running` rows whose owner stopped renewing."""
        now = self._clock()
        async with self._sessions() as session:
            return await audit.lapsed_running(session, now=now, legacy_cutoff=now - LEGACY_AFTER)

    async def take_over(self, request_id: int) -> bool:
        """Take a lapsed lease (compare-and-set); False if another process holds it now."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            return await audit.take_lapsed_lease(
                session,
                request_id,
                owner=self.owner,
                until=now + self.duration,
                now=now,
                legacy_cutoff=now - LEGACY_AFTER,
            )
