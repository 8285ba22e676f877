"""A small, fast HTTP/1.1 keep-alive client for the hot path of a load run.

Why not httpx there: on this 2-core machine httpx.AsyncClient spends about 1 ms of CPU per request
(≈1,000 requests/s for a whole core), which would make the driver, not the service, the
bottleneck of a 2,000 dossiers/s target. This client does one request at a time per connection
over a bounded pool of persistent connections, with uvloop it costs ≈0.05 ms per request, and it
speaks only what our services answer: Content-Length or chunked bodies. httpx stays in use for
everything that is not the measured hot path (see ``loadgen.api``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson

from loadgen.safety import require_loopback


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 this client understands."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class ResponseParser:
    """Incremental parser: ``feed`` bytes as they arrive, get back the responses they complete."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: tuple[int, dict[str, str]] | None = None
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> list[Response]:
        self._buffer += data
        done: list[Response] = []
        while (response := self._next()) is not None:
            done.append(response)
        return done

    def _next(self) -> Response | None:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            self._head = _parse_head(bytes(self._buffer[:end]))
            del self._buffer[: end + 4]
        status, headers = self._head
        if status in (204, 304) or 100 <= status < 200:
            body: bytes | None = b""
        elif "transfer-encoding" in headers:
            if headers["transfer-encoding"].lower() != "chunked":
                raise ProtocolError(f"unsupported transfer-encoding {headers['transfer-encoding']!r}")
            body = self._chunked()
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if len(self._buffer) < length:
                return None
            body = bytes(self._buffer[:length])
            del self._buffer[:length]
        else:
            raise ProtocolError("response without Content-Length or chunked encoding")
        if body is None:
            return None
        self._head = None
        return Response(status, headers, body)

    def _chunked(self) -> bytes | None:
        while True:
            line_end = self._buffer.find(b"\r\n")
            if line_end < 0:
                return None
            size = int(bytes(self._buffer[:line_end]).split(b";")[0], 16)
            if size == 0:
                # The last chunk, optional trailer lines, then an empty line.
                end = self._buffer.find(b"\r\n\r\n", line_end)
                if end < 0:
                    return None
                del self._buffer[: end + 4]
                body, self._chunks = b"".join(self._chunks), []
                return body
            if len(self._buffer) < line_end + 2 + size + 2:
                return None
            start = line_end + 2
            self._chunks.append(bytes(self._buffer[start : start + size]))
            del self._buffer[: start + size + 2]


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return int(parts[1]), headers


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = ResponseParser()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            responses = self.parser.feed(data)
        except (ProtocolError, ValueError) as exc:
            self._fail(exc)
            return
        for response in responses:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(response)
            if response.headers.get("connection", "").lower() == "close":
                self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class WirePool:
    """At most ``size`` persistent connections to one loopback server; one request per connection
    at a time. Connections are opened on demand and dropped after any error."""

    def __init__(self, base_url: str, *, size: int, timeout: float = 30.0) -> None:
        self.host, self.port = require_loopback(base_url)
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(size)
        self._host_header = f"Host: {self.host}:{self.port}\r\n".encode()

    async def _connection(self) -> _Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        return conn

    async def request(
        self, method: str, path: str, *, body: bytes | Any = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        """``body``: JSON bytes as they are, or any other value to encode as JSON; None for no body."""
        if body is not None and not isinstance(body, bytes):
            body = orjson.dumps(body)
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self._host_header
        if body is not None:
            head += b"Content-Type: application/json\r\n"
        body = body or b""
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n".encode()
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        async with self._slots:
            conn = await self._connection()
            try:
                assert conn.transport is not None
                conn.waiter = asyncio.get_running_loop().create_future()
                conn.transport.write(head + body)
                async with asyncio.timeout(self.timeout):
                    response = await conn.waiter
            except BaseException:
                conn.close()
                raise
            conn.waiter = None
            if not conn.closed:
                self._idle.append(conn)
            return response

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
