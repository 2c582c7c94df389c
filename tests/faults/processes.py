"""Start and talk to `bot_process.py` children from a test (bounded waits throughout)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.conftest import devwiki

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
ANSWER_TIMEOUT = 30.0


@dataclass
class BotProcess:
    proc: asyncio.subprocess.Process
    stderr_path: Path

    @classmethod
    async def start(
        cls, *, db_url: str, api_url: str, wiki: devwiki.RunningWiki, stderr_path: Path
    ) -> BotProcess:
        config = {
            "db_url": db_url,
            "api_url": api_url,
            "username": wiki.rollbot_login.username,
            "password": wiki.rollbot_login.password,
            "user_agent": wiki.user_agent,
        }
        with stderr_path.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.faults.bot_process",
                json.dumps(config),
                cwd=REPO,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        return cls(proc, stderr_path)

    async def ready(self) -> None:
        line = await self._line(START_TIMEOUT)
        assert line == "ready", self._failure(f"expected ready, got {line!r}")

    def go(self, request_id: int) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"go {request_id}\n".encode())

    def reconcile(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"reconcile\n")

    async def answer(self) -> dict[str, Any]:
        line = await self._line(ANSWER_TIMEOUT)
        try:
            report: dict[str, Any] = json.loads(line)
        except ValueError:
            raise AssertionError(self._failure(f"not a report: {line!r}")) from None
        return report

    async def kill(self) -> int:
        self.proc.kill()  # SIGKILL: no clean-up, no finally blocks
        return await asyncio.wait_for(self.proc.wait(), ANSWER_TIMEOUT)

    async def close(self) -> None:
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def _line(self, limit: float) -> str:
        assert self.proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), limit)
        except TimeoutError:
            raise AssertionError(self._failure("no answer in time")) from None
        if not raw:
            raise AssertionError(self._failure("the process ended"))
        return raw.decode().strip()

    def _failure(self, what: str) -> str:
        tail = self.stderr_path.read_text(errors="replace")[-3000:]
        return f"bot process: {what}\n--- its stderr ---\n{tail}"
