"""`HistoryService.export` on both databases: all rows, or the newest and a left-out count."""

from __future__ import annotations

import csv
import gzip
import io
import random
import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.history import EXPORT_COLUMNS, SearchFilters
from bot.db.models import RollbackStatus
from bot.services.history import HistoryService
from bot.ui.csv_export import GZIP_HEADROOM, CsvExport
from tests.db.factories import SNOWFLAKE, build_request

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


async def _fill(sessions: Sessions, count: int, **overrides: Any) -> None:
    rng = random.Random(7)
    async with sessions.begin() as session:
        for i in range(count):
            when = T0 + timedelta(seconds=i)
            fields: dict[str, Any] = {
                "created_at": when,
                "updated_at": when,
                "status": RollbackStatus.SUCCEEDED,
                "summary": "=" + "".join(rng.choices(string.ascii_letters, k=400)),
            }
            fields.update(overrides)
            session.add(build_request(**fields))


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


class ListSink:
    def __init__(self, capacity: int) -> None:
        self.rows: list[Sequence[Any]] = []
        self.capacity = capacity

    def write_row(self, row: Sequence[Any]) -> bool:
        if len(self.rows) >= self.capacity:
            return False
        self.rows.append(row)
        return True


async def test_export_writes_every_row_of_the_guild(session_factory: Sessions) -> None:
    await _fill(session_factory, 25)
    await _fill(session_factory, 3, guild_id=SNOWFLAKE + 1)
    service = HistoryService(sessions=session_factory)
    with CsvExport(EXPORT_COLUMNS, max_bytes=1 << 20, basename="log") as export:
        summary = await service.export(SearchFilters(guild_id=SNOWFLAKE), export)
        result = export.finish()
        rows = _read(result.path.read_bytes())
    assert (summary.rows_written, summary.rows_left_out) == (25, 0)
    assert rows[0] == list(EXPORT_COLUMNS)
    assert len(rows) == 26
    summaries = [row[EXPORT_COLUMNS.index("summary")] for row in rows[1:]]
    assert all(s.startswith("'=") for s in summaries)
    ids = [int(row[0]) for row in rows[1:]]
    assert ids == sorted(ids, reverse=True)  # newest first


async def test_export_stops_when_full_and_counts_the_rest(session_factory: Sessions) -> None:
    await _fill(session_factory, 30)
    service = HistoryService(sessions=session_factory)
    sink = ListSink(capacity=12)
    summary = await service.export(SearchFilters(guild_id=SNOWFLAKE), sink)
    assert (summary.rows_written, summary.rows_left_out) == (12, 18)

    nothing_fits = ListSink(capacity=0)
    summary = await service.export(SearchFilters(guild_id=SNOWFLAKE), nothing_fits)
    assert (summary.rows_written, summary.rows_left_out) == (0, 30)


async def test_export_to_a_small_attachment_is_gzipped_then_cut(session_factory: Sessions) -> None:
    await _fill(session_factory, 600)  # ~330 kB of random text: even gzipped, too big
    service = HistoryService(sessions=session_factory)
    limit = GZIP_HEADROOM + 120_000
    with CsvExport(EXPORT_COLUMNS, max_bytes=limit, basename="log") as export:
        summary = await service.export(SearchFilters(guild_id=SNOWFLAKE), export)
        result = export.finish()
        assert result.compressed
        assert result.size <= limit
        rows = _read(gzip.decompress(result.path.read_bytes()))
    assert 0 < summary.rows_written < 600
    assert summary.rows_written + summary.rows_left_out == 600
    assert len(rows) == summary.rows_written + 1
