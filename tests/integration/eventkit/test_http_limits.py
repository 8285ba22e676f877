"""A service's server as every service runs it (eventkit.serve): a request's head has a size limit."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from fastapi import FastAPI

from eventkit.serve import BoundedHttpTools, server_config
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(server_config(app, "127.0.0.1", port))
    task = asyncio.create_task(server.serve())
    try:
        async def started() -> bool:
            return bool(server.started)

        await eventually(started, timeout=10)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def exchange(port: int, head: bytes, pad: int = 0) -> tuple[bytes, int]:
    """Send ``head`` then ``pad`` bytes of one more header, in 64 KiB pieces; the answer, and how much
    was sent before the server answered or closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent, answer = 0, b""
    try:
        writer.write(head)
        sent += len(head)
        if pad:
            writer.write(b"X-Pad: ")
            for _ in range(pad // 65536):
                writer.write(b"a" * 65536)
                await writer.drain()
                sent += 65536
                with contextlib.suppress(TimeoutError):
                    answer = await asyncio.wait_for(reader.read(4096), 0.01)
                if answer or reader.at_eof():
                    break
        writer.write(b"\r\n\r\n")
        await writer.drain()
        answer += await asyncio.wait_for(reader.read(), 10)
    except ConnectionError:
        pass  # closed on us: what came is the answer
    writer.close()
    return answer, sent


async def test_a_request_head_past_the_limit_is_refused_and_a_normal_one_served() -> None:
    """httptools has no limit: a 200 MiB header grew a service by 400 MiB."""
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    async with serving(app) as port:
        fine, _ = await exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: 1")
        assert fine.startswith(b"HTTP/1.1 200") and fine.endswith(b'{"ok":true}')
        huge, sent = await exchange(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n", pad=4 * 2**20)
        assert huge.startswith(b"HTTP/1.1 431") or not huge  # answered, or closed before we could read it
        assert sent < 2**20  # stopped well before the 4 MiB were in
    assert BoundedHttpTools.max_head_bytes == 64 * 1024
