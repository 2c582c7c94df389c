"""The CSV export file: formula neutralisation, encoding, and the attachment size cap."""

from __future__ import annotations

import csv
import gzip
import io
import random
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.db.models import RollbackStatus
from bot.ui.csv_export import GZIP_HEADROOM, CsvExport, cell, neutralise

COLUMNS = ("id", "created_at", "page_title", "summary", "markbot", "status", "revid")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Main Page", "Main Page"),
        ("a=b", "a=b"),  # only the first character matters
        ("", ""),
        (" =x", " =x"),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    assert neutralise(text) == expected


def test_cells() -> None:
    when = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    assert cell(None) == ""
    assert cell(True) == "true"
    assert cell(when) == "2026-11-01T12:30:00+00:00"
    assert cell(RollbackStatus.FAILED) == "failed"
    assert cell(1234567890123456789) == "1234567890123456789"


def _read(path: Path, compressed: bool) -> list[list[str]]:
    data = path.read_bytes()
    if compressed:
        data = gzip.decompress(data)
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_small_export_is_plain_utf8_csv_with_header() -> None:
    when = datetime(2026, 11, 1, tzinfo=UTC)
    with CsvExport(COLUMNS, max_bytes=1 << 20, basename="log") as export:
        assert export.write_row(
            (1, when, 'Ünïcødé, "quoted"\nline', "=cmd()", False, RollbackStatus.SUCCEEDED, None)
        )
        result = export.finish()
        assert not result.compressed
        assert result.filename == "log.csv"
        assert result.size == result.path.stat().st_size
        rows = _read(result.path, compressed=False)
    assert rows[0] == list(COLUMNS)
    assert rows[1] == [
        "1",
        "2026-11-01T00:00:00+00:00",
        'Ünïcødé, "quoted"\nline',
        "'=cmd()",
        "false",
        "succeeded",
        "",
    ]
    assert not result.path.exists()  # removed on exit


def test_too_big_for_plain_is_gzipped() -> None:
    limit = 200_000
    with CsvExport(COLUMNS, max_bytes=limit, basename="log") as export:
        for i in range(5_000):  # ~300 kB of repetitive text: too big plain, small gzipped
            assert export.write_row(
                (i, None, "Main Page", "reverting vandalism " * 3, True, "failed", i)
            )
        result = export.finish()
        assert result.compressed
        assert result.filename == "log.csv.gz"
        assert result.size <= limit
        rows = _read(result.path, compressed=True)
    assert len(rows) == 5_001
    assert rows[-1][0] == "4999"


def test_stops_when_even_gzip_would_not_fit() -> None:
    rng = random.Random(4)
    limit = GZIP_HEADROOM + 100_000
    with CsvExport(COLUMNS, max_bytes=limit, basename="log") as export:
        written = 0
        for i in range(10_000):
            noise = "".join(rng.choices(string.ascii_letters, k=200))  # barely compressible
            if not export.write_row((i, None, noise, noise, False, "failed", i)):
                break
            written += 1
        assert 0 < written < 10_000
        assert not export.write_row((0, None, "x", "x", False, "failed", 0))  # stays full
        result = export.finish()
        assert result.compressed
        assert result.size <= limit
        rows = _read(result.path, compressed=True)
    assert len(rows) == written + 1
    assert export.rows == written


def test_a_limit_below_the_headroom_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        CsvExport(COLUMNS, max_bytes=1000, basename="log")
