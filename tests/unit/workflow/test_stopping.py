"""The SLA timers stop when cancelled, even when the cancellation surfaces as a database error."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy.exc import PendingRollbackError

from tests.support.cancellation import InterruptedCall, stopped_when_cancelled
from tests.unit.workflow.builders import Harness, submitted
from workcal import vietnam_tz
from workflow.entrypoints import poller
from workflow.service_layer import timers
from workflow.service_layer.context import WorkflowContext
from workflow.service_layer.ports import Timer, UnitOfWorkFactory, WorkflowUnitOfWork

SLOW_TO_ENTER = 30  # s to reach the interrupted call: logging the failed timer's traceback is slow


async def test_firing_timers_stops_when_a_cancelled_postpone_surfaces_as_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Putting back a timer that failed to fire was the one database call whose error left the round
    as it came: the driver's error, not a cancellation, and the poller waited it out and went on."""
    await harness.deliver(submitted(at=harness.now))

    async def fire_failing(timer: Timer, uow: WorkflowUnitOfWork, ctx: WorkflowContext) -> None:
        raise ValueError("this dossier's history does not load")

    monkeypatch.setattr(timers, "fire", fire_failing)
    postpone = InterruptedCall(PendingRollbackError("interrupted in the middle of the operation"))
    monkeypatch.setattr(harness.uow.timers, "postpone", postpone)
    harness.clock.set(datetime(2024, 6, 4, 17, 0, tzinfo=vietnam_tz()))  # its due-soon timer is due
    task = asyncio.create_task(harness.fire_timers())
    assert await stopped_when_cancelled(task, postpone.entered, entering=SLOW_TO_ENTER)


async def test_the_timer_poller_stops_when_its_cancellation_surfaces_as_a_database_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The poller took a stop that came out of a round as the driver's error for the database being
    away: it backed off and polled again, and the service's stop waited its 10 s for nothing."""
    round_interrupted = InterruptedCall(PendingRollbackError("interrupted in the middle of the operation"))

    async def fire_due_timers(uow_factory: UnitOfWorkFactory, ctx: WorkflowContext, *, limit: int = 100) -> int:
        await round_interrupted()
        return 0

    monkeypatch.setattr(poller, "fire_due_timers", fire_due_timers)
    job = poller.timer_poller(harness.uow, harness.ctx, interval=0.01, batch=100)
    task = asyncio.create_task(job())
    assert await stopped_when_cancelled(task, round_interrupted.entered, entering=SLOW_TO_ENTER)
