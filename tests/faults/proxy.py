"""A tiny HTTP proxy on 127.0.0.1 that sits in front of a dev wiki and misbehaves on cue.

It understands just enough HTTP/1.1 for rollbot talking to ``php -S``: one request per client
connection (``php -S`` answers every request with ``Connection: close``), bodies sized by
``Content-Length``. Every request is forwarded untouched except the ``action=rollback`` POSTs,
which follow the next entry of ``rollback_faults`` (then :attr:`Fault.PASS`):

- ``HOLD_UNSENT``  never forward; keep the client waiting until it gives up (its read timeout,
                   or it is killed). The wiki never sees the rollback.
- ``RESET_UNSENT`` never forward; drop the connection at once (TCP RST).
- ``HOLD_ANSWER``  forward, read the wiki's whole answer (the wiki has acted), then withhold it
                   until the client gives up.
- ``RESET_ANSWER`` forward, read the answer, then drop the connection without relaying it.
- ``HOLD_UNTIL_RELEASED`` keep the rollback POST (unsent) until ``release`` is set, then
                   forward it and relay the answer: a wiki slow to act, as long as a test needs.
- ``RESET_LATE_COMMIT`` drop the client's connection at once (its answer is lost), but keep the
                   request and forward it to the wiki only after ``late_commit_after_reads``
                   more read requests were answered: a commit still in flight, or a replica
                   that lags, as the bot's follow-up reads see it.

Tests synchronise on events, never on sleeps: ``rollback_arrived`` is set when a rollback POST
reached the proxy, ``rollback_answered`` when the wiki has answered one. ``after_answer`` (an
async hook) runs after the wiki answered and before anything is relayed, e.g. to break the
database at exactly that moment. Counters say how many rollback POSTs arrived and how many were
forwarded; ``log`` lists every request as ``(method, action)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit

_MAX_HEAD = 64 * 1024
_MAX_BODY = 8 * 1024 * 1024
# Upper bounds, so no test can hang on the proxy: how long to wait for the wiki's answer, and
# for a held client to give up.
UPSTREAM_TIMEOUT = 30.0
HOLD_TIMEOUT = 60.0


class Fault(enum.Enum):
    PASS = "pass"
    HOLD_UNSENT = "hold-unsent"
    RESET_UNSENT = "reset-unsent"
    HOLD_ANSWER = "hold-answer"
    RESET_ANSWER = "reset-answer"
    RESET_LATE_COMMIT = "reset-late-commit"
    HOLD_UNTIL_RELEASED = "hold-until-released"


@dataclass
class _Request:
    raw: bytes
    method: str
    action: str | None

    @property
    def is_rollback(self) -> bool:
        return self.method == "POST" and self.action == "rollback"


@dataclass
class FaultProxy:
    """``async with FaultProxy(upstream_port) as proxy: proxy.api_url ...``"""

    upstream_port: int
    upstream_host: str = "127.0.0.1"
    rollback_faults: list[Fault] = field(default_factory=list)
    after_answer: Callable[[], Awaitable[None]] | None = None
    late_commit_after_reads: int = 1
    release: asyncio.Event = field(default_factory=asyncio.Event)

    rollback_posts: int = 0  # action=rollback POSTs that reached the proxy
    rollbacks_forwarded: int = 0  # ... of which the wiki received
    log: list[tuple[str, str | None]] = field(default_factory=list)
    rollback_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    rollback_answered: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _late: bytes | None = None  # a RESET_LATE_COMMIT rollback not yet forwarded
    _late_reads: int = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api.php"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening (new connections are refused) and end every open exchange."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- one exchange ------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.log.append((request.method, request.action))
            fault = Fault.PASS
            if request.is_rollback:
                self.rollback_posts += 1
                if self.rollback_faults:
                    fault = self.rollback_faults.pop(0)
                self.rollback_arrived.set()
            await self._exchange(request, fault, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; nothing to relay
        finally:
            self._handlers.discard(task)
            if not writer.is_closing():
                writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _exchange(
        self,
        request: _Request,
        fault: Fault,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        if fault is Fault.HOLD_UNSENT:
            await _until_client_gives_up(reader)
            return
        if fault is Fault.RESET_UNSENT:
            _reset(writer)
            return
        if fault is Fault.HOLD_UNTIL_RELEASED:
            async with asyncio.timeout(HOLD_TIMEOUT):
                await self.release.wait()
        if fault is Fault.RESET_LATE_COMMIT:
            self._late, self._late_reads = request.raw, 0
            _reset(writer)
            return
        answer = await self._forward(request.raw, rollback=request.is_rollback)
        if self._late is not None and request.method == "GET":
            self._late_reads += 1
            if self._late_reads >= self.late_commit_after_reads:
                # The read was answered (without the rollback); now the rollback commits.
                late, self._late = self._late, None
                await self._forward(late, rollback=True)
                self.rollback_answered.set()
        if request.is_rollback:
            self.rollback_answered.set()
            if self.after_answer is not None:
                await self.after_answer()
        if fault is Fault.HOLD_ANSWER:
            await _until_client_gives_up(reader)
            return
        if fault is Fault.RESET_ANSWER:
            _reset(writer)
            return
        writer.write(answer)
        await writer.drain()

    async def _forward(self, raw: bytes, *, rollback: bool) -> bytes:
        """Send the request to the wiki and read its whole answer (it closes the connection)."""
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            if rollback:
                self.rollbacks_forwarded += 1
            up_writer.write(raw)
            await up_writer.drain()
            async with asyncio.timeout(UPSTREAM_TIMEOUT):
                return await up_reader.read(-1)
        finally:
            up_writer.close()
            with contextlib.suppress(ConnectionError):
                await up_writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # connected and left (e.g. a connection-pool probe)
    if len(head) > _MAX_HEAD:
        raise ConnectionError("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length > _MAX_BODY:
        raise ConnectionError("request body too large")
    body = await reader.readexactly(length) if length else b""
    if method == "POST":
        params = parse_qs(body.decode("utf-8", "replace"))
    else:
        params = parse_qs(urlsplit(target).query)
    action = params.get("action", [None])[0]
    return _Request(raw=head + body, method=method, action=action)


async def _until_client_gives_up(reader: asyncio.StreamReader) -> None:
    """Wait (bounded) until the client closes its side: its timeout fired, or it was killed."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(HOLD_TIMEOUT):
            while await reader.read(65536):
                pass


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed server or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
