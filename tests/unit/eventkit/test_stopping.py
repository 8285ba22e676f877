"""Retrying loops stop when cancelled, even when the cancellation surfaces as a driver's error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import create_async_engine

from eventkit import consumer as consumer_module
from eventkit.batching import GroupWriter, Waiting, WriterPool, WriterStopped
from eventkit.consumer import Dispatcher, InboxConsumer
from eventkit.kafka import KafkaPublisher
from eventkit.relay import OutboxRelay
from tests.support.cancellation import InterruptedCall, stopped_when_cancelled


class CancelTurnedIntoError(KafkaPublisher):
    """A broker client that reports the first cancellation of its connect as a connection error."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1:1", client_id="t")
        self.connecting = InterruptedCall(ConnectionError("connection closed in the middle of the operation"))

    async def start(self) -> None:
        await self.connecting()


async def test_a_relay_stops_when_its_cancellation_surfaces_as_a_connection_error() -> None:
    engine = create_async_engine("postgresql+asyncpg://u@127.0.0.1:1/x")  # never reached
    publisher = CancelTurnedIntoError()
    relay = OutboxRelay(engine, publisher, poll_seconds=0.01)
    stopped = await stopped_when_cancelled(asyncio.create_task(relay.run()), publisher.connecting.entered)
    await engine.dispose()
    assert stopped


class InterruptedKafkaConsumers:
    """Stands in for AIOKafkaConsumer: a client whose start waits for the broker and reports the first
    cancellation of it as the client's own connection error."""

    def __init__(self) -> None:
        self.starting = InterruptedCall(KafkaConnectionError("connection closed in the middle of the operation"))
        self.built = 0

    def __call__(self, **_config: Any) -> InterruptedKafkaConsumers:
        self.built += 1
        return self

    def subscribe(self, topics: list[str], listener: Any) -> None:
        pass

    async def start(self) -> None:
        await self.starting()

    async def stop(self) -> None:
        pass


async def test_a_consumer_connecting_stops_when_its_cancellation_surfaces_as_a_kafka_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Connecting took the stop for a broker out of reach: it backed off and built a new client, and
    the service's stop waited its 10 s for a consumer that would connect to nothing."""
    clients = InterruptedKafkaConsumers()
    monkeypatch.setattr(consumer_module, "AIOKafkaConsumer", clients)
    consumer = InboxConsumer(
        None, Dispatcher({}), None,  # type: ignore[arg-type]  # neither database nor broker is reached
        name="t", topics=["t.events"], bootstrap_servers="127.0.0.1:1",
    )  # fmt: skip
    assert await stopped_when_cancelled(asyncio.create_task(consumer.run()), clients.starting.entered)
    assert clients.built == 1


class InterruptedWrites:
    """A write function whose first call reports its cancellation as the driver's own error; the
    writes after it go through, and are recorded."""

    def __init__(self) -> None:
        self.first = InterruptedCall(PendingRollbackError("interrupted in the middle of the operation"))
        self.written: list[list[int]] = []

    async def __call__(self, items: list[int]) -> None:
        if not self.first.turned:
            await self.first()
        self.written.append(items)


class PlainPool(WriterPool[int, None]):
    """A writer pool whose batch write lets the driver's error out (as intake's group commit does
    when its connection breaks)."""

    def __init__(self, write: InterruptedWrites, max_batch: int) -> None:
        super().__init__(name="test", max_batch=max_batch, writers=1)
        self._write_items = write

    async def _write(self, batch: list[Waiting[int, None]]) -> None:
        await self._write_items([w.item for w in batch])
        for waiting in batch:
            waiting.settle(None)


WRITERS: dict[str, Callable[[InterruptedWrites], WriterPool[int, None]]] = {
    "a batch": lambda write: GroupWriter(write, name="test", max_batch=2),
    "an item alone": lambda write: GroupWriter(write, name="test", max_batch=1),
    "a pool's own batch write": lambda write: PlainPool(write, max_batch=2),
}


@pytest.mark.parametrize("writer_of", WRITERS.values(), ids=WRITERS.keys())
async def test_a_group_writer_stops_when_its_cancellation_surfaces_as_a_database_error(
    writer_of: Callable[[InterruptedWrites], WriterPool[int, None]],
) -> None:
    """The writer took the stop for a failed write: it failed the batch with the driver's error (or
    wrote its items again one by one) and went on writing the queue, so its callers never heard
    that the service was stopping."""
    write = InterruptedWrites()
    writer = writer_of(write)
    puts = [asyncio.create_task(writer._put(item)) for item in range(3)]
    await asyncio.wait_for(write.first.entered.wait(), timeout=5)
    assert await stopped_when_cancelled(next(iter(writer._tasks)), write.first.entered)
    results = await asyncio.gather(*puts, return_exceptions=True)
    assert all(isinstance(r, WriterStopped) for r in results), results
    assert write.written == []


async def test_a_writer_stopped_before_it_ran_fails_what_waits_for_it() -> None:
    """A writer task cancelled before its first step never reached its own clean-up: the items queued
    for it were failed by nobody, and their callers waited until the event loop ended."""
    write = InterruptedWrites()
    writer = GroupWriter(write, name="test")
    put = asyncio.create_task(writer.put(1))
    await asyncio.sleep(0)  # queued, its writer created but not yet run
    assert writer._tasks
    await writer.stop()  # in this step: the writer is cancelled before its first
    with pytest.raises(WriterStopped):
        await asyncio.wait_for(put, timeout=2)
    assert not write.first.entered.is_set()  # stopped before it wrote anything
