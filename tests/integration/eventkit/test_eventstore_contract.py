"""One contract, two event stores: the in-memory fake and PostgreSQL must behave alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from eventkit.eventstore import ConcurrencyConflict
from eventkit.outbox import MAX_MESSAGE_BYTES, MessageTooLarge
from eventkit.uow import InMemoryUnitOfWork, SqlUnitOfWork
from tests.support.events import SomethingHappened, happened
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

UowFactory = Callable[[], Any]


@pytest.fixture(params=["memory", "postgres"])
def new_uow(request: pytest.FixtureRequest) -> UowFactory:
    if request.param == "memory":
        shared = InMemoryUnitOfWork()
        return lambda: shared
    engine: AsyncEngine = request.getfixturevalue("migrated")
    return lambda: SqlUnitOfWork(engine)


async def test_append_then_load_returns_events_in_order(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        assert await uow.events.append("d-1", 0, [happened("d-1", 1), happened("d-1", 2)]) == 2
    async with new_uow() as uow:
        assert await uow.events.append("d-1", 2, [happened("d-1", 3)]) == 3
    async with new_uow() as uow:
        stream = await uow.events.load("d-1")
    assert stream.version == 3
    assert [SomethingHappened.model_validate(e.payload).n for e in stream.envelopes] == [1, 2, 3]
    assert [e.stream_version for e in stream.events] == [1, 2, 3]


async def test_an_empty_stream_has_version_zero(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        assert (await uow.events.load("nobody")).version == 0


async def test_versions_of_several_streams_without_loading_them(new_uow: UowFactory) -> None:
    async with new_uow() as uow:
        await uow.events.append("v-1", 0, [happened("v-1", 1), happened("v-1", 2)])
        await uow.events.append("v-2", 0, [happened("v-2", 1)])
    async with new_uow() as uow:
        assert await uow.events.versions(["v-2", "nobody", "v-1"]) == {"v-2": 1, "nobody": 0, "v-1": 2}
        assert await uow.events.versions([]) == {}


@pytest.mark.parametrize("stale", [0, 1, 5])
async def test_append_with_a_wrong_expected_version_conflicts(new_uow: UowFactory, stale: int) -> None:
    async with new_uow() as uow:
        await uow.events.append("d-2", 0, [happened("d-2", 1), happened("d-2", 2)])
    with pytest.raises(ConcurrencyConflict):
        async with new_uow() as uow:
            await uow.events.append("d-2", stale, [happened("d-2", 9)])
    async with new_uow() as uow:
        assert (await uow.events.load("d-2")).version == 2


async def test_a_rolled_back_unit_of_work_leaves_no_trace(new_uow: UowFactory) -> None:
    with pytest.raises(RuntimeError):
        async with new_uow() as uow:
            await uow.record("d-3", 0, [happened("d-3", 1)], "some.topic")
            raise RuntimeError("handler failed after appending")
    async with new_uow() as uow:
        assert (await uow.events.load("d-3")).version == 0


async def test_an_event_too_large_for_the_broker_is_refused_where_it_is_written(new_uow: UowFactory) -> None:
    """Queued, the broker would refuse it for good, at the head of the outbox: nothing after it would
    go out. Stored only (no topic), it may be as large as it likes."""
    huge = Envelope.wrap(SomethingHappened(n=1), key="d-9", producer="tests", correlation_id="x" * MAX_MESSAGE_BYTES)
    with pytest.raises(MessageTooLarge, match="TestSomethingHappened of 10"):
        async with new_uow() as uow:
            await uow.record("d-9", 0, [happened("d-9", 1), huge], "some.topic")
    async with new_uow() as uow:
        assert (await uow.events.load("d-9")).version == 0
        assert await uow.record("d-9", 0, [happened("d-9", 1), huge], [None, None]) == 2


async def test_load_until_gives_the_stream_as_it_was(new_uow: UowFactory) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    events = [
        Envelope.wrap(SomethingHappened(n=i), key="d-4", producer="tests", occurred_at=t0 + timedelta(hours=i))
        for i in range(3)
    ]
    async with new_uow() as uow:
        await uow.events.append("d-4", 0, events)
    async with new_uow() as uow:
        past = await uow.events.load("d-4", until=t0 + timedelta(hours=1))
    assert past.version == 2


async def test_two_concurrent_writers_one_wins(migrated: AsyncEngine) -> None:
    """Both read version 0 and append in parallel transactions: exactly one commits."""
    started = asyncio.Event()

    async def writer(n: int) -> str:
        try:
            async with SqlUnitOfWork(migrated) as uow:
                await uow.events.load("d-5")
                started.set()
                await uow.events.append("d-5", 0, [happened("d-5", n)])
                await asyncio.sleep(0.05)  # hold the transaction open so the other one races it
            return "ok"
        except ConcurrencyConflict:
            return "conflict"

    outcomes = sorted(await asyncio.gather(writer(1), writer(2)))
    assert outcomes == ["conflict", "ok"]
    async with SqlUnitOfWork(migrated) as uow:
        assert (await uow.events.load("d-5")).version == 1


async def test_a_lost_append_leaves_the_transaction_usable(new_uow: UowFactory) -> None:
    """A conflict (here a reused event id, half-way through a batch) takes back the events already in."""
    taken = happened("d-6", 1)
    async with new_uow() as uow:
        await uow.record("d-6", 0, [taken], "some.topic")
    async with new_uow() as uow:
        with pytest.raises(ConcurrencyConflict):
            await uow.record("d-7", 0, [happened("d-7", 1), taken], "some.topic")
        await uow.record("d-8", 0, [happened("d-8", 1)], "some.topic")
    async with new_uow() as uow:
        versions = [(await uow.events.load(s)).version for s in ("d-6", "d-7", "d-8")]
    assert versions == [1, 0, 1]


async def test_each_event_can_have_its_own_topic_or_none(new_uow: UowFactory) -> None:
    """One append, events for two topics and one stored only: each queued for its own topic, in order."""
    events = [happened("d-11", n) for n in range(1, 5)]
    async with new_uow() as uow:
        await uow.record("d-11", 0, events, ["a.topic", None, "b.topic", "a.topic"])
        queued = await _queued(uow)
        assert (await uow.events.load("d-11")).version == 4
    assert queued == [("a.topic", events[0].event_id), ("b.topic", events[2].event_id), ("a.topic", events[3].event_id)]
    with pytest.raises(ValueError):
        async with new_uow() as uow:
            await uow.record("d-12", 0, events[:1], ["a.topic", "b.topic"])


async def _queued(uow: Any) -> list[tuple[str, Any]]:
    if isinstance(uow, SqlUnitOfWork):
        rows = await uow.conn.execute(text("SELECT topic, event_id FROM outbox ORDER BY id"))
        return [(t, e) for t, e in rows]
    return [(m.topic, Envelope.from_json(m.value).event_id) for m in uow.outbox.messages]


async def outbox_keys(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT message_key FROM outbox ORDER BY id"))).scalars())


async def test_a_writer_that_lost_the_race_midway_keeps_none_of_its_events(migrated: AsyncEngine) -> None:
    """The second writer read version 0 and inserts two events; the first commits one event meanwhile:
    the second one's first row collides, its second would not — it must keep neither, nor queue them."""

    async def second_writer() -> None:
        async with SqlUnitOfWork(migrated) as uow:
            with pytest.raises(ConcurrencyConflict):
                await uow.record("d-9", 0, [happened("d-9", 20), happened("d-9", 21)], "some.topic")
            await uow.record("d-10", 0, [happened("d-10", 1)], "some.topic")  # the transaction is still usable

    async def second_is_waiting() -> bool:
        async with migrated.connect() as conn:
            waiting = await conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE '%INSERT INTO events%' AND datname = current_database()"
                )
            )
            return bool(waiting.scalar_one())

    async with SqlUnitOfWork(migrated) as first:
        await first.record("d-9", 0, [happened("d-9", 1)], "some.topic")
        second = asyncio.create_task(second_writer())
        await eventually(second_is_waiting, timeout=10)  # blocked on our uncommitted version 1
    await asyncio.wait_for(second, timeout=10)
    async with SqlUnitOfWork(migrated) as uow:
        stream = await uow.events.load("d-9")
    assert [SomethingHappened.model_validate(e.payload).n for e in stream.envelopes] == [1]
    assert await outbox_keys(migrated) == ["d-9", "d-10"]
