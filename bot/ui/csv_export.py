"""The CSV file of `/rollback-log export`: safe cells, bounded size, rows written as they come.

- UTF-8 with a header row; timestamps ISO 8601 UTC; empty cells for unknown values.
- Formula injection: a spreadsheet runs a cell beginning with `=`, `+`, `-`, `@`, a tab or a
  carriage return as a formula (OWASP "CSV injection"); such cells get a leading `'`.
- Size: the file must fit in one Discord attachment (`max_bytes`). Rows go to a plain CSV file
  and, alongside, to a gzip file; once the plain file would pass the limit it is dropped, and
  once the gzip file would pass it `write_row` returns False so the caller stops and reports the
  rows left out. Both files are on disk: memory holds one row at a time.
"""

from __future__ import annotations

import csv
import enum
import gzip
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# zlib keeps compressed output back until a block is full; this much headroom covers what it
# may still emit, plus the gzip trailer, when the file is closed.
GZIP_HEADROOM = 64 * 1024


def neutralise(text: str) -> str:
    """`text` as a cell no spreadsheet runs as a formula."""
    return "'" + text if text.startswith(DANGEROUS_PREFIXES) else text


def cell(value: Any) -> str:
    """One CSV cell for a value from the audit table."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        value = value.value
    return neutralise(str(value))


@dataclass(frozen=True, slots=True)
class ExportFile:
    path: Path
    filename: str
    compressed: bool
    size: int


class CsvExport:
    """A size-capped CSV export on disk. Use as a context manager: the files are removed after."""

    def __init__(
        self,
        columns: Sequence[str],
        *,
        max_bytes: int,
        basename: str,
        directory: Path | None = None,
    ) -> None:
        if max_bytes <= GZIP_HEADROOM:
            raise ValueError(f"max_bytes must exceed {GZIP_HEADROOM}")
        self.max_bytes = max_bytes
        self.basename = basename
        self.rows = 0
        self._dir = tempfile.TemporaryDirectory(prefix="rollbot-export-", dir=directory)
        root = Path(self._dir.name)
        self._plain_path = root / f"{basename}.csv"
        self._gzip_path = root / f"{basename}.csv.gz"
        self._plain: IO[bytes] | None = self._plain_path.open("wb")
        self._gzip_raw: IO[bytes] = self._gzip_path.open("wb")
        self._gzip = gzip.GzipFile(
            filename=f"{basename}.csv", mode="wb", fileobj=self._gzip_raw, mtime=0
        )
        self._plain_size = 0
        self._line = io.StringIO()
        self._writer = csv.writer(self._line, lineterminator="\r\n")
        self._finished: ExportFile | None = None
        if not self._write([neutralise(name) for name in columns]):
            raise ValueError("max_bytes is too small for the header")

    def write_row(self, row: Sequence[Any]) -> bool:
        """Add one row; False (and nothing written) if it would not fit any more."""
        if self._finished is not None:
            raise RuntimeError("export already finished")
        if self._write([cell(value) for value in row]):
            self.rows += 1
            return True
        return False

    def _write(self, cells: list[str]) -> bool:
        self._line.seek(0)
        self._line.truncate()
        self._writer.writerow(cells)
        data = self._line.getvalue().encode("utf-8")
        if self._gzip_raw.tell() + len(data) + GZIP_HEADROOM > self.max_bytes:
            return False
        if self._plain is not None:
            if self._plain_size + len(data) <= self.max_bytes:
                self._plain.write(data)
                self._plain_size += len(data)
            else:  # too big uncompressed: from now on only the gzip file counts
                self._plain.close()
                self._plain = None
                self._plain_path.unlink()
        self._gzip.write(data)
        return True

    def finish(self) -> ExportFile:
        """Close the files; the plain CSV if it fits, else the gzip one."""
        if self._finished is not None:
            return self._finished
        self._gzip.close()
        self._gzip_raw.close()
        if self._plain is not None:
            self._plain.close()
            self._plain = None
            self._gzip_path.unlink()
            path, compressed = self._plain_path, False
        else:
            path, compressed = self._gzip_path, True
        self._finished = ExportFile(path, path.name, compressed, path.stat().st_size)
        return self._finished

    def close(self) -> None:
        for handle in (self._plain, self._gzip, self._gzip_raw):
            if handle is not None and not handle.closed:
                handle.close()
        self._dir.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
