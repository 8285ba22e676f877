"""One contract, two event stores: the in-memory fake and PostgreSQL must behave alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope
from eventkit.eventstore import ConcurrencyConflict
from eventkit.uow import InMemoryUnitOfWork, SqlUnitOfWork
from tests.support.events import SomethingHappened, happened

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
