"""The SLA timers stop when cancelled, even when the cancellation surfaces as a database error."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.exc import PendingRollbackError

from tests.unit.workflow.builders import Harness, submitted
from workcal import vietnam_tz
from workflow.entrypoints import poller
from workflow.service_layer import timers
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import Timer, UnitOfWorkFactory, WorkflowUnitOfWork


class Interrupted:
    """A database call that reports the first cancellation of it as the driver's own error."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.turned = False

    async def __call__(self, *_args: Any, **_kwargs: Any) -> int:
        self.entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.turned:  # only once, so that a failing test still ends
                raise
            self.turned = True
            raise PendingRollbackError("interrupted in the middle of the operation") from None
        return 0


async def stopped_when_cancelled(task: asyncio.Task[Any], entered: asyncio.Event) -> bool:
    """Whether ``task``, cancelled once it is in the interrupted call, ends as cancelled within 2 s."""
    await asyncio.wait_for(entered.wait(), timeout=30)  # logging the failed timer's traceback is slow
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if task not in done:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return task in done and task.cancelled()


async def test_firing_timers_stops_when_a_cancelled_postpone_surfaces_as_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Putting back a timer that failed to fire was the one database call whose error left the round
    as it came: the driver's error, not a cancellation, and the poller waited it out and went on."""
    await harness.deliver(submitted(at=harness.now))

    async def fire_failing(timer: Timer, uow: WorkflowUnitOfWork, ctx: WorkflowContext) -> None:
        raise ValueError("this dossier's history does not load")

    monkeypatch.setattr(timers, "fire", fire_failing)
    postpone = Interrupted()
    monkeypatch.setattr(harness.uow.timers, "postpone", postpone)
    harness.clock.set(datetime(2024, 6, 4, 17, 0, tzinfo=vietnam_tz()))  # its due-soon timer is due
    task = asyncio.create_task(harness.fire_timers())
    assert await stopped_when_cancelled(task, postpone.entered)


async def test_the_timer_poller_stops_when_its_cancellation_surfaces_as_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poller took a stop that came out of a round as the driver's error for the database being
    away: it backed off and polled again, and the service's stop waited its 10 s for nothing."""
    round_interrupted = Interrupted()

    async def fire_due_timers(uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, limit: int = 100) -> int:
        return await round_interrupted()

    monkeypatch.setattr(poller, "fire_due_timers", fire_due_timers)
    job = poller.timer_poller(harness.uow, harness.ctx, interval=0.01, batch=100)
    task = asyncio.create_task(job())
    assert await stopped_when_cancelled(task, round_interrupted.entered)
