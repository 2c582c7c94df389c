"""Bot-side handling time, wiki time excluded (an instant scripted wiki):

- `/rollback` dispatch → the first response sent to Discord (the ephemeral defer);
- Confirm click dispatch → the `running` row committed (the moment `execute` starts, which
  is after the compare-and-set commit and the acknowledgement).

Interactions go through discord.py's real parser, CommandTree and DynamicItem routing
(tests/discord/harness.py); only Discord's HTTP API is replaced by an in-process fake.

    uv run python -m benchmarks.bot_handling [--runs 300] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import discord

from benchmarks.audit_writes import drop_postgres, scratch_postgres
from bot.db.engine import create_engine, create_session_factory, upgrade_to_head
from bot.services.rollback import Claimed, ExecuteOutcome
from tests.discord.harness import MOD, DiscordHarness
from tests.unit.services.fakes import FakeWiki


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure(url: str, runs: int) -> dict[str, list[float]]:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    sessions = create_session_factory(engine)
    harness = await DiscordHarness.start(sessions, wiki=FakeWiki(), log_channel_id=None)
    first_callback: dict[str, float] = {}
    real_request = harness.discord.request

    def recording_request(method: str, url: str, **kwargs: Any) -> Any:
        if "/callback" in url:
            token = url.split("/interactions/", 1)[1].split("/")[1]
            first_callback.setdefault(token, time.perf_counter())
        return real_request(method, url, **kwargs)

    harness.discord.request = recording_request  # type: ignore[method-assign]
    executed_at: list[float] = []
    real_execute: Callable[[Claimed], Awaitable[ExecuteOutcome]] = harness.service.execute

    async def timed_execute(claimed: Claimed) -> ExecuteOutcome:
        executed_at.append(time.perf_counter())
        return await real_execute(claimed)

    harness.service.execute = timed_execute  # type: ignore[method-assign]
    results: dict[str, list[float]] = {"/rollback → defer": [], "Confirm → running row": []}
    try:
        for i in range(runs + 20):  # the first 20 warm caches and are not counted
            t0 = time.perf_counter()
            dispatched = harness.send_slash(MOD, page=f"Page {i}", user="Vandal")
            await harness.settle()
            slash_ms = (first_callback[dispatched.token] - t0) * 1000
            message = dispatched.original_message
            custom_id = message["components"][0]["components"][0]["custom_id"]

            t1 = time.perf_counter()
            harness.send_click(MOD, custom_id, message=message)
            await harness.settle()
            click_ms = (executed_at[-1] - t1) * 1000
            if i >= 20:
                results["/rollback → defer"].append(slash_ms)
                results["Confirm → running row"].append(click_ms)
    finally:
        await harness.close()
        await engine.dispose()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument(
        "--postgres", help="postgresql+asyncpg:// URL (scripts/dev-postgres.sh url)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False

    rows: list[tuple[str, str, list[float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        for label, values in (await measure(url, args.runs)).items():
            rows.append(("SQLite", label, values))
    if args.postgres:
        url, name = await scratch_postgres(args.postgres)
        try:
            for label, values in (await measure(url, args.runs)).items():
                rows.append(("PostgreSQL", label, values))
        finally:
            await drop_postgres(args.postgres, name)

    print(f"bot-side handling, {args.runs} runs each (wiki time excluded); target p99 <= 25 ms")
    print(f"{'database':<11} {'step':<24} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for db, label, values in rows:
        print(
            f"{db:<11} {label:<24} {statistics.median(values):>7.2f} "
            f"{_pct(values, 0.99):>7.2f} {max(values):>7.2f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
