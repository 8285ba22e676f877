"""LISTEN for the feed items projections announce with ``pg_notify`` and hand them on.

One connection per process, held for the process's life and re-established when it breaks
(with backoff, and a ping so a silently dead connection is noticed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from eventkit.backoff import backoff_delay
from eventkit.logging import get_logger

log = get_logger(__name__)


class FeedListener:
    """Calls ``on_message`` with each decoded notification on ``channel``."""

    def __init__(
        self,
        engine: AsyncEngine,
        channel: str,
        on_message: Callable[[dict[str, Any]], None],
        *,
        ping_seconds: float = 10.0,
        on_stop: Callable[[], None] | None = None,
        on_gap: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self.channel = channel
        self._on_message = on_message
        self._ping_seconds = ping_seconds
        self._on_stop = on_stop
        #: Called once listening again after a lost connection: notifications sent meanwhile are gone.
        self._on_gap = on_gap
        self._lost = False
        self.listening = asyncio.Event()

    def _deliver(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("undecodable feed notification", channel=self.channel)
            return
        self._on_message(message)

    async def run(self) -> None:
        attempt = 0
        try:
            while True:
                try:
                    await self._listen()
                except (OSError, ConnectionError, TimeoutError) as exc:
                    log.warning("feed listener lost its connection", error=repr(exc))
                except Exception as exc:  # asyncpg and SQLAlchemy wrap connection loss in their own types
                    log.warning("feed listener failed", error=repr(exc))
                attempt = 1 if self.listening.is_set() else attempt + 1  # a working connection resets the backoff
                self._lost = self._lost or self.listening.is_set()
                self.listening.clear()
                await asyncio.sleep(backoff_delay(attempt, base=0.2, cap=5.0))
        finally:
            self.listening.clear()
            if self._on_stop:
                self._on_stop()

    async def _listen(self) -> None:
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            closed = asyncio.Event()
            driver.add_termination_listener(lambda _c: closed.set())
            await driver.add_listener(self.channel, self._deliver)
            self.listening.set()
            if self._lost:
                self._lost = False
                if self._on_gap:
                    self._on_gap()
            try:
                while not closed.is_set():
                    try:
                        await asyncio.wait_for(closed.wait(), timeout=self._ping_seconds)
                    except TimeoutError:
                        await asyncio.wait_for(driver.execute("SELECT 1"), timeout=self._ping_seconds)
            finally:
                if not driver.is_closed():
                    await driver.remove_listener(self.channel, self._deliver)
