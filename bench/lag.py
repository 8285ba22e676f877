"""Live projection lag, as an operator sees it: how long after an event occurred does it appear on
reporting's live stream (SSE, sent once the projection has committed)? Both clocks are this
machine's, so receive time − ``occurred_at`` is the lag, plus the stream's own small overhead."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime

import httpx
import orjson

from loadgen.safety import require_loopback
from loadgen.stats import Latencies

# One event type per producing service keeps the stream (and this reader) light.
SAMPLED_TYPES = "DossierSubmitted,ResultIssued,RegistryCommandSucceeded,BundleCompleted"


class StreamLag:
    def __init__(self, reporting_url: str, types: str = SAMPLED_TYPES) -> None:
        require_loopback(reporting_url)
        self.url = f"{reporting_url}/v1/events/stream"
        self.types = types
        self.lags = Latencies()
        self.dropped = 0
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    async def start(self, timeout: float = 10.0) -> bool:
        self._task = asyncio.create_task(self._read())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self._connected.is_set()

    async def _read(self) -> None:
        try:
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), trust_env=False) as client,
                client.stream("GET", self.url, params={"type": self.types}) as response,
            ):
                if response.status_code != 200:
                    self.error = f"stream answered {response.status_code}"
                    return
                self._connected.set()
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        self._data(event, line[5:].strip())
                        event = ""
        except httpx.HTTPError as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def _data(self, event: str, data: str) -> None:
        received = time.time()
        item = orjson.loads(data)
        if event == "dropped":
            self.dropped += int(item.get("dropped", 0))
        elif "occurred_at" in item:
            self.lags.add(max(0.0, received - datetime.fromisoformat(item["occurred_at"]).timestamp()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
