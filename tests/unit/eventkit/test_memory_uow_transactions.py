"""The in-memory unit of work runs one transaction at a time, and says so when a test asks for two."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from eventkit.uow import InMemoryUnitOfWork
from intake.adapters.memory import InMemoryIntakeUnitOfWork
from registry_sync.adapters.memory import InMemoryRegistry
from tests.support.events import happened
from workflow.adapters.memory import InMemoryWorkflowUnitOfWork

ONE_AT_A_TIME = "one transaction at a time"


async def test_a_transaction_opened_while_another_is_open_is_refused_and_the_first_still_rolls_back() -> None:
    """The fake kept one snapshot, which a second transaction overwrote: the first rolling back after
    the second committed kept its own event (streams ['s1']) and wiped out the committed one."""
    uow = InMemoryUnitOfWork()
    with pytest.raises(LookupError):
        async with uow:
            await uow.record("s1", 0, [happened("s1", 1)], "t")
            with pytest.raises(RuntimeError, match=ONE_AT_A_TIME):
                async with uow:
                    await uow.record("s2", 0, [happened("s2", 1)], "t")
            raise LookupError("the first transaction fails")
    assert uow.events.streams == {} and uow.outbox.messages == []
    async with uow:  # once it has ended, the next one is let in
        await uow.record("s2", 0, [happened("s2", 1)], "t")
    assert list(uow.events.streams) == ["s2"] and [m.key for m in uow.outbox.messages] == ["s2"]


async def test_two_tasks_racing_on_the_fake_fail_loudly_instead_of_losing_the_winner() -> None:
    """Two handlers as concurrent tasks, as a unit test might race them: the second got in, committed
    version 1, and the first, conflicting on it, rolled back to the store as it had found it, taking the
    committed event and its message with it: one "won", and nothing was stored."""
    uow = InMemoryUnitOfWork()
    first_in, second_tried = asyncio.Event(), asyncio.Event()

    async def first() -> str:
        async with uow:
            await uow.events.load("d-1")
            first_in.set()
            await second_tried.wait()  # held open while the other one tries
            await uow.record("d-1", 0, [happened("d-1", 1)], "t")
        return "committed"

    async def second() -> str:
        await first_in.wait()
        try:
            async with uow:
                await uow.events.load("d-1")
                await uow.record("d-1", 0, [happened("d-1", 2)], "t")
            return "committed"
        finally:
            second_tried.set()

    outcome = await asyncio.gather(first(), second(), return_exceptions=True)
    assert outcome[0] == "committed"
    assert isinstance(outcome[1], RuntimeError) and ONE_AT_A_TIME in str(outcome[1])
    assert (await uow.events.load("d-1")).version == 1
    assert [m.key for m in uow.outbox.messages] == ["d-1"]


def _intake() -> Callable[[], AbstractAsyncContextManager[Any]]:
    fake = InMemoryIntakeUnitOfWork()
    return lambda: fake


def _workflow() -> Callable[[], AbstractAsyncContextManager[Any]]:
    fake = InMemoryWorkflowUnitOfWork()
    return lambda: fake


def _registry_sync() -> Callable[[], AbstractAsyncContextManager[Any]]:
    return InMemoryRegistry().unit_of_work


@pytest.mark.parametrize("transactions", [_intake, _workflow, _registry_sync], ids=lambda f: f.__name__[1:])
async def test_each_service_s_fake_refuses_an_overlapping_transaction_too(
    transactions: Callable[[], Callable[[], AbstractAsyncContextManager[Any]]],
) -> None:
    """Each service's fake snapshots its own tables whole on entry, as eventkit's did its streams, and
    let a second transaction in: a rollback of the first would have put back the tables it had found."""
    begin = transactions()
    async with begin():
        with pytest.raises(RuntimeError, match=ONE_AT_A_TIME):
            async with begin():
                pass
