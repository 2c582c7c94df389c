"""Audit writes per second: one insert (`pending`) plus one terminal compare-and-set update,
each in its own committed transaction, exactly as the workflow does them.

    uv run python -m benchmarks.audit_writes [--rows 2000] [--postgres URL]

SQLite uses a fresh file in a temporary directory; PostgreSQL (optional) a scratch database
created next to the given URL and dropped afterwards (the role needs CREATEDB).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.db import audit
from bot.db.engine import create_engine, create_session_factory, upgrade_to_head
from bot.db.models import RollbackRequest, RollbackStatus


def _row(i: int) -> RollbackRequest:
    return RollbackRequest(
        guild_id=1234567890123456789,
        channel_id=2234567890123456789,
        requester_id=3234567890123456789 + i % 20,
        requester_name=f"Moderator {i % 20}",
        wiki_api_url="https://wiki.example.org/w/api.php",
        page_title=f"Page {i % 500}",
        target_user=f"Vandal {i % 300}",
        summary="spam",
        status=RollbackStatus.PENDING,
    )


async def measure(url: str, rows: int) -> tuple[float, float, float]:
    """Return (writes/s for insert+update pairs, p50 ms, p99 ms per pair)."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        sessions = create_session_factory(engine)
        latencies: list[float] = []
        start = time.perf_counter()
        for i in range(rows):
            t0 = time.perf_counter()
            async with sessions() as session, session.begin():
                row = await audit.add_request(session, _row(i))
            assert row.id is not None
            async with sessions() as session, session.begin():
                await audit.transition(
                    session,
                    row.id,
                    from_statuses=[RollbackStatus.PENDING],
                    to=RollbackStatus.SUCCEEDED,
                    revid=i,
                    old_revid=i,
                    last_revid=i,
                )
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    finally:
        await engine.dispose()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return rows / elapsed, statistics.median(latencies) * 1000, p99 * 1000


async def scratch_postgres(base_url: str) -> tuple[str, str]:
    name = f"rollbot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(
        make_url(base_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as connection:
        await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False), name


async def drop_postgres(base_url: str, name: str) -> None:
    admin = create_async_engine(
        make_url(base_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    async with admin.connect() as connection:
        await connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument(
        "--postgres", help="postgresql+asyncpg:// URL (scripts/dev-postgres.sh url)"
    )
    args = parser.parse_args()

    results: list[tuple[str, tuple[float, float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        results.append(("SQLite (WAL)", await measure(url, args.rows)))
    if args.postgres:
        url, name = await scratch_postgres(args.postgres)
        try:
            results.append(("PostgreSQL", await measure(url, args.rows)))
        finally:
            await drop_postgres(args.postgres, name)

    print(f"audit writes: {args.rows} requests, each insert + terminal update, own transactions")
    print(f"{'database':<14} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for label, (rate, p50, p99) in results:
        print(f"{label:<14} {rate:>11.0f} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
