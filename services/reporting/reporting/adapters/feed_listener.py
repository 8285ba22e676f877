"""LISTEN for the feed items projections announce with ``pg_notify`` and hand them on; what
those notifications say.

One connection per process, held for the process's life and re-established when it breaks
(with backoff, and a ping so a silently dead connection is noticed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eventkit.backoff import backoff_delay, stop_if_cancelled
from eventkit.logging import get_logger
from reporting.domain.feed import FeedItem

log = get_logger(__name__)

#: PostgreSQL refuses a NOTIFY payload of 8000 bytes or more, and the refusal fails the transaction:
#: an event whose feed item was that long (a registry's error code is the system's own text) was
#: never projected, only retried and dead-lettered, and its replay failed the same way.
NOTIFY_MAX_BYTES = 7999

#: Tells every replica's subscribers they missed items (:meth:`Broadcaster.gap`).
GAP_MESSAGE = '{"gap":true}'


def announcement(origin: str, item: FeedItem) -> str:
    """The notification of one feed item, under :data:`NOTIFY_MAX_BYTES`: without its details if
    they make it too long, a gap (the subscriber reads the event from the recent list) if even the
    rest does."""
    whole = item.to_json_dict()
    for fitted in (whole, {**whole, "detail": {}}):
        message = orjson.dumps({"origin": origin, "item": fitted})
        if len(message) <= NOTIFY_MAX_BYTES:
            return message.decode()
    return GAP_MESSAGE


async def announce_gap(conn: AsyncConnection, channel: str) -> None:
    """Every replica's subscribers are told they missed items, once ``conn``'s transaction commits."""
    await conn.execute(text("SELECT pg_notify(:channel, :message)"), {"channel": channel, "message": GAP_MESSAGE})


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
                    stop_if_cancelled(exc)
                    log.warning("feed listener lost its connection", error=repr(exc))
                except Exception as exc:  # asyncpg and SQLAlchemy wrap connection loss in their own types
                    stop_if_cancelled(exc)
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
