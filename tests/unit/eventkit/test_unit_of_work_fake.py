"""The in-memory unit of work behaves like the real one: all or nothing."""

from __future__ import annotations

import pytest

from eventkit.eventstore import ConcurrencyConflict
from eventkit.uow import InMemoryUnitOfWork
from tests.support.events import happened


async def test_commit_keeps_events_and_messages() -> None:
    uow = InMemoryUnitOfWork()
    async with uow:
        await uow.record("d-1", 0, [happened("d-1", 1)], "t")
    assert len(uow.outbox.messages) == 1
    assert (await uow.events.load("d-1")).version == 1


async def test_failure_discards_events_and_messages() -> None:
    uow = InMemoryUnitOfWork()
    async with uow:
        await uow.record("d-1", 0, [happened("d-1", 1)], "t")
    with pytest.raises(ConcurrencyConflict):
        async with uow:
            await uow.record("d-2", 0, [happened("d-2", 1)], "t")
            await uow.record("d-1", 0, [happened("d-1", 2)], "t")
    assert [m.key for m in uow.outbox.messages] == ["d-1"]
    assert (await uow.events.load("d-2")).version == 0
