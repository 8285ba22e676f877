"""The inbox consumer against the real broker and database: redelivery has no second effect,
a poison event goes to the dead-letter topic while the partition moves on, and a partition's
events are applied in batches, one transaction each, with the same guarantees."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from uuid import UUID

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy import text
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from contracts.events import intake
from eventkit import dlq
from eventkit.consumer import BatchDispatcher, Dispatcher, InboxConsumer
from eventkit.db import TimeLimits, make_engine
from eventkit.eventstore import ConcurrencyConflict
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
    engine: AsyncEngine,
    infra: Infra,
    topic: str,
    dispatcher: Dispatcher | None = None,
    *,
    group_id: str | None = None,
    batch_size: int = 100,
    batch_max_seconds: float = 60.0,  # sized by batch_size alone unless a test says otherwise
    on_queued: Callable[[], None] | None = None,
    batch_min_size: int = 1,
    consumer_class: type[InboxConsumer] = InboxConsumer,
) -> AsyncIterator[InboxConsumer]:
    publisher = KafkaPublisher(infra.bootstrap_servers, client_id="dlq-test")
    consumer = consumer_class(
        engine,
        dispatcher or Dispatcher({SomethingHappened.event_type: record_effect}),
        publisher,
        name=f"tests.{topic}",
        topics=[topic],
        bootstrap_servers=infra.bootstrap_servers,
        group_id=group_id,
        max_attempts=3,
        batch_size=batch_size,
        batch_max_seconds=batch_max_seconds,
        retry_base_seconds=0.01,
        session_timeout_ms=2000,  # Tansu accepts short sessions; a restarted member rejoins fast
        heartbeat_interval_ms=500,
        on_queued=on_queued,
        batch_min_size=batch_min_size,
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


async def produce_together(infra: Infra, topic: str, values: list[tuple[str, bytes]]) -> None:
    """Send in one request, so that one fetch returns them all."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, enable_idempotence=False, linger_ms=100)
    await producer.start()
    try:
        sent = [await producer.send(topic, value=value, key=key.encode()) for key, value in values]
        await asyncio.gather(*sent)
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


async def test_an_unknown_version_of_a_handled_type_is_dead_lettered_for_replay_not_skipped(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A producer upgraded before this consumer sends version 2. Skipped, it was recorded in the inbox
    as applied and never reached this service's view, even after the upgrade."""
    newer = happened("d-5", 2).model_copy(update={"version": 2})
    await produce(infra, topic, [("d-5", e.to_json()) for e in (happened("d-5", 1), newer, happened("d-5", 3))])
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 3))
        assert (consumer.stats.processed, consumer.stats.dead_lettered) == (2, 1)
    assert await effects(effects_table) == [1, 3]
    assert newer.event_id not in await _inbox_ids(effects_table)  # not taken as applied: replayable
    [dead] = await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=1)
    assert b"version 2 is unknown to this build" in dict(dead.headers)["error"]


async def test_a_type_this_build_does_not_know_is_dead_lettered_for_replay_one_it_knows_and_ignores_skipped(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A producer upgraded before this consumer publishes a new type: skipped, it was committed past
    and lost for good to this service, whose upgrade would have handled it."""
    newer = happened("d-6", 2).model_copy(update={"type": "SomethingNewHappened"})
    ignored = happened("d-6", 3).model_copy(update={"type": intake.FeePaid.event_type})  # known, not handled here
    await produce(infra, topic, [("d-6", e.to_json()) for e in (happened("d-6", 1), newer, ignored)])
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 3))
        stats = consumer.stats
        assert (stats.processed, stats.dead_lettered, stats.skipped) == (1, 1, 1)
    [dead] = await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=1)
    assert b"event type SomethingNewHappened is unknown to this build" in dict(dead.headers)["error"]


async def test_a_record_the_dead_letter_table_could_not_hold_is_dead_lettered_all_the_same(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A tombstone (null value), a key with a NUL in it and an event type with one: recording them
    failed for ever (the value column takes no null, PostgreSQL text no NUL), and the partition stood
    still behind them."""
    nul_type = happened("d-8", 1).to_json().replace(b'"TestSomethingHappened"', b'"Test\\u0000Happened"')
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=None, key=b"d-8")
        await producer.send_and_wait(topic, value=b"{not json", key=b"d-\x008")
        await producer.send_and_wait(topic, value=nul_type, key=b"d-8")
        await producer.send_and_wait(topic, value=happened("d-8", 1).to_json(), key=b"d-8")
    finally:
        await producer.stop()
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 4), timeout=20)
        assert consumer.stats.dead_lettered == 3
    assert await effects(effects_table) == [1]
    async with effects_table.connect() as conn:
        rows = (await conn.execute(text("SELECT message_key, event_type FROM dead_letters ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [("d-8", None), ("d-\ufffd8", None), ("d-8", "Test\ufffdHappened")]


async def test_a_replayed_dead_letter_is_applied_once_its_cause_is_fixed(
    effects_table: AsyncEngine, infra: Infra, topic: str, schema: str
) -> None:
    await produce(infra, topic, [("d-3", happened("d-3", 7, fail=True).to_json())])
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 1))
    letters = await dlq.pending(effects_table)
    assert [(d.event_type, d.attempts) for d in letters] == [(SomethingHappened.event_type, 3)]

    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventkit.dlq",
        "list",
        "--schema",
        schema,
        "--database-url",
        infra.database_url,
        stdout=asyncio.subprocess.PIPE,
    )
    listing = (await cli.communicate())[0].decode()
    assert "cannot handle n=7" in listing and "1 dead letter(s) waiting" in listing

    # The bug is fixed: the handler now accepts the event it used to choke on.
    fixed = Dispatcher({SomethingHappened.event_type: _record_ignoring_fail})
    publisher = KafkaPublisher(infra.bootstrap_servers, client_id="replay-test")
    told: list[tuple[int, int]] = []
    gone = dataclasses.replace(letters[0], id=-1)  # no such letter: the replay stops there
    try:
        with pytest.raises(NoResultFound):
            await dlq.replay(effects_table, publisher, [*letters, gone], lambda done, total: told.append((done, total)))
    finally:
        await publisher.stop()
    assert told == [(1, 2)]  # how far it got before it stopped, as the operator is told
    assert await dlq.pending(effects_table) == []
    async with running_consumer(effects_table, infra, topic, dispatcher=fixed) as consumer:
        await eventually(lambda: _done(consumer, 1))
        assert consumer.stats.processed == 1
    assert await effects(effects_table) == [7]


async def test_a_partition_batch_is_applied_in_one_transaction(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    await produce(infra, topic, [("d-4", happened("d-4", n).to_json()) for n in range(1, 11)])
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 10))
        assert (consumer.stats.processed, consumer.stats.duplicates) == (10, 0)
    assert await effects(effects_table) == list(range(1, 11))
    # Rows written by one transaction share its id (xmin): the effects and the inbox rows alike.
    assert await _transactions(effects_table, "effects") == 1
    assert await _transactions(effects_table, "inbox") == 1


async def test_the_batch_size_bounds_a_transaction(effects_table: AsyncEngine, infra: Infra, topic: str) -> None:
    await produce(infra, topic, [("d-5", happened("d-5", n).to_json()) for n in range(1, 8)])
    async with running_consumer(effects_table, infra, topic, batch_size=3) as consumer:
        await eventually(lambda: _done(consumer, 7))
    assert await effects(effects_table) == list(range(1, 8))
    assert await _transactions(effects_table, "effects") == 3  # 3 + 3 + 1


async def _batch_sizes_after_a_slow_start(
    engine: AsyncEngine, infra: Infra, topic: str, key: str, **consumer_options: float
) -> list[int]:
    """Events 1-5 wait in the topic; the handler takes 20 ms or more each and holds the fifth until
    events 6-15 are waiting too. Returns how many events each transaction applied, smallest first."""
    at_fifth, more_waiting = asyncio.Event(), asyncio.Event()

    async def slow(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        await asyncio.sleep(0.02)
        if SomethingHappened.model_validate(envelope.payload).n == 5:
            at_fifth.set()
            await more_waiting.wait()
        await _record_ignoring_fail(envelope, uow)

    await produce(infra, topic, [(key, happened(key, n).to_json()) for n in range(1, 6)])
    dispatcher = Dispatcher({SomethingHappened.event_type: slow})
    async with running_consumer(engine, infra, topic, dispatcher, **consumer_options) as consumer:  # type: ignore[arg-type]
        await asyncio.wait_for(at_fifth.wait(), timeout=15)
        await produce_together(infra, topic, [(key, happened(key, n).to_json()) for n in range(6, 16)])
        more_waiting.set()
        await eventually(lambda: _done(consumer, 15))
    assert await effects(engine) == list(range(1, 16))
    async with engine.connect() as conn:
        return sorted((await conn.execute(text("SELECT count(*) FROM effects GROUP BY xmin::text"))).scalars())


async def test_a_batch_is_sized_to_last_about_batch_max_seconds(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    sizes = await _batch_sizes_after_a_slow_start(effects_table, infra, topic, "d-9", batch_max_seconds=0.05)
    # The first batch took what was there; at 20 ms or more an event, the next ones hold two at most.
    assert 5 in sizes and sum(sizes) == 15
    assert max(s for s in sizes if s != 5) <= 2


async def test_however_slow_the_recent_events_a_batch_takes_at_least_batch_min_size(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """On saturated cores the wall-time pace grows for every event: a floor keeps batching there."""
    sizes = await _batch_sizes_after_a_slow_start(
        effects_table, infra, topic, "d-m", batch_max_seconds=0.05, batch_min_size=4
    )
    assert sizes == [2, 4, 4, 5]  # the first took what was there; then 4, 4 and the 2 left


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_others_are_applied(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    events = [happened("d-6", n, fail=n == 4) for n in range(1, 8)]
    await produce(infra, topic, [("d-6", e.to_json()) for e in events])
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 7))
        assert (consumer.stats.processed, consumer.stats.dead_lettered) == (6, 1)
    assert await effects(effects_table) == [1, 2, 3, 5, 6, 7]
    # Split around the poison event: the events before it and the events after it are still batches.
    async with effects_table.connect() as conn:
        groups = (await conn.execute(text("SELECT array_agg(n ORDER BY n) FROM effects GROUP BY xmin::text"))).scalars()
        assert sorted(groups) == [[1, 2, 3], [5, 6, 7]]
        rows = (await conn.execute(text("SELECT event_id, attempts FROM dead_letters"))).all()
    assert [tuple(r) for r in rows] == [(events[3].event_id, 3)]
    dead = await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=1)
    assert [Envelope.from_json(r.value).event_id for r in dead] == [events[3].event_id]
    assert await _inbox_ids(effects_table) == {e.event_id for e in events if e is not events[3]}


async def test_a_redelivered_batch_has_no_second_effect(effects_table: AsyncEngine, infra: Infra, topic: str) -> None:
    await produce(infra, topic, [("d-7", happened("d-7", n).to_json()) for n in range(1, 6)])
    async with running_consumer(effects_table, infra, topic, group_id=f"{topic}.first") as consumer:
        await eventually(lambda: _done(consumer, 5))
    await produce(infra, topic, [("d-7", happened("d-7", n).to_json()) for n in (6, 7)])
    # A group with no committed offsets gets the whole partition again, as after a crash between the
    # database commit and the offset commit: the old events are duplicates, only the new ones apply.
    async with running_consumer(effects_table, infra, topic, group_id=f"{topic}.second") as consumer:
        await eventually(lambda: _done(consumer, 7))
        assert (consumer.stats.processed, consumer.stats.duplicates) == (2, 5)
    assert await effects(effects_table) == list(range(1, 8))


async def test_a_redelivered_record_is_dead_lettered_once(effects_table: AsyncEngine, infra: Infra, topic: str) -> None:
    """Delivered again before its offset was committed (a rebalance, a restart), a record was recorded
    and sent to the DLQ topic a second time: alerts counted it twice and a replay of all sent it twice."""
    await produce(infra, topic, [("d-9", happened("d-9", 7, fail=True).to_json())])
    async with running_consumer(effects_table, infra, topic, group_id=f"{topic}.first") as consumer:
        await eventually(lambda: _done(consumer, 1))
        assert consumer.stats.dead_lettered == 1
    await produce(infra, topic, [("d-9", happened("d-9", 8).to_json())])
    async with running_consumer(effects_table, infra, topic, group_id=f"{topic}.second") as consumer:
        await eventually(lambda: _done(consumer, 2))  # the whole partition again, as after a crash
        assert (consumer.stats.dead_lettered, consumer.stats.duplicates, consumer.stats.processed) == (0, 1, 1)
    async with effects_table.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM dead_letters"))).scalar() == 1
    assert len(await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=2, timeout=3)) == 1


async def test_a_letter_recorded_but_not_published_is_published_by_the_redelivery(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A process stopped between recording a letter and publishing it (the broker down meanwhile): the
    redelivery found the row and returned, and the DLQ topic and the alerts never saw the letter."""
    await produce(infra, topic, [("d-10", happened("d-10", 7, fail=True).to_json())])
    async with running_consumer(effects_table, infra, topic, group_id=f"{topic}.first") as consumer:
        await eventually(lambda: _done(consumer, 1))
    async with effects_table.begin() as conn:
        await conn.execute(text("UPDATE dead_letters SET published_at = NULL"))  # as if it never got out
    async with running_consumer(effects_table, infra, topic, group_id=f"{topic}.second") as consumer:
        await eventually(lambda: _done(consumer, 1))
    assert len(await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=2)) == 2
    async with effects_table.connect() as conn:
        rows = (await conn.execute(text("SELECT published_at IS NOT NULL FROM dead_letters"))).scalars().all()
    assert rows == [True]


async def test_other_bytes_at_a_position_dead_lettered_before_are_another_letter(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A broker that keeps nothing (the dev stack's) starts its offsets at 0 again over a database that
    kept its letters: matched by position alone, a new poison event was taken for the old one and lost."""
    await produce(infra, topic, [("d-11", happened("d-11", 7, fail=True).to_json())])
    [record] = await read_topic(infra.bootstrap_servers, topic, expect=1)
    async with effects_table.begin() as conn:  # an older run's letter at the very same position
        await conn.execute(
            text('INSERT INTO dead_letters (consumer, topic, partition, "offset", error, attempts, value,'
                 " published_at) VALUES (:c, :t, :p, :o, 'an older run', 1, :v, now())"),
            {"c": f"tests.{topic}", "t": topic, "p": record.partition, "o": record.offset, "v": b"older bytes"},
        )  # fmt: skip
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 1))
        assert consumer.stats.dead_lettered == 1
    async with effects_table.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM dead_letters"))).scalar() == 2
    assert len(await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=1)) == 1


async def test_a_crash_in_the_middle_of_a_batch_loses_nothing(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    reached = asyncio.Event()

    async def hang_on_the_third(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        await _record_ignoring_fail(envelope, uow)
        if SomethingHappened.model_validate(envelope.payload).n == 3:
            reached.set()
            await asyncio.Event().wait()  # until the consumer is killed

    await produce(infra, topic, [("d-8", happened("d-8", n).to_json()) for n in range(1, 6)])
    hanging = Dispatcher({SomethingHappened.event_type: hang_on_the_third})
    async with running_consumer(effects_table, infra, topic, dispatcher=hanging):
        await asyncio.wait_for(reached.wait(), timeout=15)
        assert await effects(effects_table) == []  # nothing of the batch committed yet
    # The crashed member committed neither the batch nor its offsets: its successor applies everything.
    async with running_consumer(effects_table, infra, topic) as consumer:
        await eventually(lambda: _done(consumer, 5))
        assert (consumer.stats.processed, consumer.stats.duplicates) == (5, 0)
    assert await effects(effects_table) == [1, 2, 3, 4, 5]


async def test_a_lost_database_connection_is_waited_out_not_dead_lettered(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A failover or restart ends every session: the events are healthy, so they must be applied
    once the database answers again, however many attempts that takes (here more than the
    consumer's max_attempts of 3, which would dead-letter a failing event)."""
    kills = 0

    async def lose_the_connection_four_times(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        nonlocal kills
        if SomethingHappened.model_validate(envelope.payload).n == 2 and kills < 4:
            kills += 1
            await uow.conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await _record_ignoring_fail(envelope, uow)

    await produce(infra, topic, [("d-9", happened("d-9", n).to_json()) for n in range(1, 4)])
    flaky = Dispatcher({SomethingHappened.event_type: lose_the_connection_four_times})
    async with running_consumer(effects_table, infra, topic, dispatcher=flaky) as consumer:
        await eventually(lambda: _done(consumer, 3), timeout=60)
        assert kills == 4
        assert (consumer.stats.processed, consumer.stats.dead_lettered) == (3, 0)
    assert await effects(effects_table) == [1, 2, 3]


async def test_a_lock_held_by_another_transaction_is_waited_out_not_dead_lettered(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A handler that cannot get its lock in time (here lock_timeout, as a deadlock's loser would)
    did nothing wrong: it is tried again however often that takes, not dead-lettered after the
    consumer's max_attempts of 3."""
    tries = 0

    async def insert_within_20_ms(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        nonlocal tries
        tries += 1
        await uow.conn.execute(text("SET LOCAL lock_timeout = '20ms'"))
        await _record_ignoring_fail(envelope, uow)

    async with effects_table.connect() as holder:
        await holder.execute(text("LOCK TABLE effects IN SHARE MODE"))  # blocks every insert into it
        await produce(infra, topic, [("d-8", happened("d-8", n).to_json()) for n in range(1, 4)])
        patient = Dispatcher({SomethingHappened.event_type: insert_within_20_ms})
        async with running_consumer(effects_table, infra, topic, dispatcher=patient) as consumer:
            await eventually(lambda: _at_least(lambda: tries, 8), timeout=60)
            await holder.rollback()
            await eventually(lambda: _done(consumer, 3), timeout=60)
            assert (consumer.stats.processed, consumer.stats.dead_lettered) == (3, 0)
    assert await effects(effects_table) == [1, 2, 3]


async def test_a_statement_past_its_time_limit_counts_against_its_event_and_is_dead_lettered(
    effects_table: AsyncEngine, infra: Infra, topic: str, schema: str
) -> None:
    """A statement that cannot finish in time (a plan gone wrong) is cancelled by the server, which
    is up: the event goes to the dead letters after its attempts and the partition moves on. Left to
    the driver's timeout, which reads as an outage, it was retried for ever and stalled the partition."""

    async def slow_for_n_2(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        if SomethingHappened.model_validate(envelope.payload).n == 2:
            await uow.conn.execute(text("SELECT pg_sleep(1)"))
        await _record_ignoring_fail(envelope, uow)

    hurried = make_engine(infra.database_url, schema, pool_size=2, limits=TimeLimits(0.2, 0.1, client_margin=30))
    try:
        await produce(infra, topic, [("d-7", happened("d-7", n).to_json()) for n in range(1, 4)])
        dispatcher = Dispatcher({SomethingHappened.event_type: slow_for_n_2})
        async with running_consumer(hurried, infra, topic, dispatcher=dispatcher) as consumer:
            await eventually(lambda: _done(consumer, 3), timeout=60)
            assert (consumer.stats.processed, consumer.stats.dead_lettered) == (2, 1)
    finally:
        await hurried.dispose()
    assert await effects(effects_table) == [1, 3]
    dead = await read_topic(infra.bootstrap_servers, f"{topic}.dlq", expect=1)
    assert b"statement timeout" in dict(dead[0].headers)["error"]


class Overloaded(InboxConsumer):
    """A consumer whose database does not answer a bare round trip at once while ``overloaded``."""

    overloaded = True

    async def _answers_at_once(self) -> bool:
        return not self.overloaded and await super()._answers_at_once()


async def test_a_statement_cancelled_while_the_database_is_overloaded_is_not_counted_against_its_event(
    effects_table: AsyncEngine, infra: Infra, topic: str, schema: str
) -> None:
    """While even a bare round trip cannot be made at once, a cancelled statement says the server is
    overloaded: counted, every partition's next event would go to the dead letters. Once the database
    answers at once again, it counts as before."""
    tries = 0

    async def slow_for_n_2(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        nonlocal tries
        if SomethingHappened.model_validate(envelope.payload).n == 2:
            tries += 1
            await uow.conn.execute(text("SELECT pg_sleep(1)"))
        await _record_ignoring_fail(envelope, uow)

    hurried = make_engine(infra.database_url, schema, pool_size=2, limits=TimeLimits(0.2, 0.1, client_margin=30))
    dispatcher = Dispatcher({SomethingHappened.event_type: slow_for_n_2})
    try:
        async with running_consumer(hurried, infra, topic, dispatcher, consumer_class=Overloaded) as consumer:
            assert isinstance(consumer, Overloaded)
            await produce(infra, topic, [("d-4", happened("d-4", n).to_json()) for n in range(1, 4)])
            await eventually(lambda: _at_least(lambda: tries, 5), timeout=60)  # past max_attempts (3)
            assert consumer.stats.dead_lettered == 0
            consumer.overloaded = False
            await eventually(lambda: _done(consumer, 3), timeout=60)
            assert consumer.stats.dead_lettered == 1
    finally:
        await hurried.dispose()
    assert await effects(effects_table) == [1, 3]


class SessionFailingOnce(InboxConsumer):
    """A consumer whose second fetch fails as aiokafka's does on an answer it cannot recover from."""

    fetches = 0
    connects = 0

    async def _connect(self) -> AIOKafkaConsumer:
        self.connects += 1
        return await super()._connect()

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[ConsumerRecord]]:
        self.fetches += 1
        if self.fetches == 2:
            raise KafkaError("Unexpected error during coordination")
        return await super()._fetch(consumer)


async def test_a_failed_broker_session_is_joined_again_not_the_end_of_the_consumer(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """Such an error used to end the consumer's task for good, while the service went on answering."""
    failing = SessionFailingOnce
    async with running_consumer(effects_table, infra, topic, group_id=f"g.{topic}", consumer_class=failing) as consumer:
        assert isinstance(consumer, SessionFailingOnce)
        await produce(infra, topic, [("d-6", happened("d-6", n).to_json()) for n in range(1, 4)])
        await eventually(lambda: _at_least(lambda: consumer.connects, 2), timeout=60)
        await produce(infra, topic, [("d-6", happened("d-6", n).to_json()) for n in range(4, 7)])
        await eventually(lambda: _done(consumer, 6), timeout=60)
    assert await effects(effects_table) == [1, 2, 3, 4, 5, 6]


async def test_a_stream_another_writer_appended_to_first_is_tried_again_not_dead_lettered(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """An official's decision appended to the dossier's stream between the handler's read and its write:
    nothing is wrong with the event, and counted, four such crossings in a row (here more than the
    consumer's max_attempts of 3) had dead-lettered it."""
    crossings = 0

    async def crossed_four_times(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        nonlocal crossings
        if SomethingHappened.model_validate(envelope.payload).n == 2 and crossings < 4:
            crossings += 1
            raise ConcurrencyConflict("d-3", expected=4, actual=5)
        await _record_ignoring_fail(envelope, uow)

    await produce(infra, topic, [("d-3", happened("d-3", n).to_json()) for n in range(1, 4)])
    dispatcher = Dispatcher({SomethingHappened.event_type: crossed_four_times})
    async with running_consumer(effects_table, infra, topic, dispatcher) as consumer:
        await eventually(lambda: _done(consumer, 3), timeout=60)
        assert (consumer.stats.processed, consumer.stats.dead_lettered) == (3, 0)
    assert crossings == 4
    assert await effects(effects_table) == [1, 2, 3]


async def _at_least(count: Callable[[], int], n: int) -> bool:
    return count() >= n


async def _transactions(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(DISTINCT xmin::text) FROM {table}"))).scalar_one())


async def _inbox_ids(engine: AsyncEngine) -> set[UUID]:
    async with engine.connect() as conn:
        return set((await conn.execute(text("SELECT event_id FROM inbox"))).scalars())


async def _record_ignoring_fail(envelope: Envelope, uow: SqlUnitOfWork) -> None:
    event = SomethingHappened.model_validate(envelope.payload)
    await uow.conn.execute(text("INSERT INTO effects (n) VALUES (:n)"), {"n": event.n})


async def _done(consumer: InboxConsumer, seen: int) -> bool:
    s = consumer.stats
    return s.processed + s.duplicates + s.dead_lettered + s.skipped >= seen


async def test_only_a_transaction_that_queued_messages_wakes_the_relay(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """A consumer that only updates its read models (reporting's) costs the relay nothing."""
    wakes: list[int] = []

    async def effect_and_echo_even(envelope: Envelope, uow: SqlUnitOfWork) -> None:
        await record_effect(envelope, uow)
        n = SomethingHappened.model_validate(envelope.payload).n
        if n % 2 == 0:
            await uow.outbox.add(f"{topic}.echo", [happened(envelope.key, n)])

    dispatcher = Dispatcher({SomethingHappened.event_type: effect_and_echo_even})
    async with running_consumer(effects_table, infra, topic, dispatcher, on_queued=lambda: wakes.append(1)) as consumer:
        await produce(infra, topic, [("d-w", happened("d-w", n).to_json()) for n in (1, 3, 5)])
        await eventually(lambda: _done(consumer, 3))
        assert wakes == []
        await produce(infra, topic, [("d-w", happened("d-w", 6).to_json())])
        await eventually(lambda: _done(consumer, 4))
        assert wakes == [1]


class BatchEffects:
    """A batch handler: one INSERT for all the events it is given; fails on a poison event."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def __call__(self, envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        events = [SomethingHappened.model_validate(e.payload) for e in envelopes]
        self.calls.append([e.n for e in events])
        if any(e.fail for e in events):
            raise ValueError("a poison event in this batch")
        await uow.conn.execute(
            text("INSERT INTO effects (n) SELECT unnest(CAST(:n AS int[]))"), {"n": [e.n for e in events]}
        )


async def test_a_batch_dispatcher_gets_a_transaction_s_new_events_in_one_call(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    handler = BatchEffects()
    dispatcher = BatchDispatcher([SomethingHappened.event_type], handler)
    await produce_together(infra, topic, [("d-b", happened("d-b", n).to_json()) for n in range(1, 9)])
    async with running_consumer(effects_table, infra, topic, dispatcher) as consumer:
        await eventually(lambda: _done(consumer, 8))
    assert handler.calls == [list(range(1, 9))]
    assert await _transactions(effects_table, "effects") == 1
    assert await effects(effects_table) == list(range(1, 9))


async def test_a_poison_event_given_to_a_batch_dispatcher_is_isolated_and_dead_lettered(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """The failing call cannot say which event failed: the first goes alone, the rest as a new batch."""
    handler = BatchEffects()
    dispatcher = BatchDispatcher([SomethingHappened.event_type], handler)
    events = [happened("d-p", n, fail=n == 3) for n in range(1, 7)]
    await produce_together(infra, topic, [("d-p", e.to_json()) for e in events])
    async with running_consumer(effects_table, infra, topic, dispatcher) as consumer:
        await eventually(lambda: _done(consumer, 6))
        assert (consumer.stats.processed, consumer.stats.dead_lettered) == (5, 1)
    assert await effects(effects_table) == [1, 2, 4, 5, 6]
    assert await _inbox_ids(effects_table) == {e.event_id for e in events if e is not events[2]}
    assert [4, 5, 6] in handler.calls  # the events after the poison one are a batch again


async def test_a_poison_event_at_the_end_of_a_large_batch_costs_a_few_rolled_back_transactions(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    """The first event alone, then the rest as a batch again: 32 events with the poison last cost 31
    failing batches and 62 rolled-back or single transactions. In halves: about ten."""
    handler = BatchEffects()
    dispatcher = BatchDispatcher([SomethingHappened.event_type], handler)
    await produce_together(infra, topic, [("d-q", happened("d-q", n, fail=n == 32).to_json()) for n in range(1, 33)])
    async with running_consumer(effects_table, infra, topic, dispatcher) as consumer:
        await eventually(lambda: _done(consumer, 32))
        assert (consumer.stats.processed, consumer.stats.dead_lettered) == (31, 1)
    assert await effects(effects_table) == list(range(1, 32))  # in order
    assert len(handler.calls) <= 16, handler.calls  # 11 halvings and batches, 3 tries of the poison alone


class Preparing(Dispatcher):
    """Notes what each transaction's prepare was given, and in which transaction it ran."""

    def __init__(self) -> None:
        super().__init__({SomethingHappened.event_type: self._handle})
        self.prepared: list[tuple[list[int], int]] = []
        self.handled_in: list[int] = []

    async def prepare(self, envelopes: Sequence[Envelope], uow: SqlUnitOfWork) -> None:
        self.prepared.append(([e.payload["n"] for e in envelopes], await _xid(uow)))

    async def _handle(self, envelope: Envelope, uow: SqlUnitOfWork) -> None:
        self.handled_in.append(await _xid(uow))
        await record_effect(envelope, uow)


async def _xid(uow: SqlUnitOfWork) -> int:
    return int((await uow.conn.execute(text("SELECT txid_current()"))).scalar_one())


async def test_a_transaction_s_new_events_are_prepared_for_before_they_are_handled(
    effects_table: AsyncEngine, infra: Infra, topic: str
) -> None:
    await produce(infra, topic, [("d-12", happened("d-12", n).to_json()) for n in (1, 2)])
    dispatcher = Preparing()
    async with running_consumer(effects_table, infra, topic, dispatcher, group_id=f"{topic}.first") as consumer:
        await eventually(lambda: _done(consumer, 2))
    await produce_together(infra, topic, [("d-12", happened("d-12", n).to_json()) for n in (3, 4)])
    # A new group reads the partition again: 1 and 2 are duplicates, not given to prepare.
    async with running_consumer(effects_table, infra, topic, dispatcher, group_id=f"{topic}.second") as consumer:
        await eventually(lambda: _done(consumer, 4))
        assert consumer.stats.duplicates == 2
    given = [numbers for numbers, _ in dispatcher.prepared]
    assert sorted(n for numbers in given for n in numbers) == [1, 2, 3, 4]
    assert set(dispatcher.handled_in) <= {xid for _, xid in dispatcher.prepared}  # same transactions
