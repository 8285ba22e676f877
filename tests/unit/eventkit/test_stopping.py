"""Retrying loops stop when cancelled, even when the cancellation surfaces as a driver's error."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import create_async_engine

from eventkit.kafka import KafkaPublisher
from eventkit.relay import OutboxRelay


class CancelTurnedIntoError(KafkaPublisher):
    """A broker client that reports the first cancellation of its connect as a connection error."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1:1", client_id="t")
        self.connecting = asyncio.Event()
        self.turned = False

    async def start(self) -> None:
        self.connecting.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.turned:  # only once, so that a failing test still ends
                raise
            self.turned = True
            raise ConnectionError("connection closed in the middle of the operation") from None


async def test_a_relay_stops_when_its_cancellation_surfaces_as_a_connection_error() -> None:
    engine = create_async_engine("postgresql+asyncpg://u@127.0.0.1:1/x")  # never reached
    publisher = CancelTurnedIntoError()
    relay = OutboxRelay(engine, publisher, poll_seconds=0.01)
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(publisher.connecting.wait(), timeout=5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if task not in done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await engine.dispose()
    assert task in done and task.cancelled()
