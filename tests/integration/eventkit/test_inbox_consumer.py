"""The inbox consumer against the real broker and database: redelivery has no second effect,
and a poison event goes to the dead-letter topic while the partition moves on."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from eventkit import dlq
from eventkit.consumer import Dispatcher, InboxConsumer
from eventkit.kafka import KafkaPublisher
from eventkit.uow import SqlUnitOfWork
from tests.support.events import SomethingHappened, happened
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic

pytestmark = pytest.mark.integration


async def record_effect(envelope: Envelope, uow: SqlUnitOfWork) -> None:
    event = SomethingHappened.model_validate(envelope.payload)
    if event.fail:
        raise ValueError(f"cannot handle n={event.n}")
    await uow.conn.execute(text("INSERT INTO effects (n) VALUES (:n)"), {"n": event.n})


@pytest.fixture
async def effects_table(migrated: AsyncEngine) -> AsyncEngine:
    async with migrated.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (n INTEGER NOT NULL)"))
    return migrated


@contextlib.asynccontextmanager
async def running_consumer(
    engine: AsyncEngine, infra: Infra, topic: str, dispatcher: Dispatcher | None = None
) -> AsyncIterator[InboxConsumer]:
    publisher = KafkaPublisher(infra.bootstrap_servers, client_id="dlq-test")
    consumer = InboxConsumer(
        engine,
        dispatcher or Dispatcher({SomethingHappened.event_type: record_effect}),
        publisher,
        name=f"tests.{topic}",
        topics=[topic],
        bootstrap_servers=infra.bootstrap_servers,
        max_attempts=3,
        retry_base_seconds=0.01,
        session_timeout_ms=2000,  # Tansu accepts short sessions; a restarted member rejoins fast
        heartbeat_interval_ms=500,
    )
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        if task.done():
            task.result()  # surface a crash of the loop itself
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await publisher.stop()


async def produce(infra: Infra, topic: str, values: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key.encode())
    finally:
        await producer.stop()


async def effects(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT n FROM effects ORDER BY n"))).scalars())


async def test_a_redelivered_event_is_handled_once(effects_table: AsyncEngine, infra: Infra, topic: str) -> None:
    first, second = happened("d-1", 1), happened("d-1", 2)
    # The same event three times, as a relay crash before its delete (or a rebalance) would deliver it.
    messages = [("d-1", first.to_json())] * 3 + [("d-1", second.to_json())]
    await produce(infra, topic, messages)
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 4))
        assert await effects(effects_table) == [1, 2]
        assert (consumer.stats.processed, consumer.stats.duplicates) == (2, 2)
    # A new consumer of the same group after a restart: committed offsets, nothing re-applied.
    await produce(infra, topic, [("d-1", first.to_json())])
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 1))
        assert consumer.stats.duplicates == 1
    assert await effects(effects_table) == [1, 2]


async def test_poison_events_go_to_the_dead_letter_topic_and_the_next_event_is_processed(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    await produce(
        infra,
        topic,
        [
            ("d-2", happened("d-2", 1).to_json()),
            ("d-2", b"{not json"),
            ("d-2", happened("d-2", 2, fail=True).to_json()),
            ("d-2", happened("d-2", 3).to_json()),
        ],
    )
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 4))
        assert consumer.stats.dead_lettered == 2
    assert await effects(effects_table) == [1, 3]

    dead = await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=2)
    assert len(dead) == 2
    headers = [dict(r.headers) for r in dead]
    assert b"malformed envelope" in headers[0]["error"]
    assert b"cannot handle n=2" in headers[1]["error"]
    assert headers[1]["attempts"] == b"3"
    assert Envelope.from_json(dead[1].value).payload == {"n": 2, "fail": True}  # the original event
    async with effects_table.connect() as conn:
        rows = (await conn.execute(text("SELECT event_type, attempts FROM dead_letters ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [(None, 1), (SomethingHappened.event_type, 3)]


async def test_a_replayed_dead_letter_is_applied_once_its_cause_is_fixed(
    effects_table: AsyncEngine, infra: Infra, topic: str, schema: str
) -> None:
    await produce(infra, topic, [("d-3", happened("d-3", 7, fail=True).to_json())])
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 1))
    letters = await dlq.pending(effects_table)
    assert [(d.event_type, d.attempts) for d in letters] == [(SomethingHappened.event_type, 3)]

    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventkit.dlq", "list", "--schema", schema, "--database-url", infra.database_url,
        stdout=asyncio.subprocess.PIPE,
    )
    listing = (await cli.communicate())[0].decode()
    assert "cannot handle n=7" in listing and "1 dead letter(s) waiting" in listing

    # The bug is fixed: the handler now accepts the event it used to choke on.
    fixed = Dispatcher({SomethingHappened.event_type: _record_ignoring_fail})
    publisher = KafkaPublisher(infra.bootstrap_servers, client_id="replay-test")
    try:
        assert await dlq.replay(effects_table, publisher, letters) == 1
    finally:
        await publisher.stop()
    assert await dlq.pending(effects_table) == []
    async with running_consumer(effects_table, infra, topic, dispatcher=fixed) as consumer:
        await eventually(lambda: _done(consumer, 1))
        assert consumer.stats.processed == 1
    assert await effects(effects_table) == [7]


async def _record_ignoring_fail(envelope: Envelope, uow: SqlUnitOfWork) -> None:
    event = SomethingHappened.model_validate(envelope.payload)
    await uow.conn.execute(text("INSERT INTO effects (n) VALUES (:n)"), {"n": event.n})


async def _done(consumer: InboxConsumer, seen: int) -> bool:
    s = consumer.stats
    return s.processed + s.duplicates + s.dead_lettered + s.skipped >= seen
