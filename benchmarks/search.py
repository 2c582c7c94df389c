"""`/rollback-log` at scale: 1,000,000 audit rows; search per filter and deep keyset pages;
the capped total; export of 100,000 rows with its memory use.

    uv run python -m benchmarks.search [--rows 1000000] [--queries 50] [--postgres URL]
        [--sqlite-only | --postgres-only]

SQLite runs in a temporary file; PostgreSQL in a scratch database made next to the URL's (and
dropped). Rows are realistic and skewed: three guilds (one holds 90 %), 4,000 target users,
6,000 pages and 150 moderators drawn from Zipf-like weights, seven statuses, two years of
timestamps. Queries go through the bot's own code (`bot.db.history` on an `AsyncSession`), so
ORM and driver overhead are included. Each figure is p50 / p95 over `--queries` calls with
varied arguments (different users, pages, cursors...).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import resource
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from benchmarks.audit_writes import drop_postgres, scratch_postgres
from bot.db import history
from bot.db.engine import create_engine, create_session_factory, upgrade_to_head
from bot.db.history import Cursor, SearchFilters
from bot.db.models import RollbackRequest, RollbackStatus
from bot.services.history import HistoryService
from bot.ui.csv_export import CsvExport

Sessions = async_sessionmaker[AsyncSession]

MAIN_GUILD = 1_100_000_000_000_000_000
GUILDS = [(MAIN_GUILD, 0.90), (MAIN_GUILD + 1, 0.07), (MAIN_GUILD + 2, 0.03)]
STATUSES = [
    (RollbackStatus.SUCCEEDED, 0.62),
    (RollbackStatus.FAILED, 0.08),
    (RollbackStatus.DENIED, 0.05),
    (RollbackStatus.CANCELLED, 0.10),
    (RollbackStatus.EXPIRED, 0.14),
    (RollbackStatus.PENDING, 0.005),
    (RollbackStatus.RUNNING, 0.005),
]
N_USERS, N_PAGES, N_MODS = 4_000, 6_000, 150
START = datetime(2024, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
EXPORT_ROWS = 100_000
BATCH = 20_000


# ---- data ------------------------------------------------------------------------------------


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


@dataclass
class Population:
    users: list[str]
    user_weights: list[float]
    pages: list[str]
    page_weights: list[float]
    mods: list[int]
    mod_weights: list[float]


def population() -> Population:
    users = [
        f"Vandal {i}" if i % 5 else f"192.0.{i // 256 % 256}.{i % 256}" for i in range(N_USERS)
    ]
    pages = [f"Page {i}" if i % 7 else f"Talk:Discussion {i}" for i in range(N_PAGES)]
    mods = [1_200_000_000_000_000_000 + i for i in range(N_MODS)]
    return Population(
        users, _zipf_weights(N_USERS), pages, _zipf_weights(N_PAGES), mods, _zipf_weights(N_MODS)
    )


def rows(count: int, pop: Population, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Rows in id order (created_at increasing, with some same-second ties)."""
    guild_ids = [g for g, _ in GUILDS]
    guild_weights = [w for _, w in GUILDS]
    statuses = [s.value for s, _ in STATUSES]
    status_weights = [w for _, w in STATUSES]
    step = SPAN / count
    for start in range(0, count, BATCH):
        n = min(BATCH, count - start)
        g = rng.choices(guild_ids, guild_weights, k=n)
        u = rng.choices(pop.users, pop.user_weights, k=n)
        p = rng.choices(pop.pages, pop.page_weights, k=n)
        m = rng.choices(pop.mods, pop.mod_weights, k=n)
        st = rng.choices(statuses, status_weights, k=n)
        for j in range(n):
            i = start + j
            created = (START + step * i).replace(microsecond=0)
            status = st[j]
            ok = status == "succeeded"
            failed = status == "failed"
            yield (
                i + 1,  # id
                created,
                created + timedelta(seconds=5),
                g[j],
                1_100_000_000_000_000_010,  # channel_id
                m[j],
                f"Mod {m[j] % 1000}",
                "https://wiki.example.org/w/api.php",
                p[j],
                1000 + i % 50_000,  # page_id
                u[j],
                "rv vandalism" if i % 3 == 0 else None,
                False,
                status,
                created + timedelta(minutes=2),
                (i % 4) + 1 if status != "denied" else None,
                10_000_000 + i if status != "denied" else None,
                9_000_000 + i if status != "denied" else None,
                20_000_000 + i if ok else None,
                10_000_000 + i if ok else None,
                10_000_000 + i if ok else None,
                "protectedpage" if failed else ("missingrole" if status == "denied" else None),
                "This page has been protected" if failed else None,
                m[j] if ok or failed else None,
                created + timedelta(seconds=3) if ok or failed else None,
                30_000_000 + i,
                40_000_000 + i if status not in ("pending", "running") else None,
                None,
                f"Reverted edits by [[Special:Contributions/{u[j]}|{u[j]}]]" if ok else None,
            )


# The recorded facts, in `rows` order; the bookkeeping columns of migration 0003 (leases,
# re-checks, the log outbox) keep their defaults.
COLUMNS = list(history.EXPORT_COLUMNS)


def fill_sqlite(path: Path, count: int, pop: Population) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        placeholders = ",".join("?" * len(COLUMNS))
        sql = f"INSERT INTO rollback_request ({','.join(COLUMNS)}) VALUES ({placeholders})"

        def adapt(row: tuple[Any, ...]) -> tuple[Any, ...]:
            # The text format SQLAlchemy's SQLite DateTime writes (and compares as text).
            return tuple(
                v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row
            )

        with connection:
            connection.executemany(sql, (adapt(r) for r in rows(count, pop, random.Random(1))))
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def fill_postgres(url: str, count: int, pop: Population) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        generator = rows(count, pop, random.Random(1))
        while True:
            batch = [row for _, row in zip(range(BATCH), generator, strict=False)]
            if not batch:
                break
            await connection.copy_records_to_table(
                "rollback_request", records=batch, columns=COLUMNS
            )
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('rollback_request', 'id'), $1)", count
        )
        # Steady state: autovacuum sets the visibility map that index-only scans (counts) use.
        await connection.execute("VACUUM ANALYZE rollback_request")
    finally:
        await connection.close()


# ---- measuring -------------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q))]


async def timed(calls: Sequence[Callable[[], Awaitable[Any]]]) -> tuple[float, float]:
    await calls[0]()  # warm the cache and the statement cache
    samples = []
    for call in calls:
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), pct(samples, 0.95)


async def cursor_at(sessions: Sessions, filters: SearchFilters, offset: int) -> Cursor | None:
    """The cursor after `offset` rows (set-up only: uses OFFSET, not timed)."""
    async with sessions() as session:
        statement = (
            sa.select(RollbackRequest.created_at, RollbackRequest.id)  # type: ignore[call-overload]
            .where(*history._conditions(filters))
            .order_by(sa.desc("created_at"), sa.desc("id"))
            .offset(offset - 1)
            .limit(1)
        )
        row = (await session.execute(statement)).first()
    return Cursor(row[0], row[1]) if row else None


async def scenarios(
    sessions: Sessions, pop: Population, queries: int
) -> list[tuple[str, float, float, float, float]]:
    rng = random.Random(2)
    now = START + SPAN
    top_users = pop.users[:200]
    top_pages = pop.pages[:200]
    results: list[tuple[str, float, float, float, float]] = []

    def f(**kwargs: Any) -> SearchFilters:
        return SearchFilters(guild_id=MAIN_GUILD, **kwargs)

    def status() -> RollbackStatus:
        return rng.choice([s for s, _ in STATUSES[:5]])

    makers: list[tuple[str, Callable[[], SearchFilters]]] = [
        ("no filter", f),
        ("user", lambda: f(target_user=rng.choice(top_users))),
        ("user (rare)", lambda: f(target_user=rng.choice(pop.users[2000:]))),
        ("page", lambda: f(page_title=rng.choice(top_pages))),
        ("moderator", lambda: f(requester_id=rng.choice(pop.mods[:50]))),
        ("status", lambda: f(status=status())),
        ("since 7d", lambda: f(since=now - timedelta(days=7, hours=rng.randint(0, 48)))),
        ("until 1y ago", lambda: f(until=now - timedelta(days=365 + rng.randint(0, 30)))),
        (
            "user+status",
            lambda: f(target_user=rng.choice(top_users[:50]), status=RollbackStatus.FAILED),
        ),
        (
            "moderator+since 30d",
            lambda: f(requester_id=rng.choice(pop.mods[:20]), since=now - timedelta(days=30)),
        ),
        (
            "user+page (rare combo)",
            lambda: f(target_user=rng.choice(top_users), page_title=rng.choice(top_pages)),
        ),
    ]
    async with sessions() as session:
        for name, make in makers:
            filter_list = [make() for _ in range(queries)]
            page = await timed([lambda fl=fl: history.search(session, fl) for fl in filter_list])
            count = await timed([lambda fl=fl: history.count(session, fl) for fl in filter_list])
            results.append((f"{name}, page 1", *page, *count))

    for name, make in [
        ("no filter", f),
        ("status", lambda: f(status=RollbackStatus.SUCCEEDED)),
        ("moderator", lambda: f(requester_id=pop.mods[0])),
    ]:
        for depth in (100, 1000):
            cursors = []
            base = make()
            for k in range(queries):
                cursor = await cursor_at(sessions, base, (depth - 1) * 10 + k)
                if cursor is not None:
                    cursors.append(cursor)
            if not cursors:
                continue
            async with sessions() as session:
                page = await timed(
                    [lambda c=c, b=base: history.search(session, b, older_than=c) for c in cursors]
                )
                back = await timed(
                    [lambda c=c, b=base: history.search(session, b, newer_than=c) for c in cursors]
                )
            results.append((f"{name}, page {depth} (Next)", *page, float("nan"), float("nan")))
            results.append((f"{name}, page {depth} (Prev)", *back, float("nan"), float("nan")))
    return results


class NullSink:
    def __init__(self) -> None:
        self.rows = 0

    def write_row(self, row: Sequence[Any]) -> bool:
        self.rows += 1
        return True


async def export_run(sessions: Sessions, wanted: int) -> dict[str, float]:
    base = SearchFilters(guild_id=MAIN_GUILD)
    edge = await cursor_at(sessions, base, wanted)
    if edge is None:
        raise SystemExit(f"fewer than {wanted} rows in the main guild; use more --rows")
    filters = SearchFilters(guild_id=MAIN_GUILD, since=edge.created_at)
    service = HistoryService(sessions=sessions)
    out: dict[str, float] = {}

    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    with CsvExport(history.EXPORT_COLUMNS, max_bytes=1 << 30, basename="bench") as export:
        summary = await service.export(filters, export)
        file = export.finish()
        out["csv_mib"] = file.size / 2**20
    out["seconds"] = time.perf_counter() - began
    out["rows"] = summary.rows_written
    out["rss_growth_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before

    gc.collect()
    tracemalloc.start()
    with CsvExport(history.EXPORT_COLUMNS, max_bytes=1 << 30, basename="bench") as export:
        await service.export(filters, export)
        export.finish()
    out["traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    # For comparison: what holding all the rows at once would take.
    gc.collect()
    tracemalloc.start()
    async with sessions() as session:
        held = [r async for r in history.iter_export_rows(session, filters)]
    out["all_in_memory_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    del held
    return out


def explain(engine_name: str, url: str) -> None:
    """Print the plan of a deep filtered page, to show which index answers it."""
    if engine_name != "SQLite":
        return
    path = make_url(url).database or ""
    connection = sqlite3.connect(path)
    plan = connection.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM rollback_request WHERE guild_id = ? AND status = ? "
        "AND created_at <= ? AND (created_at < ? OR id < ?) ORDER BY created_at DESC, id DESC "
        "LIMIT 11",
        (MAIN_GUILD, "succeeded", "2025-06-01", "2025-06-01", 10),
    ).fetchall()
    connection.close()
    print("  plan (status, deep page):", "; ".join(str(step[-1]) for step in plan))


async def run(engine_name: str, url: str, count: int, queries: int, pop: Population) -> None:
    print(f"\n== {engine_name}: {count:,} rows ==")
    engine: AsyncEngine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        began = time.perf_counter()
        if engine_name == "SQLite":
            await asyncio.to_thread(fill_sqlite, Path(make_url(url).database or ""), count, pop)
        else:
            await fill_postgres(url, count, pop)
        print(f"  bulk insert + ANALYZE: {time.perf_counter() - began:.1f} s")
        await engine.dispose()  # fresh connections see the new statistics
        explain(engine_name, url)
        sessions = create_session_factory(engine)
        results = await scenarios(sessions, pop, queries)
        print(f"  {'query':<34} {'page p50':>9} {'p95':>7}   {'count p50':>9} {'p95':>7}  (ms)")
        for name, p50, p95, c50, c95 in results:
            counts = "" if math.isnan(c50) else f"{c50:9.2f} {c95:7.2f}"
            print(f"  {name:<34} {p50:9.2f} {p95:7.2f}   {counts}")
        worst = max(r[2] for r in results)
        print(f"  worst page p95: {worst:.2f} ms (target 20 ms)")
        exp = await export_run(sessions, min(EXPORT_ROWS, int(count * 0.85)))
        print(
            f"  export {exp['rows']:,.0f} rows: {exp['seconds']:.1f} s, "
            f"CSV {exp['csv_mib']:.1f} MiB; tracemalloc peak {exp['traced_peak_mib']:.1f} MiB, "
            f"max-RSS growth {exp['rss_growth_mib']:.1f} MiB (all rows held at once: "
            f"{exp['all_in_memory_mib']:.0f} MiB)"
        )
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--postgres", help="postgresql+asyncpg:// URL (scripts/dev-postgres.sh url)"
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    pop = population()
    if not args.postgres_only:
        with tempfile.TemporaryDirectory() as tmp:
            await run(
                "SQLite",
                f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}",
                args.rows,
                args.queries,
                pop,
            )
    if args.postgres and not args.sqlite_only:
        url, name = await scratch_postgres(args.postgres)
        try:
            await run("PostgreSQL", url, args.rows, args.queries, pop)
        finally:
            await drop_postgres(args.postgres, name)


if __name__ == "__main__":
    asyncio.run(main())
