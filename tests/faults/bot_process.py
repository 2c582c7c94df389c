"""A stand-in bot process for the crash and two-process tests: the real RollbackService, the real
WikiClient and the real database engine, driven over stdin/stdout.

    python -m tests.faults.bot_process '{"db_url": ..., "api_url": ..., "username": ...,
                                         "password": ..., "user_agent": ...}'

It warms up (engine, wiki login, the wiki's rollback summary), prints ``ready``, then for each
``go <request id>`` line presses Confirm as the moderator would: ``claim`` and, if that won,
``execute``; it prints one JSON line per request. ``reconcile`` runs the start-up settlement
and prints the ids it settled. It exits at end of input (or when killed, which
is the point).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bot.db import audit
from bot.db.engine import create_engine, create_session_factory
from bot.services.rollback import Claimed
from tests.faults.support import MODERATOR, make_client, make_service

_cas_results: list[bool] = []


def _count_compare_and_set() -> None:
    """Record what each status compare-and-set returned, so a report can tell a click that lost
    the race in the database (CAS False) from one that saw `running` before trying."""
    original = audit.transition

    async def transition(*args: Any, **kwargs: Any) -> bool:
        changed = await original(*args, **kwargs)
        _cas_results.append(changed)
        return changed

    audit.transition = transition


async def _serve(config: dict[str, Any]) -> None:
    _count_compare_and_set()
    engine = create_engine(config["db_url"])
    client = make_client(
        config["api_url"],
        username=config["username"],
        password=config["password"],
        user_agent=config["user_agent"],
        timeout=float(config.get("timeout", 30.0)),
    )
    try:
        service = make_service(client, create_session_factory(engine))
        await client.login()
        await client.default_rollback_summary()
        async with engine.connect():
            pass  # one pooled connection, so the first click does not pay for it
        _say("ready")
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command, _, argument = line.strip().partition(" ")
            if command == "reconcile":  # what a starting bot does before serving
                settled = await service.reconcile()
                _say(json.dumps({"settled": [row.id for row in settled]}))
                continue
            if command != "go":
                continue
            request_id = int(argument)
            _cas_results.clear()
            claim = await service.claim(request_id, MODERATOR)
            report: dict[str, Any] = {
                "id": request_id,
                "claim": type(claim).__name__,
                "lost_cas": _cas_results[:1] == [False],
            }
            if isinstance(claim, Claimed):
                outcome = await service.execute(claim)
                report["outcome"] = type(outcome).__name__
                report["status"] = str(outcome.request.status)
            else:
                report["status"] = str(claim.request.status) if hasattr(claim, "request") else None
            _say(json.dumps(report))
    finally:
        await client.aclose()
        await engine.dispose()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(_serve(json.loads(sys.argv[1])))
