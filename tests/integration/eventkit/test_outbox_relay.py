"""The outbox relay against the real broker: order per key, survival of a broker outage, and
nothing published that was not committed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from eventkit.kafka import KafkaPublisher
from eventkit.outbox import OutgoingMessage
from eventkit.relay import OutboxRelay
from eventkit.uow import SqlUnitOfWork
from tests.support.events import SomethingHappened, happened
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running_relay(engine: AsyncEngine, infra: Infra) -> AsyncIterator[OutboxRelay]:
    publisher = KafkaPublisher(infra.bootstrap_servers, client_id="relay-test", request_timeout_ms=2000)
    relay = OutboxRelay(engine, publisher, batch_size=50, poll_seconds=0.02, publish_timeout=3)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await publisher.stop()


async def outbox_size(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one())


def payload_n(value: bytes) -> int:
    return SomethingHappened.model_validate(Envelope.from_json(value).payload).n


async def test_events_arrive_in_order_per_key(migrated: AsyncEngine, infra: Infra, topic: str) -> None:
    keys = [f"dossier-{i}" for i in range(5)]
    versions = dict.fromkeys(keys, 0)
    # Interleave many small transactions across keys, more than one relay batch.
    for n in range(1, 41):
        for key in keys:
            async with SqlUnitOfWork(migrated) as uow:
                versions[key] = await uow.record(key, versions[key], [happened(key, n)], topic)
    async with running_relay(migrated, infra):
        records = await read_topic(infra.bootstrap_servers, topic, expect=200)
    assert len(records) == 200
    by_key: dict[str, list[int]] = {}
    for record in records:
        by_key.setdefault(record.key.decode(), []).append(payload_n(record.value))
    assert by_key == {key: list(range(1, 41)) for key in keys}
    # One key, one partition: that is what keeps a dossier's events in order for consumers.
    partitions = {(r.key, r.partition) for r in records}
    assert len(partitions) == len(keys)
    assert await outbox_size(migrated) == 0


async def test_events_committed_while_the_broker_is_frozen_go_out_when_it_returns(
    migrated: AsyncEngine, infra: Infra, topic: str
) -> None:
    if infra.broker is None:
        pytest.skip("needs the embedded broker to freeze it")
    async with running_relay(migrated, infra) as relay:
        async with SqlUnitOfWork(migrated) as uow:
            await uow.record("d-before", 0, [happened("d-before", 1)], topic)
        await eventually(lambda: _zero(outbox_size(migrated)))
        infra.broker.pause()
        try:
            async with SqlUnitOfWork(migrated) as uow:
                await uow.record("d-during", 0, [happened("d-during", 1), happened("d-during", 2)], topic)
            await asyncio.sleep(4)  # longer than the relay's publish timeout: it must have failed
            assert await outbox_size(migrated) == 2, "rows must wait in the outbox while the broker is down"
            assert not relay.healthy
        finally:
            infra.broker.resume()
        await eventually(lambda: _zero(outbox_size(migrated)), timeout=30)
    records = await read_topic(infra.bootstrap_servers, topic, expect=3)
    got = sorted((r.key.decode(), payload_n(r.value)) for r in records)
    # At least once: a batch interrupted by the outage may go out twice, never zero times.
    assert set(got) == {("d-before", 1), ("d-during", 1), ("d-during", 2)}


async def test_nothing_uncommitted_is_published(migrated: AsyncEngine, infra: Infra, topic: str) -> None:
    with pytest.raises(RuntimeError):
        async with SqlUnitOfWork(migrated) as uow:
            await uow.record("d-rolled-back", 0, [happened("d-rolled-back", 1)], topic)
            raise RuntimeError("decided against it")
    async with running_relay(migrated, infra):
        async with SqlUnitOfWork(migrated) as uow:
            await uow.record("d-committed", 0, [happened("d-committed", 1)], topic)
        records = await read_topic(infra.bootstrap_servers, topic, expect=2, timeout=3)
    assert [r.key.decode() for r in records] == ["d-committed"]


async def test_a_second_relay_on_the_same_schema_waits_its_turn(
    migrated: AsyncEngine, infra: Infra, topic: str
) -> None:
    """Two replicas: the advisory lock lets one publish at a time, so no message goes out twice."""
    for n in range(1, 101):
        async with SqlUnitOfWork(migrated) as uow:
            await uow.record("d-shared", n - 1, [happened("d-shared", n)], topic)
    async with running_relay(migrated, infra) as first, running_relay(migrated, infra) as second:
        await eventually(lambda: _zero(outbox_size(migrated)))
    records = await read_topic(infra.bootstrap_servers, topic, expect=101, timeout=3)
    assert [payload_n(r.value) for r in records] == list(range(1, 101))
    assert first.published + second.published == 100


class HeldPublisher:
    """Our publisher port, answering when the test says so (or failing)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()
        self.fail = fail
        self.sent: list[OutgoingMessage] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def reachable(self, timeout: float) -> None:
        if self.fail:
            raise ConnectionError("broker gone")

    async def publish(self, messages: list[OutgoingMessage]) -> None:
        self.publishing.set()
        await self.release.wait()
        if self.fail:
            raise ConnectionError("broker gone")
        self.sent.extend(messages)


async def _queue(engine: AsyncEngine, stream: str, count: int, topic: str) -> None:
    async with SqlUnitOfWork(engine) as uow:
        await uow.record(stream, 0, [happened(stream, n) for n in range(1, count + 1)], topic)


async def test_a_second_relay_does_not_wait_behind_the_first_ones_batch(migrated: AsyncEngine, topic: str) -> None:
    await _queue(migrated, "d-held", 3, topic)
    held = HeldPublisher()
    first = asyncio.create_task(OutboxRelay(migrated, held).publish_once())  # type: ignore[arg-type]
    await asyncio.wait_for(held.publishing.wait(), 5)
    other = HeldPublisher()
    other.release.set()
    # Not the leader: it answers at once instead of waiting on the rows the first one holds.
    assert await asyncio.wait_for(OutboxRelay(migrated, other).publish_once(), 2) == 0  # type: ignore[arg-type]
    held.release.set()
    assert await first == 3
    assert [payload_n(m.value) for m in held.sent] == [1, 2, 3] and other.sent == []
    assert await outbox_size(migrated) == 0


async def test_a_batch_ends_at_its_byte_limit_and_the_first_message_always_goes(
    migrated: AsyncEngine, topic: str
) -> None:
    """Counted in rows only, a batch of near-limit events was half a gigabyte held in memory and sent
    within the publish timeout: the relay was killed or timed out on it for ever."""
    await _queue(migrated, "d-big", 5, topic)
    async with migrated.connect() as conn:
        sizes = (await conn.execute(text("SELECT octet_length(value) FROM outbox ORDER BY id"))).scalars().all()
    sent = HeldPublisher()
    sent.release.set()
    relay = OutboxRelay(migrated, sent, batch_bytes=sizes[0] + sizes[1] + 1)  # type: ignore[arg-type]
    assert await relay.publish_once() == 3  # the third starts before the limit: it goes
    assert await OutboxRelay(migrated, sent, batch_bytes=1).publish_once() == 1  # type: ignore[arg-type]
    assert await relay.publish_once() == 1
    assert [payload_n(m.value) for m in sent.sent] == [1, 2, 3, 4, 5]
    assert await outbox_size(migrated) == 0


async def test_a_batch_the_broker_did_not_take_stays_in_the_outbox(migrated: AsyncEngine, topic: str) -> None:
    await _queue(migrated, "d-refused", 2, topic)
    failing = HeldPublisher(fail=True)
    failing.release.set()
    with pytest.raises(ConnectionError):
        await OutboxRelay(migrated, failing).publish_once()  # type: ignore[arg-type]
    assert await outbox_size(migrated) == 2


async def test_a_relay_whose_session_ends_mid_publish_publishes_again_and_loses_nothing(
    migrated: AsyncEngine, topic: str
) -> None:
    await _queue(migrated, "d-failover", 3, topic)
    cut = HeldPublisher()
    cut.release.set()
    ended = False

    async def publish_then_lose_the_session(messages: list[OutgoingMessage]) -> None:
        nonlocal ended
        await HeldPublisher.publish(cut, messages)
        if not ended:  # the broker has them; the session that would delete them ends (a failover)
            ended = True
            async with migrated.connect() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE pid <> pg_backend_pid() AND query LIKE '%DELETE FROM outbox%'"
                    )
                )

    cut.publish = publish_then_lose_the_session  # type: ignore[method-assign]
    relay = OutboxRelay(migrated, cut, poll_seconds=0.02)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _zero(outbox_size(migrated)), timeout=20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert ended
    # At least once: the batch whose deletion was lost went out again, in order, nothing missing.
    assert [payload_n(m.value) for m in cut.sent] == [1, 2, 3, 1, 2, 3]
    assert relay.healthy


async def _zero(size: object) -> bool:
    return await size == 0  # type: ignore[misc]


async def test_an_idle_relay_asks_one_question_per_poll_and_still_finds_new_rows(
    migrated: AsyncEngine, infra: Infra, topic: str
) -> None:
    """Nobody notifies it here (the rows come from another process, say): its polls find them, and
    while the outbox is empty a poll is one autocommitted statement, no transaction or lock."""
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(migrated.sync_engine, "before_cursor_execute", seen)
    try:
        async with running_relay(migrated, infra):
            await eventually(lambda: _at_least(statements, 5))
            idle = list(statements)
            async with SqlUnitOfWork(migrated) as uow:
                await uow.record("d-later", 0, [happened("d-later", 1)], topic)
            records = await read_topic(infra.bootstrap_servers, topic, expect=1, timeout=5)
    finally:
        event.remove(migrated.sync_engine, "before_cursor_execute", seen)
    first_look, polls = idle[0], idle[1:]  # at start it looks at once: rows may wait from before
    assert "pg_try_advisory_xact_lock" in first_look and "DELETE FROM outbox" in first_look
    assert polls and set(polls) == {"SELECT EXISTS (SELECT FROM outbox)"}
    assert [r.key.decode() for r in records] == ["d-later"]


async def _at_least(items: list[str], n: int) -> bool:
    return len(items) >= n


async def test_the_unit_of_work_signals_a_commit_that_queued_messages(migrated: AsyncEngine, topic: str) -> None:
    """The runtime wakes the relay with it: queued messages go out at once, not at the next poll."""
    signals: list[str] = []

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(migrated, on_queued=lambda: signals.append("queued"))

    async with uow() as work:
        await work.record("d-stored", 0, [happened("d-stored", 1)], None)  # stored only: nothing to publish
    assert signals == []
    with pytest.raises(RuntimeError):
        async with uow() as work:
            await work.record("d-rolled", 0, [happened("d-rolled", 1)], topic)
            raise RuntimeError("rolled back: nothing was queued after all")
    assert signals == []
    async with uow() as work:
        await work.record("d-queued", 0, [happened("d-queued", 1)], topic)
        await work.outbox.add(topic, [happened("d-queued", 2)])
    assert signals == ["queued"]
    async with uow() as work:  # the same pooled connection again: the note did not outlive its transaction
        await work.record("d-stored", 1, [happened("d-stored", 2)], None)
    assert signals == ["queued"]


async def test_a_single_statement_unit_of_work_runs_in_autocommit(migrated: AsyncEngine, topic: str) -> None:
    """No BEGIN and COMMIT around a claim or a read: its statement is committed as it runs."""
    async with SqlUnitOfWork(migrated, single_statement=True) as uow:
        await uow.record("d-auto", 0, [happened("d-auto", 1)], topic)
        async with migrated.connect() as other:  # another session already sees it
            seen = (await other.execute(text("SELECT count(*) FROM events WHERE stream_id = 'd-auto'"))).scalar_one()
    assert seen == 1
    async with SqlUnitOfWork(migrated) as uow:  # the default: a transaction, seen only once committed
        await uow.record("d-txn", 0, [happened("d-txn", 1)], topic)
        async with migrated.connect() as other:
            unseen = (await other.execute(text("SELECT count(*) FROM events WHERE stream_id = 'd-txn'"))).scalar_one()
    assert unseen == 0


async def test_publishers_started_at_once_share_one_producer(infra: Infra) -> None:
    """The relay and a consumer's dead-lettering may both find the publisher unstarted: each started a
    producer, and the one overwritten was never stopped (aiokafka warns of it when it is collected)."""
    import gc
    import warnings

    publisher = KafkaPublisher(infra.bootstrap_servers, client_id="start-race")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            await asyncio.gather(publisher.start(), publisher.start(), publisher.start())
            gc.collect()
        finally:
            await publisher.stop()
        gc.collect()
    assert not [w for w in caught if "Unclosed AIOKafkaProducer" in str(w.message)]


async def test_the_health_gauge_falls_when_the_broker_goes_while_nothing_is_published(migrated: AsyncEngine) -> None:
    """An empty outbox touched no broker: the relay stayed healthy (the gauge 1) through a whole outage,
    and an alert on it never fired until someone wrote something."""
    broker = HeldPublisher()
    relay = OutboxRelay(migrated, broker, poll_seconds=0.02, idle_check_seconds=0.1)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _true(relay.healthy), timeout=5)
        broker.fail = True  # the broker goes; nothing is written meanwhile
        await eventually(lambda: _true(not relay.healthy), timeout=5)
        broker.fail = False
        await eventually(lambda: _true(relay.healthy), timeout=10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _true(value: bool) -> bool:
    return value


async def test_the_publisher_asks_a_broker_that_answers_and_raises_for_one_that_does_not(infra: Infra) -> None:
    answering = KafkaPublisher(infra.bootstrap_servers, client_id="reachable-test")
    try:
        await answering.reachable(5)
    finally:
        await answering.stop()
    silent = KafkaPublisher("127.0.0.1:1", client_id="reachable-test", request_timeout_ms=1000)
    try:
        with pytest.raises(Exception):  # noqa: B017  # whatever the client raises: it is no answer
            await silent.reachable(2)
    finally:
        await silent.stop()
